import Testing
@testable import EventBus

@Suite struct PublishSubscribeTests {
    @Test func publishReturnsTheDeliveredEventsID() {
        let bus = EventBus()
        let received = Recorder<Event>()
        bus.subscribe(.streamStarted) { received.append($0) }
        let id = bus.publish(.streamStarted, data: ["stream_id": "s1", "provider": "anthropic"], source: "test", metadata: ["trace": "t1"])
        #expect(received.count == 1)
        let event = received.values[0]
        #expect(event.id == id)
        #expect(event.type == .streamStarted)
        #expect(event.data["stream_id"] == "s1")
        #expect(event.source == "test")
        #expect(event.metadata == ["trace": "t1"])
        #expect(!event.isLocal)
        #expect(event.origin == nil)
    }

    @Test func handlersRunInSubscriptionOrder() {
        let bus = EventBus()
        let order = Recorder<Int>()
        for index in 0..<20 {
            bus.subscribe(index.isMultiple(of: 2) ? ">" : "agent.*") { _ in order.append(index) }
        }
        bus.publish(.agentStarted)
        #expect(order.values == Array(0..<20))
    }

    @Test func onlyMatchingSubscribersReceive() {
        let bus = EventBus()
        let exact = Recorder<EventType>(), one = Recorder<EventType>(), many = Recorder<EventType>(), all = Recorder<EventType>()
        bus.subscribe(.providerConnected) { exact.append($0.type) }
        bus.subscribe("provider.*") { one.append($0.type) }
        bus.subscribe("provider.>") { many.append($0.type) }
        bus.subscribe(">") { all.append($0.type) }
        bus.publish(.providerConnected)
        bus.publish("provider.pool.resized")
        bus.publish(.agentStarted)
        #expect(exact.values == [.providerConnected])
        #expect(one.values == [.providerConnected])
        #expect(many.values == [.providerConnected, "provider.pool.resized"])
        #expect(all.values == [.providerConnected, "provider.pool.resized", .agentStarted])
    }

    @Test func cancelStopsDeliveryAndIsIdempotent() {
        let bus = EventBus()
        let received = Recorder<EventID>()
        let subscription = bus.subscribe(">") { received.append($0.id) }
        let first = bus.publish(.systemInit)
        #expect(subscription.isActive)
        subscription.cancel()
        subscription.cancel()
        #expect(!subscription.isActive)
        bus.publish(.systemInit)
        #expect(received.values == [first])
        #expect(bus.stats.subscribers == 0)
    }

    @Test func aDiscardedTokenDoesNotCancel() {
        let bus = EventBus()
        let received = Recorder<EventID>()
        func subscribeAndForget() {
            _ = bus.subscribe(">") { received.append($0.id) }
        }
        subscribeAndForget()
        let id = bus.publish(.systemInit)
        #expect(received.values == [id])
    }

    @Test func publishingABuiltEventKeepsItsIDAndTimestamp() {
        let bus = EventBus()
        let received = Recorder<Event>()
        bus.subscribe(">") { received.append($0) }
        let event = Event(type: .agentStopped, data: 7, source: "agent-1")
        #expect(bus.publish(event) == event.id)
        #expect(received.values.first?.id == event.id)
        #expect(received.values.first?.timestamp == event.timestamp)
        #expect(received.values.first?.data == 7)
    }

    @Test func statsCountWhatHappened() {
        let bus = EventBus(historyCapacity: 5)
        bus.subscribe(">") { _ in }
        bus.subscribe(.agentStarted) { _ in throw TestFailure("boom") }
        bus.addMiddleware(name: "drop-workflow") { event, next in
            if event.type != .workflowStarted { next(event) }
        }
        bus.publish(.agentStarted)
        bus.publish(.workflowStarted)
        bus.publish(.systemInit)
        let stats = bus.stats
        #expect(stats.subscribers == 2)
        #expect(stats.middleware == 1)
        // agent.started, system.init and the handler.error report entered the pipeline.
        #expect(stats.published == 3)
        #expect(stats.dropped == 1)
        // ">" saw agent.started, handler.error, system.init; the thrower saw agent.started.
        #expect(stats.delivered == 4)
        #expect(stats.handlerErrors == 1)
        #expect(stats.historyCount == 3)
    }

    @Test func eventDescriptionIsOneReadableLine() {
        let event = Event(type: .streamStarted, data: ["provider": "anthropic"], source: "svc")
        #expect(event.description.hasPrefix("stream.started \(event.id) from svc"))
        #expect(event.description.hasSuffix("{\"provider\":\"anthropic\"}"))
    }
}
