import Synchronization
import Testing
@testable import EventBus

struct StreamStarted: EventPayload, Equatable {
    static let eventType: EventType = .streamStarted
    var streamID: String
    var provider: String
}

/// A payload that counts how often it is decoded, per decoded value: each test decodes values
/// of its own, so tests running at the same time do not count each other's decodes.
struct CountedPayload: EventPayload {
    static let eventType: EventType = "counted.thing"
    private static let decodes = LockedValueBox([Int: Int]())
    var value: Int

    init(value: Int) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        value = try container.decode(Int.self, forKey: .value)
        CountedPayload.decodes.withLockedValue { [value] in $0[value, default: 0] += 1 }
    }

    /// How many times a payload holding `value` has been decoded.
    static func decodeCount(of value: Int) -> Int {
        decodes.withLockedValue { $0[value, default: 0] }
    }
}

/// An encoded payload that counts its decodes.
final class CountedBytes: EncodedPayload {
    let decodes = Atomic<Int>(0)
    func decodeValue() throws -> EventValue {
        decodes.add(1, ordering: .relaxed)
        return ["streamID": "remote", "provider": "wire"]
    }
}

@Suite struct TypedPayloadTests {
    @Test func typedPublishReachesTypedSubscribersAsTheSameValue() {
        let bus = EventBus()
        let received = Recorder<StreamStarted>()
        let ids = Recorder<EventID>()
        bus.subscribe(to: StreamStarted.self) { event in
            received.append(event.data)
            ids.append(event.id)
        }
        let id = bus.publish(StreamStarted(streamID: "s1", provider: "anthropic"))
        #expect(received.values == [StreamStarted(streamID: "s1", provider: "anthropic")])
        #expect(ids.values == [id])
    }

    @Test func untypedHandlersSeeATypedPayloadAsAMap() {
        let bus = EventBus()
        let received = Recorder<EventValue>()
        bus.subscribe(.streamStarted) { received.append($0.data) }
        bus.publish(StreamStarted(streamID: "s1", provider: "anthropic"))
        #expect(received.values == [["streamID": "s1", "provider": "anthropic"]])
    }

    @Test func typedHandlersReceiveAMatchingDynamicPayload() {
        let bus = EventBus()
        let received = Recorder<StreamStarted>()
        bus.subscribe(to: StreamStarted.self) { received.append($0.data) }
        bus.publish(.streamStarted, data: ["streamID": "s2", "provider": "local", "extra": 1])
        #expect(received.values == [StreamStarted(streamID: "s2", provider: "local")])
    }

    @Test func aPayloadThatDoesNotFitSkipsTheTypedHandlerAndIsReported() throws {
        let bus = EventBus()
        let typed = Recorder<StreamStarted>()
        let untyped = Recorder<EventID>()
        let errors = Recorder<Event>()
        let subscription = bus.subscribe(to: StreamStarted.self) { typed.append($0.data) }
        bus.subscribe(.streamStarted) { untyped.append($0.id) }
        bus.subscribe(.handlerError) { errors.append($0) }
        let id = bus.publish(.streamStarted, data: ["streamID": 42])
        #expect(typed.values.isEmpty)
        #expect(untyped.values == [id], "the other handlers still run")
        let report = try #require(errors.values.first)
        #expect(report.isLocal)
        #expect(report.data["event_id"] == .string(id.description))
        #expect(report.data["event_type"] == "stream.started")
        #expect(report.data["subscription"] == .int(Int64(subscription.id)))
        let text = try #require(report.data["error"]?.stringValue)
        #expect(text.contains("does not decode as StreamStarted"))
    }

    @Test func eachConversionRunsOncePerEventAndType() throws {
        let bus = EventBus()
        let values = Recorder<Int>()
        for _ in 0..<5 {
            bus.subscribe(to: CountedPayload.self) { values.append($0.data.value) }
        }
        bus.publish(CountedPayload.eventType, data: ["value": 1007])
        #expect(values.values == [1007, 1007, 1007, 1007, 1007])
        #expect(CountedPayload.decodeCount(of: 1007) == 1)

        let event = try #require(bus.history().last)
        _ = try event.payload(as: CountedPayload.self)
        #expect(CountedPayload.decodeCount(of: 1007) == 1, "cached on the event")
    }

