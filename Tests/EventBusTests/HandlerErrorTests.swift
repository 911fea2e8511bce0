import Testing
@testable import EventBus

@Suite struct HandlerErrorTests {
    @Test func aThrowingHandlerDoesNotStopTheOthers() throws {
        let bus = EventBus()
        let received = Recorder<String>()
        let reports = Recorder<Event>()
        bus.subscribe("job.done") { _ in received.append("first") }
        let failing = bus.subscribe("job.done") { _ in throw TestFailure("disk full") }
        bus.subscribe("job.done") { _ in received.append("third") }
        bus.subscribe(.handlerError) { reports.append($0) }
        let id = bus.publish("job.done")
        #expect(received.values == ["first", "third"])
        let report = try #require(reports.values.first)
        #expect(reports.count == 1)
        #expect(report.type == .handlerError)
        #expect(report.isLocal)
        #expect(report.data["event_id"] == .string(id.description))
        #expect(report.data["event_type"] == "job.done")
        #expect(report.data["subscription"] == .int(Int64(failing.id)))
        #expect(report.data["error"] == "disk full")
        #expect(bus.stats.handlerErrors == 1)
    }

    @Test func anErrorInAHandlerErrorHandlerIsLoggedNotRepublished() {
        let bus = EventBus()
        let reports = Recorder<EventID>()
        bus.subscribe(">") { event in
            reports.append(event.id)
            throw TestFailure("throws on everything, reports included")
        }
        bus.publish("x")
        // "x" and its one report reached the handler; the report's error was only logged.
        #expect(reports.count == 2)
        #expect(bus.stats.handlerErrors == 2)
        #expect(bus.history().map(\.type) == ["x", .handlerError])
    }

    @Test func reportsStayOnTheBusWhereTheHandlerFailed() {
        let parent = EventBus()
        let child = parent.scoped("child")
        let parentReports = Recorder<EventID>()
        let childReports = Recorder<EventID>()
        parent.subscribe(.handlerError) { parentReports.append($0.id) }
        child.subscribe(.handlerError) { childReports.append($0.id) }
        child.subscribe("x") { _ in throw TestFailure("child handler") }
        child.publish("x")
        #expect(childReports.count == 1)
        #expect(parentReports.count == 0, "handler.error is local")
    }
}
