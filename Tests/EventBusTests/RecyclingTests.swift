import Testing
@testable import EventBus

/// A publishing thread keeps the object of an event that fell out of history, when nothing else
/// holds it, for its next new event. These tests check that no one can tell: an event someone
/// still holds is never reused, and a reused object carries nothing of its earlier event.
@Suite struct RecyclingTests {
    /// A typed payload that holds an object, so that its release can be observed.
    struct Holding: EventPayload {
        static let eventType: EventType = "recycling.holding"
        let token: Token

        init(_ token: Token) { self.token = token }
        init(from decoder: any Decoder) throws { token = Token(try String(from: decoder)) }
        func encode(to encoder: any Encoder) throws { try token.name.encode(to: encoder) }
    }

    struct Numbered: EventPayload, Equatable {
        static let eventType: EventType = "recycling.numbered"
        let n: Int
    }

    @Test func anEventSomeoneStillHoldsIsNeverReused() {
        let bus = EventBus(historyCapacity: 1)
        let kept = Recorder<Event>()
        bus.subscribe("recycling.>") { kept.append($0) }
        var ids: [EventID] = []
        for n in 0..<200 {
            if n % 2 == 0 {
                ids.append(bus.publish("recycling.untyped", data: ["n": .int(Int64(n))], source: "s\(n)"))
            } else {
                ids.append(bus.publish(Numbered(n: n), source: "s\(n)"))
            }
        }
        let events = kept.values
        #expect(events.map(\.id) == ids)
        #expect(Set(ids).count == ids.count)
        for (n, event) in events.enumerated() {
            #expect(event.source == "s\(n)")
            if n % 2 == 0 {
                #expect(event.type == "recycling.untyped")
                #expect(event.data == ["n": .int(Int64(n))])
            } else {
                #expect(event.type == Numbered.eventType)
                #expect((try? event.payload(as: Numbered.self)) == Numbered(n: n))
                #expect(event.data == ["n": .int(Int64(n))])
            }
        }
    }

    @Test func aReusedObjectCarriesNothingOfItsEarlierEvent() throws {
        let bus = EventBus(historyCapacity: 1)
        let earlier: ObjectIdentifier
        do {
            var rich = Event(Numbered(n: 7), source: "rich", metadata: ["tenant": "acme"])
            rich.scope = ["outer", "inner"]
            rich.origin = EventOrigin(node: "node-a", incarnation: 1, sequence: 5)
            // Fill both conversion caches before publishing.
            #expect(rich.data == ["n": 7])
            #expect(try rich.payload(as: [String: Int].self) == ["n": 7])
            earlier = ObjectIdentifier(rich.storage)
            bus.publish(rich)
        }
        // The next publish evicts the rich event from history; nothing else holds it, so its
        // object becomes this thread's spare, and the publish after that is made in it.
        bus.publish("recycling.plain", data: ["n": 1])
        let id = bus.publish("recycling.plain", data: ["n": 2])
        let history = bus.history()
        #expect(history.count == 1)
        let reused = try #require(history.first)
        if ThreadDispatch.recyclesEvents {
            #expect(ObjectIdentifier(reused.storage) == earlier, "the evicted event's object was reused")
        }
        #expect(reused.id == id)
        #expect(reused.type == "recycling.plain")
        #expect(reused.source == "")
        #expect(reused.metadata.isEmpty)
        #expect(reused.scope.isEmpty)
        #expect(reused.origin == nil)
        #expect(!reused.isLocal)
        #expect(reused.data == ["n": 2])
        #expect(try reused.payload(as: [String: Int].self) == ["n": 2])
        #expect(throws: (any Error).self) { try reused.payload(as: Holding.self) }
    }

    @Test func evictionReleasesTheEventsPayload() {
        let bus = EventBus(historyCapacity: 1)
        weak var weakToken: Token?
        do {
            let token = Token("held")
            weakToken = token
            bus.publish(Holding(token))
        }
        #expect(weakToken != nil, "history holds the event and its payload")
        bus.publish("recycling.plain", data: ["n": 1])
        #expect(weakToken == nil, "the evicted event's payload is released, recycled object or not")
    }
}
