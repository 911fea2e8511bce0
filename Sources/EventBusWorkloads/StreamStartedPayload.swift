import EventBus

/// The typed form of the workloads' small payload, `["stream_id": "s1", "provider": "anthropic"]`.
///
/// Its coding keys match the map's keys, so the bus converts between the two forms.
struct StreamStartedPayload: EventPayload, Equatable {
    static let eventType: EventType = .streamStarted

    var streamID: String
    var provider: String

    enum CodingKeys: String, CodingKey {
        case streamID = "stream_id"
        case provider
    }

    /// The payload every typed workload publishes.
    static let sample = StreamStartedPayload(streamID: "s1", provider: "anthropic")

    /// The untyped payload every untyped workload publishes (built once, outside any loop).
    static let sampleValue: EventValue = ["stream_id": "s1", "provider": "anthropic"]
}
