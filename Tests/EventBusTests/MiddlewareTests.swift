import Testing
@testable import EventBus

struct AddMetadata: EventMiddleware {
    let key: String
    let value: String
    func handle(_ event: Event, next: (Event) -> Void) throws {
        var event = event
        event.metadata[key, default: ""] += value
        next(event)
    }
}

struct AlwaysThrows: EventMiddleware {
    func handle(_ event: Event, next: (Event) -> Void) throws {
        throw TestFailure("middleware refuses \(event.type)")
    }
}

@Suite struct MiddlewareTests {
    @Test func middlewareRunsInOrderAndCanTransform() {
        let bus = EventBus()
        let received = Recorder<Event>()
        bus.addMiddleware(AddMetadata(key: "path", value: "a"))
        bus.addMiddleware(AddMetadata(key: "path", value: "b"))
        bus.addMiddleware(name: "rename") { event, next in
            var event = event
            if event.type == "legacy.name" { event.type = "modern.name" }
            event.data = ["wrapped": event.data]
            next(event)
        }
        bus.subscribe(">") { received.append($0) }
        let id = bus.publish("legacy.name", data: 1)
        let event = received.values[0]
        #expect(event.id == id, "a transformed event keeps its id")
        #expect(event.type == "modern.name")
        #expect(event.metadata["path"] == "ab")
        #expect(event.data == ["wrapped": 1])
        #expect(bus.history().map(\.type) == ["modern.name"], "history records the transformed event")
    }

    @Test func middlewareCanDrop() {
        let bus = EventBus()
        let received = Recorder<EventType>()
        bus.addMiddleware(name: "no-debug") { event, next in
            if !event.type.name.hasPrefix("debug.") { next(event) }
        }
        bus.subscribe(">") { received.append($0.type) }
        bus.publish("debug.trace")
        bus.publish("app.ready")
        #expect(received.values == ["app.ready"])
        #expect(bus.history().map(\.type) == ["app.ready"])
        #expect(bus.stats.dropped == 1)
    }

    @Test func onlyTheFirstCallOfNextCounts() {
        let bus = EventBus()
        let received = Recorder<Int64>()
        bus.addMiddleware(name: "twice") { event, next in
            var first = event
            first.data = 1
            next(first)
            var second = event
            second.data = 2
            next(second)
        }
        bus.subscribe(">") { received.append($0.data.intValue!) }
        bus.publish("x")
        #expect(received.values == [1])
    }

    @Test func removingMiddlewareTakesItOut() {
        let bus = EventBus()
        let received = Recorder<String?>()
        let registration = bus.addMiddleware(AddMetadata(key: "m", value: "1"))
        bus.subscribe(">") { received.append($0.metadata["m"]) }
        bus.publish("x")
        registration.remove()
        registration.remove()
        bus.publish("x")
        #expect(received.values == ["1", nil])
        #expect(bus.stats.middleware == 0)
    }

    @Test func throwingMiddlewareDropsTheEventAndReportsIt() throws {
        let bus = EventBus()
        let received = Recorder<EventType>()
        let reports = Recorder<Event>()
        let registration = bus.addMiddleware(name: "picky") { event, next in
            if event.type == "bad.event" { throw TestFailure("no bad events") }
            next(event)
        }
        bus.subscribe("bad.event") { received.append($0.type) }
        bus.subscribe(.handlerError) { reports.append($0) }
        let id = bus.publish("bad.event")
        #expect(received.values.isEmpty)
        let report = try #require(reports.values.first)
        #expect(report.data["middleware"] == "picky")
        #expect(report.data["event_id"] == .string(id.description))
        #expect(report.data["error"] == "no bad events")
        #expect(bus.stats.dropped == 1)
        registration.remove()
    }

    @Test func middlewareThatThrowsOnEverythingCannotLoop() {
        let bus = EventBus()
        let reports = Recorder<Event>()
        bus.addMiddleware(AlwaysThrows())
        bus.subscribe(">") { reports.append($0) }
        bus.publish("x")
        bus.publish("y")
        // Each event is dropped; each error report is itself dropped (and only logged).
        #expect(reports.values.isEmpty)
        #expect(bus.stats.handlerErrors == 4)
        #expect(bus.stats.dropped == 4)
    }

    @Test func middlewareSeesEventsFromChildrenAndRemoteOnes() {
        let parent = EventBus()
        let child = parent.scoped("child")
        let seen = Recorder<EventType>()
        parent.addMiddleware(name: "observe") { event, next in
            seen.append(event.type)
            next(event)
        }
        child.publish("from.child")
        parent.deliverRemote(Event(type: "from.remote"))
        #expect(seen.values == ["from.child", "from.remote"])
    }
}
