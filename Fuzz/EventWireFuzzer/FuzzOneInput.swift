import EventBus
import EventWire

/// A typed payload the fuzzer tries to build from every decoded event.
struct FuzzPayload: EventPayload {
    static let eventType: EventType = "fuzz.payload"
    var name: String
    var count: Int
    var ratio: Double?
    var tags: [String]?
    var nested: [String: Int]?
}

/// The MessagePack bytes of a payload's `EventValue` form, to compare payloads (a NaN is never
/// == itself, its bytes are).
func encodedForm(_ payload: FuzzPayload) -> [UInt8]? {
    guard let value = try? EventValueEncoder().encode(payload) else { return nil }
    var writer = MessagePackWriter()
    writer.write(value)
    return writer.bytes
}

/// The origin node and scope a bridge would remember, carried from input to input (libFuzzer
/// calls the entry point on one thread), so decoding with them meets both shared and new values.
nonisolated(unsafe) var recentFields = EventCodec.RecentFields()

/// libFuzzer's entry point: decode, materialise the payload (dynamic and typed), and check that
/// decode(encode(decode(x))) == decode(x), and that decoding as a bridge does (sharing the
/// fields of the inputs before, twice, so the second always shares) gives the same event. Any
/// trap, sanitizer report or failed check is a crash.
///
/// The payload stays encoded after decoding (it was validated with the frame), so this also
/// checks that a validated payload always decodes to an `EventValue`, and that decoding the
/// typed payload straight from the bytes agrees with decoding it from that `EventValue`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: start, count: count))
    let codec = EventCodec()
    guard let event = try? codec.decode(bytes) else { return 0 }
    for _ in 0..<2 {
        let shared: Event
        do {
            shared = try codec.decode(bytes, expecting: event.type, reusing: &recentFields)
        } catch {
            fatalError("an event decodes, but not with the recent fields: \(error)")
        }
        guard shared.id == event.id, shared.timestamp == event.timestamp, shared.source == event.source,
            shared.metadata == event.metadata, shared.scope == event.scope, shared.origin == event.origin
        else {
            fatalError("decoding with the recent fields differs: \(event) vs \(shared)")
        }
    }
    let value: EventValue
    do {
        value = try event.payloadValue()
    } catch {
        fatalError("a validated payload does not decode: \(error)")
    }
    _ = event.data.description
    // Fields read alone from a payload still encoded are what the whole value holds (compared
    // as text: a NaN is never == itself).
    guard let fresh = try? codec.decode(bytes) else { fatalError("a frame decodes once but not twice") }
    var keys = ["", "K", "\u{212A}", "a", "seven77", "eight888"]
    if case .map(let map) = value { keys += map.keys }
    for key in keys where String(describing: fresh.data(forKey: key)) != String(describing: value[key]) {
        fatalError("field \(key.debugDescription) reads \(String(describing: fresh.data(forKey: key))) alone, \(String(describing: value[key])) in the whole payload")
    }
    let fromBytes = try? event.payload(as: FuzzPayload.self)
    let fromValue = try? EventValueDecoder().decode(FuzzPayload.self, from: value)
    guard (fromBytes == nil) == (fromValue == nil), fromBytes.flatMap(encodedForm) == fromValue.flatMap(encodedForm) else {
        fatalError("the typed payload decodes differently from bytes (\(String(describing: fromBytes))) and from its value (\(String(describing: fromValue)))")
    }
    let encoded: [UInt8]
    do {
        encoded = try codec.encode(event)
    } catch {
        fatalError("a decoded event does not re-encode: \(error)")
    }
    let again: Event
    do {
        again = try codec.decode(encoded, frameType: event.type.name)
    } catch {
        fatalError("a re-encoded event does not decode: \(error)")
    }
    // Payloads are compared through their encodings: a NaN is never == itself.
    guard again.id == event.id, again.type == event.type, again.timestamp == event.timestamp,
        again.source == event.source, again.metadata == event.metadata, again.scope == event.scope,
        again.origin == event.origin, (try? codec.encode(again)) == encoded
    else {
        fatalError("decode(encode(decode(x))) differs from decode(x): \(event) vs \(again)")
    }
    return 0
}
