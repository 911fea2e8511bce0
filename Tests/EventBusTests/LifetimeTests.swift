import Testing
@testable import EventBus

@Suite struct LifetimeTests {
    @Test func cancelReleasesWhatTheHandlerCaptured() {
        let bus = EventBus()
        weak var weakCaptured: Token?
        let subscription: Subscription
        do {
            let captured = Token("captured")
            weakCaptured = captured
            subscription = bus.subscribe(">") { _ in _ = captured.name }
            bus.publish(.systemInit)
        }
        #expect(weakCaptured != nil, "the live subscription keeps its handler")
        subscription.cancel()
        #expect(weakCaptured == nil)
    }

    @Test func anOwnersDeathEndsItsSubscription() {
        let bus = EventBus()
        let received = Recorder<String>()
        weak var weakOwner: Token?
        weak var weakCaptured: Token?
        let subscription: Subscription
        do {
            let owner = Token("owner")
            let captured = Token("captured")
            weakOwner = owner
            weakCaptured = captured
            subscription = bus.subscribe(">", owner: owner) { owner, _ in
                received.append(owner.name + "/" + captured.name)
            }
            bus.publish(.systemInit)
            #expect(received.values == ["owner/captured"])
        }
        #expect(weakOwner == nil, "the bus holds the owner weakly")
        bus.publish(.systemInit)
        #expect(received.count == 1)
        #expect(!subscription.isActive)
        #expect(weakCaptured == nil, "the handler is dropped once the owner is gone")
        #expect(bus.stats.subscribers == 0)
    }

    @Test func anOwnersDeathIsNoticedAtTheNextSubscribe() {
        let bus = EventBus()
        weak var weakCaptured: Token?
        do {
            let owner = Token("owner")
            let captured = Token("captured")
            weakCaptured = captured
            bus.subscribe("never.published", owner: owner) { _, _ in _ = captured }
        }
        #expect(weakCaptured != nil)
        bus.subscribe("other") { _ in }.cancel()
        #expect(weakCaptured == nil)
    }

    @Test func typedOwnerSubscriptionsEndWithTheOwner() {
        let bus = EventBus()
        let received = Recorder<String>()
        do {
            let owner = Token("owner")
            bus.subscribe(to: StreamStarted.self, owner: owner) { owner, event in
                received.append(owner.name + ":" + event.data.streamID)
            }
            bus.publish(StreamStarted(streamID: "s1", provider: "p"))
        }
        bus.publish(StreamStarted(streamID: "s2", provider: "p"))
        #expect(received.values == ["owner:s1"])
    }

    @Test func theBusDoesNotKeepItselfAlive() {
        weak var weakBus: EventBus?
        let subscription: Subscription
        do {
            let bus = EventBus()
            weakBus = bus
            subscription = bus.subscribe(">") { _ in }
            bus.addMiddleware(name: "noop") { event, next in next(event) }
            bus.publish(.systemInit)
        }
        #expect(weakBus == nil)
        #expect(!subscription.isActive)
        subscription.cancel()
    }

    @Test func handlersCapturingTheBusWeaklyDoNotLeak() {
        weak var weakBus: EventBus?
        do {
            let bus = EventBus()
            weakBus = bus
            bus.subscribe("ping") { [weak bus] _ in bus?.publish("pong") }
            bus.publish("ping")
            #expect(bus.history().map(\.type) == ["ping", "pong"])
        }
        #expect(weakBus == nil)
    }
}
