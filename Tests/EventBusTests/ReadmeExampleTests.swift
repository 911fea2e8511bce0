import Testing
@testable import EventBus

/// The README's "30 seconds of code", kept compiling and checked.
@Suite struct ReadmeExampleTests {
    struct ReadmeStreamStarted: EventPayload {
        static let eventType: EventType = .streamStarted
        var streamID: String
        var provider: String
    }

    @Test func theReadmeExampleWorks() {
        let lines = Recorder<String>()
        let bus = EventBus()
        let typed = bus.subscribe(to: ReadmeStreamStarted.self) { event in
            lines.append("stream \(event.data.streamID) on \(event.data.provider)")
        }
        let untyped = bus.subscribe("provider.*") { event in
            lines.append("\(event.type) \(event.data["provider"]?.stringValue ?? "?")")
        }
        let id = bus.publish(ReadmeStreamStarted(streamID: "s1", provider: "anthropic"))
        bus.publish(.providerConnected, data: ["provider": "anthropic", "latency_ms": 12])
        bus.publish(.streamStarted, data: ["streamID": "s2", "provider": "local"])
        typed.cancel()
        untyped.cancel()
        #expect(bus.history(matching: "stream.*").count == 2)
        #expect(bus.history().first?.id == id)
        #expect(lines.values == ["stream s1 on anthropic", "provider.connected anthropic", "stream s2 on local"])
    }
}
