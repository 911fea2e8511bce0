import Testing
@testable import EventBus

/// Every test here awaits a stream; the time limit is the deadline on those waits.
@Suite(.timeLimit(.minutes(1))) struct EventStreamTests {
    @Test func aStreamYieldsMatchingEventsInOrder() async {
        let bus = EventBus()
        let stream = bus.events(matching: "job.*")
        let ids = (0..<5).map { bus.publish("job.step", data: .int(Int64($0))) }
        bus.publish("other.thing")
        var received: [EventID] = []
        for await event in stream {
            received.append(event.id)
            if received.count == ids.count { break }
        }
        #expect(received == ids)
    }

    @Test func eachCallMakesItsOwnStream() async {
        let bus = EventBus()
        let first = bus.events(), second = bus.events()
        let id = bus.publish("x")
        var a = first.makeAsyncIterator(), b = second.makeAsyncIterator()
        #expect(await a.next()?.id == id)
        #expect(await b.next()?.id == id)
    }

    @Test func aFullBufferDropsAndCounts() async {
        let bus = EventBus()
        let newest = bus.events(bufferSize: 3, whenFull: .dropNewest)
        let oldest = bus.events(bufferSize: 3, whenFull: .dropOldest)
        let ids = (0..<10).map { bus.publish("x", data: .int(Int64($0))) }
        #expect(newest.droppedCount == 7)
        #expect(oldest.droppedCount == 7)
        var kept: [EventID] = []
        for await event in newest {
            kept.append(event.id)
            if kept.count == 3 { break }
        }
        #expect(kept == Array(ids.prefix(3)))
        kept = []
        for await event in oldest {
            kept.append(event.id)
            if kept.count == 3 { break }
        }
        #expect(kept == Array(ids.suffix(3)))
    }

    @Test func aStreamEndsWhenTheConsumerStops() async {
        let bus = EventBus()
        let consumer = Task {
            for await _ in bus.events() {}
        }
        #expect(await eventually { bus.stats.subscribers == 1 })
        consumer.cancel()
        await consumer.value
        #expect(await eventually { bus.stats.subscribers == 0 }, "cancelling the consumer cancels the subscription")
    }

    @Test func aStreamEndsWhenTheBusGoesAway() async {
        var bus: EventBus? = EventBus()
        let stream = bus!.events()
        bus!.publish("last")
        bus = nil
        var received = 0
        for await _ in stream { received += 1 }
        #expect(received == 1, "buffered events are still delivered, then the stream finishes")
        #expect(!stream.subscription.isActive)
    }
}
