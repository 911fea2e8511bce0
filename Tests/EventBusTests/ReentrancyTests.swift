import Testing
@testable import EventBus

@Suite struct ReentrancyTests {
    @Test func eventsPublishedInHandlersWaitForTheCurrentEvent() {
        let bus = EventBus()
        let log = Recorder<String>()
        bus.subscribe("step.one") { _ in
            log.append("A1")
            bus.publish("step.two")
            log.append("A1 after publish")
        }
        bus.subscribe("step.*") { event in log.append("B:\(event.type)") }
        bus.subscribe("step.two") { _ in log.append("C2") }
        bus.publish("step.one")
        #expect(log.values == ["A1", "A1 after publish", "B:step.one", "B:step.two", "C2"])
    }

    @Test func everySubscriberSeesOneOrder() {
        let bus = EventBus()
        let first = Recorder<Int64>(), second = Recorder<Int64>()
        bus.subscribe("count") { event in
            first.append(event.data.intValue!)
            if let n = event.data.intValue, n < 5 {
                bus.publish("count", data: .int(n * 10 + 1))
                bus.publish("count", data: .int(n * 10 + 2))
            }
        }
        bus.subscribe("count") { event in second.append(event.data.intValue!) }
        bus.publish("count", data: 1)
        #expect(first.values == second.values)
        #expect(first.values == [1, 11, 12])
    }

    @Test func deepRecursionDoesNotGrowTheStack() {
        let bus = EventBus(historyCapacity: 0)
        let count = Recorder<Int>()
        bus.subscribe("chain") { event in
            let n = Int(event.data.intValue!)
            count.append(n)
            if n < 100_000 { bus.publish("chain", data: .int(Int64(n + 1))) }
        }
        bus.publish("chain", data: 0)
        #expect(count.count == 100_001)
    }

    @Test func subscribingInAHandlerDoesNotReceiveEventsPublishedBefore() {
        let bus = EventBus()
        let late = Recorder<EventType>()
        bus.subscribe("start") { _ in
            bus.publish("before")
            bus.subscribe(">") { late.append($0.type) }
            bus.publish("after")
        }
        bus.publish("start")
        #expect(late.values == ["after"])
    }

    @Test func cancellingInAHandlerStopsLaterDeliveries() {
        let bus = EventBus()
        let received = Recorder<EventType>()
        let target = Recorder<Subscription>()
        bus.subscribe("first") { _ in
            target.values.first?.cancel()
        }
        let subscription = bus.subscribe(">") { received.append($0.type) }
        target.append(subscription)
        bus.publish("first")
        bus.publish("second")
        #expect(received.values.isEmpty, "cancelled before its turn for the first event")
    }

    @Test func aHandlerCancellingItselfStillFinishes() {
        let bus = EventBus()
        let received = Recorder<EventType>()
        let holder = Recorder<Subscription>()
        holder.append(bus.subscribe(">") { event in
            received.append(event.type)
            holder.values.first?.cancel()
            bus.publish("during")
        })
        bus.publish("first")
        bus.publish("second")
        #expect(received.values == ["first"])
    }

    @Test func publishingToAnotherBusFromAHandlerIsQueuedToo() {
        let a = EventBus(), b = EventBus()
        let log = Recorder<String>()
        a.subscribe("x") { _ in
            b.publish("y")
            log.append("a handler done")
        }
        b.subscribe("y") { _ in log.append("b got y") }
        a.publish("x")
        #expect(log.values == ["a handler done", "b got y"])
    }
}
