import Testing
@testable import EventBus

@Suite struct HistoryTests {
    @Test func historyIsBoundedAndKeepsTheNewest() {
        let bus = EventBus(historyCapacity: 10)
        let ids = (0..<25).map { bus.publish("tick", data: .int(Int64($0))) }
        let history = bus.history()
        #expect(history.count == 10)
        #expect(history.map(\.id) == Array(ids.suffix(10)))
        #expect(bus.historyCapacity == 10)
        #expect(bus.stats.historyCount == 10)
    }

    @Test func theDefaultCapacityIs1000() {
        let bus = EventBus()
        for _ in 0..<1_500 { bus.publish("tick") }
        #expect(bus.history().count == 1_000)
    }

    @Test func capacityZeroDisablesHistory() {
        let bus = EventBus(historyCapacity: 0)
        bus.publish("tick")
        #expect(bus.history().isEmpty)
    }

    @Test func queriesFilterByPatternOrderLimitTimeAndPosition() {
        let bus = EventBus()
        let a1 = bus.publish("provider.created")
        let b1 = bus.publish("agent.started")
        let a2 = bus.publish("provider.connected")
        let c1 = bus.publish("provider.pool.resized")
        let b2 = bus.publish("agent.stopped")

        #expect(bus.history().map(\.id) == [a1, b1, a2, c1, b2])
        #expect(bus.history(matching: "provider.connected").map(\.id) == [a2])
        #expect(bus.history(matching: "provider.*").map(\.id) == [a1, a2])
        #expect(bus.history(matching: "provider.>").map(\.id) == [a1, a2, c1])
        #expect(bus.history(order: .newestFirst).map(\.id) == [b2, c1, a2, b1, a1])
        #expect(bus.history(matching: "agent.*", order: .newestFirst, limit: 1).map(\.id) == [b2])
        #expect(bus.history(limit: 2).map(\.id) == [a1, b1])
        #expect(bus.history(after: b1).map(\.id) == [a2, c1, b2])
        #expect(bus.history(matching: "agent.*", after: a1).map(\.id) == [b1, b2])
        #expect(bus.history(order: .newestFirst, after: a2).map(\.id) == [b2, c1])
        #expect(bus.history(after: EventID()).map(\.id) == [a1, b1, a2, c1, b2], "unknown reference: no filter")

        let all = bus.history()
        #expect(bus.history(since: all[2].timestamp).map(\.id) == [a2, c1, b2].filter { id in
            all.first { $0.id == id }!.timestamp >= all[2].timestamp
        })
        #expect(bus.history(since: Timestamp(nanosecondsSinceEpoch: .max)).isEmpty)
    }

    @Test func clearHistoryForgetsEverything() {
        let bus = EventBus()
        bus.publish("x")
        bus.clearHistory()
        #expect(bus.history().isEmpty)
        bus.publish("y")
        #expect(bus.history().map(\.type) == ["y"])
    }

    @Test func remoteEventsAreRecordedUnchanged() {
        let bus = EventBus()
        let origin = EventOrigin(node: "node-b", incarnation: 42, sequence: 7, hops: 1)
        let remote = Event(
            id: EventID(), type: "agent.started", payload: .value(["a": 1]),
            timestamp: Timestamp(nanosecondsSinceEpoch: 123), source: "b", scope: ["node-b"], origin: origin)
        bus.deliverRemote(remote)
        let recorded = bus.history()
        #expect(recorded.count == 1)
        #expect(recorded[0].id == remote.id)
        #expect(recorded[0].timestamp.nanosecondsSinceEpoch == 123)
        #expect(recorded[0].origin == origin)
        #expect(recorded[0].scope == ["node-b"])
    }
}
