import EventBus
import EventWire
import Foundation

// The wire workloads: one encode + decode round trip of a typical mesh event per iteration,
// through EventWire (untyped and typed payload) and, as the baseline, through Foundation's
// JSONEncoder/JSONDecoder with the same field names. Every iteration builds a fresh event (a
// cached payload conversion from an earlier iteration must not be reused) and, after decoding,
// reads every field of the result, the whole payload included.

extension BusWorkload {
    /// Encode + decode an event with an untyped (``EventValue`` map) payload; read every field
    /// of the decoded event and walk its payload.
    public static let wireRoundTripUntyped = BusWorkload(
        name: "wire_roundtrip_untyped",
        summary: "EventWire encode + decode of a typical event (5-field ~200-byte map payload, 2 metadata entries), reading every field"
    ) { name in
        let codec = EventCodec()
        let sample = WireSample.event(payload: .value(StreamCompletedPayload.sampleValue))
        let bytes = (try? codec.encode(sample))?.count ?? 0
        return PreparedWorkload(name: name, handlersPerEvent: 0, bytesPerEvent: bytes) { iterations in
            for _ in 0..<iterations {
                let event = WireSample.event(payload: .value(StreamCompletedPayload.sampleValue))
                guard let frame = try? codec.encode(event), let decoded = try? codec.decode(frame) else {
                    preconditionFailure("wire round trip failed")
                }
                WireSample.readEnvelope(of: decoded)
                WireSample.walk(decoded.data)
            }
        } verify: { () throws(WorkloadVerificationError) in
            try WireSample.verifyRoundTrip(name: name, codec: codec, event: sample) { decoded in
                decoded.data == StreamCompletedPayload.sampleValue
            }
        }
    }

    /// Encode + decode an event with a typed (`Codable`) payload; read every field of the
    /// decoded event and decode its payload into the struct.
    public static let wireRoundTripTyped = BusWorkload(
        name: "wire_roundtrip_typed",
        summary: "EventWire encode + decode of the same event with a typed Codable payload, decoding it into the struct"
    ) { name in
        let codec = EventCodec()
        let sample = WireSample.event(payload: .typed(StreamCompletedPayload.sample))
        let bytes = (try? codec.encode(sample))?.count ?? 0
        return PreparedWorkload(name: name, handlersPerEvent: 0, bytesPerEvent: bytes) { iterations in
            for _ in 0..<iterations {
                let event = WireSample.event(payload: .typed(StreamCompletedPayload.sample))
                guard let frame = try? codec.encode(event), let decoded = try? codec.decode(frame),
                    let payload = try? decoded.payload(as: StreamCompletedPayload.self)
                else {
                    preconditionFailure("wire round trip failed")
                }
                WireSample.readEnvelope(of: decoded)
                payload.read()
            }
        } verify: { () throws(WorkloadVerificationError) in
            try WireSample.verifyRoundTrip(name: name, codec: codec, event: sample) { decoded in
                (try? decoded.payload(as: StreamCompletedPayload.self)) == StreamCompletedPayload.sample
            }
        }
    }

    /// The baseline for the wire workloads: the same event through Foundation's `JSONEncoder`
    /// and `JSONDecoder` (compact output, the envelope's field names, the id as UUID text).
    public static let jsonRoundTripFoundation = BusWorkload(
        name: "json_roundtrip_foundation",
        summary: "Foundation JSONEncoder + JSONDecoder round trip of the same event (compact, same field names)"
    ) { name in
        let encoder = JSONEncoder()
        let decoder = JSONDecoder()
        let sample = JSONEnvelope(WireSample.event(payload: .typed(StreamCompletedPayload.sample)))
        let bytes = (try? encoder.encode(sample))?.count ?? 0
        return PreparedWorkload(name: name, handlersPerEvent: 0, bytesPerEvent: bytes) { iterations in
            for _ in 0..<iterations {
                let envelope = JSONEnvelope(WireSample.event(payload: .typed(StreamCompletedPayload.sample)))
                guard let json = try? encoder.encode(envelope),
                    let decoded = try? decoder.decode(JSONEnvelope.self, from: json)
                else {
                    preconditionFailure("JSON round trip failed")
                }
                decoded.read()
            }
        } verify: { () throws(WorkloadVerificationError) in
            do {
                let decoded = try decoder.decode(JSONEnvelope.self, from: try encoder.encode(sample))
                guard decoded == sample else {
                    throw WorkloadVerificationError(workload: name, message: "the JSON round trip changed the event")
                }
            } catch let error as WorkloadVerificationError {
                throw error
            } catch {
                throw WorkloadVerificationError(workload: name, message: "the JSON round trip failed: \(error)")
            }
        }
    }
}

/// A typical payload: five fields, about 200 bytes encoded.
struct StreamCompletedPayload: EventPayload, Equatable {
    static let eventType: EventType = .streamCompleted