    @Test func aTypedPayloadIsConvertedToAMapOnce() throws {
        let event = Event(StreamStarted(streamID: "s", provider: "p"))
        let first = try event.payloadValue()
        #expect(first == ["streamID": "s", "provider": "p"])
        // The cached value is returned again, also through a copy of the event.
        let copy = event
        #expect(copy.data == first)
        guard case .typed(let payload) = event.payload else {
            Issue.record("payload should stay typed")
            return
        }
        #expect(payload as? StreamStarted == StreamStarted(streamID: "s", provider: "p"))
    }

    @Test func changingDataReplacesTheTypedPayload() throws {
        var event = Event(StreamStarted(streamID: "s", provider: "p"))
        let original = event
        event.data = ["streamID": "t", "provider": "q"]
        #expect(try event.payload(as: StreamStarted.self) == StreamStarted(streamID: "t", provider: "q"))
        #expect(try original.payload(as: StreamStarted.self) == StreamStarted(streamID: "s", provider: "p"))
        #expect(original.id == event.id)
    }

    @Test func encodedPayloadsAreDecodedOnDemandAndOnce() throws {
        let bytes = CountedBytes()
        let event = Event(id: EventID(), type: .streamStarted, payload: .encoded(bytes), timestamp: .now())
        #expect(bytes.decodes.load(ordering: .relaxed) == 0, "nothing decoded before a subscriber asks")
        #expect(event.data["streamID"] == "remote")
        #expect(try event.payload(as: StreamStarted.self).provider == "wire")
        #expect(event.data["provider"] == "wire")
        #expect(bytes.decodes.load(ordering: .relaxed) == 1)
    }

    @Test func aFieldOfAnEncodedPayloadIsDecodedAloneAndNotCached() throws {
        let bytes = CountedBytes()
        let event = Event(id: EventID(), type: .streamStarted, payload: .encoded(bytes), timestamp: .now())
        // The default `decodeValue(forKey:)` decodes the whole payload each time.
        #expect(event.data(forKey: "provider") == "wire")
        #expect(event.data(forKey: "nothing") == nil)
        #expect(bytes.decodes.load(ordering: .relaxed) == 2)
        // Once converted, fields come from the converted payload.
        #expect(event.data["streamID"] == "remote")
        #expect(event.data(forKey: "streamID") == "remote")
        #expect(bytes.decodes.load(ordering: .relaxed) == 3)
    }

    @Test func aPayloadReplacedThroughEveryFormReadsAsTheLastOne() throws {
        let original = Event(id: EventID(), type: .streamStarted, payload: .encoded(CountedBytes()), timestamp: .now())
        var event = original
        event.payload = .typed(StreamStarted(streamID: "typed", provider: "t"))
        #expect(event.data(forKey: "streamID") == "typed")
        #expect(try event.payload(as: StreamStarted.self) == StreamStarted(streamID: "typed", provider: "t"))
        guard case .typed = event.payload else { Issue.record("not typed: \(event.payload)"); return }
        event.data = ["streamID": "dynamic"]
        #expect(event.data(forKey: "streamID") == "dynamic")
        #expect(event.data(forKey: "provider") == nil)
        guard case .value = event.payload else { Issue.record("not dynamic: \(event.payload)"); return }
        let bytes = CountedBytes()
        event.payload = .encoded(bytes)
        #expect(event.data(forKey: "provider") == "wire")
        #expect(bytes.decodes.load(ordering: .relaxed) == 1)
        guard case .encoded = event.payload else { Issue.record("not encoded: \(event.payload)"); return }
        event.payload = .typed(StreamStarted(streamID: "again", provider: "t"))
        #expect(event.data["streamID"] == "again")
        // The event it was copied from kept its own payload.
        #expect(original.data(forKey: "provider") == "wire")
        guard case .encoded = original.payload else { Issue.record("the original changed: \(original.payload)"); return }
    }

    @Test(.timeLimit(.minutes(1))) func typedStreamsDecodePayloads() async throws {
        let bus = EventBus()
        let stream = bus.events(of: StreamStarted.self)
        bus.publish(StreamStarted(streamID: "a", provider: "p"))
        bus.publish(.streamStarted, data: ["streamID": "b", "provider": "p"])
        bus.publish(.streamStarted, data: ["wrong": true])
        bus.publish(StreamStarted(streamID: "c", provider: "p"))
        var ids: [String] = []
        for await event in stream {
            ids.append(event.data.streamID)
            if ids.count == 3 { break }
        }
        #expect(ids == ["a", "b", "c"])
    }
}