    var streamID: String
    var provider: String
    var model: String
    var summary: String
    var outputTokens: Int

    enum CodingKeys: String, CodingKey {
        case streamID = "stream_id"
        case provider
        case model
        case summary
        case outputTokens = "output_tokens"
    }

    static let sample = StreamCompletedPayload(
        streamID: "0199a6f2-5c1e-7b3a-9d4f-2e8c1a7b6d30",
        provider: "anthropic",
        model: "claude-sonnet-4-5-20250929",
        summary: "Quarterly revenue grew 12% on strong subscription renewals; churn fell to 2.1 percent.",
        outputTokens: 1843)

    static let sampleValue: EventValue = [
        "stream_id": .string(sample.streamID),
        "provider": .string(sample.provider),
        "model": .string(sample.model),
        "summary": .string(sample.summary),
        "output_tokens": .int(Int64(sample.outputTokens)),
    ]

    /// Reads every field into the black hole.
    func read() {
        blackHole(streamID)
        blackHole(provider)
        blackHole(model)
        blackHole(summary)
        blackHole(outputTokens)
    }
}

/// The event the wire workloads send, and the reads they make of a decoded event.
enum WireSample {
    static let id = EventID(bytes: [0x01, 0x99, 0xa6, 0xf2, 0x5c, 0x1e, 0x7b, 0x3a, 0x9d, 0x4f, 0x2e, 0x8c, 0x1a, 0x7b, 0x6d, 0x30])!
    static let metadata = [
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "tenant": "acme-corp",
    ]
    static let origin = EventOrigin(node: "node-a7", incarnation: 0x5eed_1234_abcd_0042, sequence: 1042)

    /// A fresh event (new storage, no cached conversion) with the sample fields and `payload`.
    static func event(payload: Event.Payload) -> Event {
        Event(
            id: id, type: .streamCompleted, payload: payload,
            timestamp: Timestamp(nanosecondsSinceEpoch: 1_764_000_000_123_456_789),
            source: "provider-manager", metadata: metadata, origin: origin)
    }

    /// Reads every envelope field of `event` (everything but the payload).
    static func readEnvelope(of event: Event) {
        blackHole(event.id)
        blackHole(event.type)
        blackHole(event.timestamp)
        blackHole(event.source)
        for (key, value) in event.metadata {
            blackHole(key)
            blackHole(value)
        }
        blackHole(event.scope)
        blackHole(event.origin)
    }

    /// Reads every value of a dynamic payload.
    static func walk(_ value: EventValue) {
        switch value {
        case .map(let entries):
            for (key, entry) in entries {
                blackHole(key)
                walk(entry)
            }
        case .array(let elements):
            for element in elements { walk(element) }
        default:
            blackHole(value)
        }
    }

    /// Checks that `event` survives a round trip through `codec`, envelope and payload.
    static func verifyRoundTrip(
        name: String, codec: EventCodec, event: Event, payloadMatches: (Event) -> Bool
    ) throws(WorkloadVerificationError) {
        let decoded: Event
        do {
            decoded = try codec.decode(try codec.encode(event), frameType: event.type.name)
        } catch {
            throw WorkloadVerificationError(workload: name, message: "the round trip failed: \(error)")
        }
        guard decoded.id == event.id, decoded.type == event.type, decoded.timestamp == event.timestamp,
            decoded.source == event.source, decoded.metadata == event.metadata, decoded.origin == event.origin
        else {
            throw WorkloadVerificationError(workload: name, message: "the round trip changed the envelope")
        }
        guard payloadMatches(decoded) else {
            throw WorkloadVerificationError(workload: name, message: "the round trip changed the payload")
        }
    }
}

/// The event as Foundation's JSON coder sees it: the EventWire envelope's field names, the id
/// as UUID text, the payload as the typed struct.
struct JSONEnvelope: Codable, Equatable {
    var v: Int
    var id: String
    var t: String
    var ts: Int64
    var src: String
    var md: [String: String]
    var on: String
    var oi: UInt64
    var seq: UInt64?
    var p: StreamCompletedPayload

    init(_ event: Event) {
        v = 1
        id = event.id.description
        t = event.type.name
        ts = event.timestamp.nanosecondsSinceEpoch
        src = event.source
        md = event.metadata
        on = event.origin?.node ?? ""
        oi = event.origin?.incarnation ?? 0
        seq = event.origin?.sequence
        p = (try? event.payload(as: StreamCompletedPayload.self)) ?? StreamCompletedPayload.sample
    }

    /// Reads every field into the black hole.
    func read() {
        blackHole(v)
        blackHole(EventID(id))
        blackHole(t)
        blackHole(ts)
        blackHole(src)
        for (key, value) in md {
            blackHole(key)
            blackHole(value)
        }
        blackHole(on)
        blackHole(oi)
        blackHole(seq)
        p.read()
    }
}
