import Foundation
import Testing
@testable import EventBus
@testable import EventWire

/// A small deterministic generator (SplitMix64), so a failing seed can be replayed; shared by
/// the EventWire test suites.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seed of this run: EVENTWIRE_SEED when set, else a fresh one; printed so a failure can be replayed.
let codecTestSeed: UInt64 = {
    let seed = ProcessInfo.processInfo.environment["EVENTWIRE_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
    print("EventCodecTests seed: \(seed) (replay with EVENTWIRE_SEED=\(seed))")
    return seed
}()

struct Order: EventPayload, Equatable {
    static let eventType: EventType = "order.placed"
    var orderID: String
    var quantity: Int
    var price: Double
    var tags: [String]
    var note: String?
    var placedAt: Date
    var reference: UUID
    var attachment: Data
}

enum RandomEvents {
    static let lengths: [Int] = [0, 1, 15, 31, 32, 255, 256, 65_535, 65_536]
    static let counts: [Int] = [0, 1, 15, 16, 255, 256]
    static let integers: [Int64] = {
        var values: [Int64] = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 4_294_967_295, 4_294_967_296]
        values += [Int64.max, -1, -32, -33, -128, -129, -32_768, -32_769]
        values += [Int64(Int32.min), Int64(Int32.min) - 1, Int64.min]
        return values
    }()
    static let scalars: [Character] = ["a", "é", "世", "🌍", "\u{0}", "\""]
    static let doubles: [Double] = [0, -0.5, 1e300, Double.infinity, -Double.infinity]
    static let shortLengths: [Int] = [0, 1, 5, 31, 32, 40]

    static func string(_ rng: inout SeededGenerator, length: Int? = nil) -> String {
        let count: Int = length ?? shortLengths.randomElement(using: &rng)!
        if count > 1000 { return String(repeating: "x", count: count) }
        var text = ""
        for _ in 0..<count { text.append(scalars.randomElement(using: &rng)!) }
        return text
    }

    static func chance(_ oneIn: Int, _ rng: inout SeededGenerator) -> Bool {
        Int.random(in: 0..<oneIn, using: &rng) == 0
    }

    static func value(_ rng: inout SeededGenerator, depth: Int = 0) -> EventValue {
        let kinds = depth > 3 ? 6 : 9
        switch Int.random(in: 0..<kinds, using: &rng) {
        case 0:
            return .null
        case 1:
            return .bool(Bool.random(using: &rng))
        case 2:
            if Bool.random(using: &rng) { return .int(integers.randomElement(using: &rng)!) }
            return .int(Int64(bitPattern: rng.next()))
        case 3:
            if Bool.random(using: &rng) { return .double(doubles.randomElement(using: &rng)!) }
            return .double(Double.random(in: -1e9...1e9, using: &rng))
        case 4:
            let length: Int? = chance(20, &rng) ? lengths.randomElement(using: &rng)! : nil
            return .string(string(&rng, length: length))
        case 5:
            let length: Int = chance(20, &rng) ? lengths.randomElement(using: &rng)! : Int.random(in: 0..<8, using: &rng)
            var bytes: [UInt8] = []
            for _ in 0..<length { bytes.append(UInt8(truncatingIfNeeded: rng.next())) }
            return .bytes(bytes)
        case 6, 7:
            let count: Int = chance(10, &rng) ? counts.randomElement(using: &rng)! : Int.random(in: 0..<4, using: &rng)
            if Bool.random(using: &rng) {
                var elements: [EventValue] = []
                for _ in 0..<count { elements.append(value(&rng, depth: depth + 1)) }
                return .array(elements)
            }
            var map: EventMap = [:]
            for index in 0..<count {
                let key = "k\(index)" + string(&rng, length: Int.random(in: 0..<3, using: &rng))
                map[key] = value(&rng, depth: depth + 1)
            }
            return .map(map)
        default:
            return .string(string(&rng))
        }
    }

    static let types: [EventType] = [
        EventType(unchecked: "a"), EventType(unchecked: "stream.started"), EventType(unchecked: "x.y.z"),
        EventType(unchecked: "ünï.cödé"), EventType(unchecked: String(repeating: "t", count: 255)),
    ]

    static func origin(_ rng: inout SeededGenerator) -> EventOrigin? {
        guard Bool.random(using: &rng) else { return nil }
        let sequence: UInt64? = Bool.random(using: &rng) ? rng.next() : nil
        return EventOrigin(node: string(&rng), incarnation: rng.next(), sequence: sequence, hops: Int.random(in: 0...8, using: &rng))
    }

    static func event(_ rng: inout SeededGenerator) -> Event {
        var metadata: [String: String] = [:]
        for index in 0..<Int.random(in: 0..<3, using: &rng) { metadata["m\(index)"] = string(&rng) }
        var scope: [String] = []
        for _ in 0..<Int.random(in: 0..<3, using: &rng) { scope.append(string(&rng)) }
        let id = EventID(high: rng.next(), low: rng.next())
        let type = types.randomElement(using: &rng)!
        let payload = value(&rng)
        let timestamp = Timestamp(nanosecondsSinceEpoch: Int64(bitPattern: rng.next()))
        let source = string(&rng)
        return Event(
            id: id, type: type, payload: .value(payload), timestamp: timestamp, source: source,
            metadata: metadata, scope: scope, origin: origin(&rng))
    }
}

func expectSameEvent(_ a: Event, _ b: Event, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.id == b.id, sourceLocation: sourceLocation)
    #expect(a.type == b.type, sourceLocation: sourceLocation)
    #expect(a.timestamp == b.timestamp, sourceLocation: sourceLocation)
    #expect(a.source == b.source, sourceLocation: sourceLocation)
    #expect(a.metadata == b.metadata, sourceLocation: sourceLocation)
    #expect(a.scope == b.scope, sourceLocation: sourceLocation)
    #expect(a.origin == b.origin, sourceLocation: sourceLocation)
    #expect(a.data == b.data, sourceLocation: sourceLocation)
}

@Suite struct EventCodecTests {
    @Test func randomEventsRoundTrip() throws {
        var rng = SeededGenerator(seed: codecTestSeed)
        let codec = EventCodec()
        var oversized = 0
        for _ in 0..<500 {
            let event = RandomEvents.event(&rng)
            let encoded: [UInt8]? = try? codec.encode(event)
            guard let bytes = encoded else {
                // The generator's boundary-sized strings sometimes add up past 1 MiB.
                oversized += 1
                continue
            }
            let decoded = try codec.decode(bytes, frameType: event.type.name)
            expectSameEvent(event, decoded)
            let again = try codec.encode(decoded)
            #expect(again == bytes, "encoding is deterministic")
        }
        #expect(oversized < 50)
    }

    @Test func encodingWithAnOriginGivesTheBytesOfACopyWithThatOrigin() throws {
        var rng = SeededGenerator(seed: codecTestSeed &+ 1)
        let codec = EventCodec()
        var oversized = 0
        for _ in 0..<200 {
            var event = RandomEvents.event(&rng)
            // An origin of its own, which encoding with another origin must ignore.
            event.origin = RandomEvents.origin(&rng)
            let origin = RandomEvents.origin(&rng)
            var copy = event
            copy.origin = origin
            guard let expected = try? codec.encode(copy) else {  // over the frame limit
                oversized += 1
                continue
            }
            let bytes = try codec.encode(event, origin: origin)
            #expect(bytes == expected)
            // Decoding is the independent check: the given origin, every other field the event's.
            let decoded = try codec.decode(bytes)
            #expect(decoded.origin == origin)
            expectSameEvent(copy, decoded)
            // Without an origin given, the event's own is written.
            #expect(try codec.decode(codec.encode(event)).origin == event.origin)
        }
        #expect(oversized < 50)
    }

    @Test func encodingIntoARecycledFrameGivesTheSameBytesAndLeavesASharedOneAlone() throws {
        var rng = SeededGenerator(seed: codecTestSeed &+ 2)
        let codec = EventCodec()
        // Each frame is encoded into the array of the one before it, as a bridge recycles the
        // frames it has sent: frames of every size follow each other (small, large, empty).
        var previous: [UInt8] = []
        var encoded = 0
        for _ in 0..<300 {
            let event = RandomEvents.event(&rng)
            let origin = RandomEvents.origin(&rng)
            guard let expected = try? codec.encode(event, origin: origin) else { continue }  // over the frame limit
            let recycled = try codec.encode(event, origin: origin, reusing: previous)
            #expect(recycled == expected)
            previous = recycled
            encoded += 1
        }
        #expect(encoded > 250)
        // An array still in use elsewhere is copied, not written over.
        let event = Event(type: "test.recycle", data: ["n": 1])
        let kept = try codec.encode(Event(type: "test.kept", data: ["pad": .bytes([UInt8](repeating: 7, count: 600))]), origin: nil)
        let before = kept
        let frame = try codec.encode(event, origin: nil, reusing: kept)
        #expect(kept == before)
        #expect(frame == (try codec.encode(event, origin: nil)))
    }

    @Test func typedPayloadsRoundTripAndStayTyped() throws {
        let reference = try #require(UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"))
        let placedAt = Date(timeIntervalSince1970: 1_764_398_469.25)
        let order = Order(
            orderID: "o-1", quantity: 3, price: 9.5, tags: ["a", "b"], note: nil,
            placedAt: placedAt, reference: reference, attachment: Data([0, 1, 2]))
        let event = Event(order, source: "shop")
        let codec = EventCodec()
        let typedBytes = try codec.encode(event)
        let decoded = try codec.decode(typedBytes)
        let roundTripped = try decoded.payload(as: Order.self)
        #expect(roundTripped == order)
        let data = decoded.data
        #expect(data["placedAt"] == EventValue.double(1_764_398_469.25))
        #expect(data["reference"] == EventValue.string("e621e1f8-c36c-495a-93fc-0c247a3e6e5f"))
        #expect(data["attachment"] == EventValue.bytes([0, 1, 2]))
        #expect(data["note"] == nil, "a nil optional is omitted")
        // A typed payload and the same map encode to the same bytes.
        let untyped = Event(id: event.id, type: event.type, payload: .value(event.data), timestamp: event.timestamp, source: "shop")
        let untypedBytes = try codec.encode(untyped)
        #expect(untypedBytes == typedBytes)
    }

    @Test func emptyAndMaximalEvents() throws {
        let codec = EventCodec()
        let empty = Event(id: EventID(high: 0, low: 0), type: "a", payload: .value(.null), timestamp: Timestamp(nanosecondsSinceEpoch: 0))
        let bytes = try codec.encode(empty)
        // map header, "v": 1, "id": bin8 of 16, "t": "a", "ts": 0
        let expectedCount = 1 + 3 + 21 + 4 + 4
        #expect(bytes.count == expectedCount)
        expectSameEvent(empty, try codec.decode(bytes))

        let big = EventValue.bytes([UInt8](repeating: 7, count: codec.limits.maxFrameBytes - 200))
        let maximal = Event(id: EventID(), type: "big.one", payload: .value(big), timestamp: .now())
        let maximalBytes = try codec.encode(maximal)
        #expect(maximalBytes.count <= codec.limits.maxFrameBytes)
        expectSameEvent(maximal, try codec.decode(maximalBytes))
    }

    @Test func anOversizedEventIsTheEncodersTypedError() {
        let codec = EventCodec()
        let tooBig = Event(type: "big.one", data: .bytes([UInt8](repeating: 1, count: codec.limits.maxFrameBytes)))
        do {
            _ = try codec.encode(tooBig)
            Issue.record("an oversized event was encoded")
        } catch {
            #expect(error.code == .limitExceeded)
        }
    }

    @Test func anOversizedFrameIsRejectedBeforeDecoding() {
        var limits = WireLimits.default
        limits.maxFrameBytes = 64
        let codec = EventCodec(limits: limits)
        do {
            _ = try codec.decode([UInt8](repeating: 0x90, count: 65))
            Issue.record("an oversized frame was decoded")
        } catch {
            #expect(error.code == .limitExceeded)
        }
    }

    @Test func anUntypedPayloadThatDoesNotFitATypedStructStaysAnError() throws {
        let codec = EventCodec()
        let event = Event(type: Order.eventType, data: ["orderID": 5])
        let decoded = try codec.decode(try codec.encode(event))
        #expect(throws: DecodingError.self) { try decoded.payload(as: Order.self) }
    }
}

/// One envelope entry: a key and how to write its value.
typealias Field = (String, @Sendable (inout MessagePackWriter) -> Void)

/// One test per malformed-input class of the envelope, checking the specific error.
@Suite struct MalformedEnvelopeTests {
    /// An envelope built from (key, value) pairs with the MessagePack writer.
    static func envelope(_ entries: [Field]) -> [UInt8] {
        var writer = MessagePackWriter()
        writer.writeMapHeader(entries.count)
        for (key, write) in entries {
            writer.writeString(key)
            write(&writer)
        }
        return writer.bytes
    }

    /// An envelope entry (spelled as a function so the type checker has nothing to infer).
    static func field(_ key: String, _ write: @escaping @Sendable (inout MessagePackWriter) -> Void) -> Field {
        (key, write)
    }

    static let id = field("id") { $0.writeBinary([UInt8](repeating: 1, count: 16)) }
    static let version = field("v") { $0.writeInt(1) }
    static let type = field("t") { $0.writeString("a.b") }
    static let timestamp = field("ts") { $0.writeInt(5) }
    static let sample: EventValue = ["x": [1, 2, nil]]
    static let samplePayload: EventValue = ["a": [1, "b", nil, 2.5]]

    func expectError(_ bytes: [UInt8], frameType: String? = nil, _ code: WireError.Code, field: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let event = try EventCodec().decode(bytes, frameType: frameType)
            Issue.record("decoded \(event) instead of failing with \(code)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
            if let field { #expect(error.field == field, "\(error)", sourceLocation: sourceLocation) }
            #expect(!error.message.isEmpty, sourceLocation: sourceLocation)
        }
    }

    @Test func aWellFormedMinimalEnvelopeDecodes() throws {
        let bytes = Self.envelope([Self.version, Self.id, Self.type, Self.timestamp])
        let event = try EventCodec().decode(bytes, frameType: "a.b")
        #expect(event.type == "a.b")
        #expect(event.timestamp.nanosecondsSinceEpoch == 5)
    }

    @Test func unknownKeysAreSkipped() throws {
        let bytes = Self.envelope([Self.version, Self.field("future") { $0.write(Self.sample) }, Self.id, Self.type, Self.timestamp])
        #expect(try EventCodec().decode(bytes).type == "a.b")
    }

    @Test func everyEnvelopeKeyIsMatchedByItsBytes() throws {
        for key in EnvelopeKey.Known.allCases {
            let utf8 = Array(key.rawValue.utf8)
            var writer = MessagePackWriter()
            writer.writeString(key.rawValue)
            var reader = MessagePackReader(bytes: writer.bytes)
            let range = try reader.readStringRange()
            let packed = try #require(reader.packedShortString(range))
            #expect(EnvelopeKey.Known(packed: packed) == key, "key \(key.rawValue)")
            // The same bytes with a trailing NUL, and a longer key with the same start, are other keys.
            for other in [utf8 + [0], utf8 + Array("x".utf8), Array(utf8.dropLast())] where !other.isEmpty {
                let otherKey = String(decoding: other, as: UTF8.self)
                var otherWriter = MessagePackWriter()
                otherWriter.writeString(otherKey)
                var otherReader = MessagePackReader(bytes: otherWriter.bytes)
                let otherRange = try otherReader.readStringRange()
                let otherPacked = otherReader.packedShortString(otherRange)
                #expect(otherPacked.flatMap(EnvelopeKey.Known.init(packed:)) != key, "\(other) matched \(key.rawValue)")
            }
        }
    }

    @Test func packedKeysAreWrittenAsTheirStrings() {
        for key in EnvelopeKey.Known.allCases {
            var packedWriter = MessagePackWriter()
            packedWriter.writePackedString(key.packed)
            var stringWriter = MessagePackWriter()
            stringWriter.writeString(key.rawValue)
            #expect(packedWriter.bytes == stringWriter.bytes, "key \(key.rawValue)")
        }
    }

    /// `readKey()` is `readStringRange()` and `packedShortString(_:)` in one: the same range,
    /// packed key, position and error, on its fast path (a short ASCII fixstr) and off it.
    @Test func readKeyAgreesWithReadStringRange() {
        var inputs: [[UInt8]] = EnvelopeKey.Known.allCases.map { key in
            var writer = MessagePackWriter()
            writer.writeString(key.rawValue)
            return writer.bytes
        }
        inputs += [
            [0xa0],  // ""
            [0xa7] + Array("abcdefg".utf8),  // 7 bytes: packed
            [0xa8] + Array("abcdefgh".utf8),  // 8 bytes: not packed
            [0xd9, 0x01] + Array("v".utf8),  // str8, not a fixstr
            [0xa2, 0xc3, 0xa9],  // "é": not ASCII
            [0xa1, 0xff],  // invalid UTF-8
            [0xa3, 0x61],  // truncated
            [0xa1],  // truncated, nothing after the header
            [0x01],  // not a string
            [],  // empty input
            [0xa1, 0x76, 0xa1, 0x77],  // "v" then more bytes
        ]
        // The fast path loads 8 bytes at once: each input also with enough bytes after it.
        inputs += inputs.map { $0 + Array(repeating: 0xc0, count: 8) }
        for input in inputs {
            var keyReader = MessagePackReader(bytes: input)
            var rangeReader = MessagePackReader(bytes: input)
            let key = Result { () throws(WireError) in try keyReader.readKey() }
            let range = Result { () throws(WireError) in try rangeReader.readStringRange() }
            switch (key, range) {
            case (.success(let key), .success(let range)):
                #expect(key.range == range, "\(input)")
                #expect(key.packed == rangeReader.packedShortString(range), "\(input)")
                #expect(keyReader.offset == rangeReader.offset, "\(input)")
                #expect(keyReader.valueCount == rangeReader.valueCount, "\(input)")
            case (.failure(let keyError), .failure(let rangeError)):
                #expect(keyError == rangeError, "\(input)")
            default:
                Issue.record("readKey gave \(key), readStringRange \(range), for \(input)")
            }
        }
    }

    @Test func nearMissKeysAreUnknownAndSkipped() throws {
        // "v\0" and "vv" are not "v": they are skipped, and the real "v" still counts.
        let bytes = Self.envelope([
            Self.field("v\u{0}") { $0.writeInt(9) }, Self.field("vv") { $0.writeInt(9) }, Self.field("version") { $0.writeInt(9) },
            Self.version, Self.id, Self.type, Self.timestamp,
        ])
        #expect(try EventCodec().decode(bytes).type == "a.b")
        expectError(Self.envelope([Self.field("v\u{0}") { $0.writeInt(1) }, Self.id, Self.type, Self.timestamp]), .missingField, field: "v")
    }

    @Test func unsupportedVersion() {
        expectError(Self.envelope([Self.field("v") { $0.writeInt(2) }, Self.id, Self.type, Self.timestamp]), .unsupportedVersion, field: "v")
    }

    @Test func frame1DiffersFromTheEnvelopesType() {
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp]), frameType: "a.c", .typeMismatch, field: "t")
    }

    @Test func decodingWithAKnownTypeGivesWhatDecodingWithFrame1Gives() throws {
        let codec = EventCodec()
        let known: EventType = "a.b"
        let bytes = Self.envelope([Self.version, Self.id, Self.type, Self.timestamp])
        let plain = try codec.decode(bytes, frameType: "a.b")
        let shared = try codec.decode(bytes, expecting: known)
        #expect(shared.type == plain.type && shared.id == plain.id && shared.timestamp == plain.timestamp)
        // Another type in the envelope: the same errors as with frame 1 as a string.
        for (type, code) in [("a.c", WireError.Code.typeMismatch), ("a..b", .invalidField), ("a.", .invalidField)] {
            let other = Self.envelope([Self.version, Self.id, Self.field("t") { $0.writeString(type) }, Self.timestamp])
            for decode in [{ try codec.decode(other, frameType: "a.b") }, { try codec.decode(other, expecting: known) }] {
                do {
                    _ = try decode()
                    Issue.record("\(type) decoded")
                } catch let error as WireError {
                    #expect(error.code == code && error.field == "t", "\(error)")
                }
            }
        }
        // A type that is not a string fails as it does without a known type.
        let number = Self.envelope([Self.version, Self.id, Self.field("t") { $0.writeInt(1) }, Self.timestamp])
        #expect(throws: WireError.self) { try codec.decode(number, expecting: known) }
    }

    @Test func missingFields() {
        expectError(Self.envelope([Self.id, Self.type, Self.timestamp]), .missingField, field: "v")
        expectError(Self.envelope([Self.version, Self.type, Self.timestamp]), .missingField, field: "id")
        expectError(Self.envelope([Self.version, Self.id, Self.timestamp]), .missingField, field: "t")
        expectError(Self.envelope([Self.version, Self.id, Self.type]), .missingField, field: "ts")
    }

    @Test func fieldsOfTheWrongType() {
        expectError(Self.envelope([Self.version, Self.field("id") { $0.writeString("0192f0c4-8a1e-7000-8000-3b1f9d2c4e5a") }, Self.type, Self.timestamp]), .wrongType, field: "id")
        expectError(Self.envelope([Self.version, Self.id, Self.field("t") { $0.writeInt(3) }, Self.timestamp]), .wrongType, field: "t")
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.field("ts") { $0.writeString("now") }]), .wrongType, field: "ts")
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, Self.field("md") { $0.write(.map(["a": .int(1)])) }]), .wrongType, field: "md")
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, Self.field("sc") { $0.writeString("a") }]), .wrongType, field: "sc")
        expectError([0x93, 0x01, 0x02, 0x03], .wrongType, field: "envelope")
    }

    @Test func anIDThatIsNot16Bytes() {
        expectError(Self.envelope([Self.version, Self.field("id") { $0.writeBinary([1, 2, 3]) }, Self.type, Self.timestamp]), .invalidField, field: "id")
    }

    @Test func anInvalidEventTypeName() {
        expectError(Self.envelope([Self.version, Self.id, Self.field("t") { $0.writeString("a..b") }, Self.timestamp]), .invalidField, field: "t")
        expectError(Self.envelope([Self.version, Self.id, Self.field("t") { $0.writeString("_mesh.probe") }, Self.timestamp]), .invalidField, field: "t")
    }

    @Test func aKeyThatAppearsTwice() {
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, Self.timestamp]), .duplicateKey, field: "ts")
    }

    @Test func bytesAfterTheEnvelope() {
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp]) + [0xC0], .trailingBytes)
    }

    @Test func anIncompleteOrigin() {
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, Self.field("on") { $0.writeString("n") }]), .invalidField, field: "oi")
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, Self.field("seq") { $0.writeUInt(1) }]), .invalidField, field: "seq")
    }

    @Test func invalidUTF8InAField() {
        // A fixstr of 2 bytes that are not UTF-8.
        let source = Self.field("src") { $0.writeRaw([0xA2, 0xC3, 0x28]) }
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, source]), .invalidUTF8, field: "src")
    }

    @Test func aPayloadBeyondTheLimits() {
        var nested = EventValue.null
        for _ in 0..<40 { nested = .array([nested]) }
        let deep = nested
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, Self.field("p") { $0.write(deep) }]), .limitExceeded, field: "p")
    }

    @Test func anIntegerOutOfRange() {
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, Self.field("p") { $0.writeUInt(.max) }]), .integerOutOfRange, field: "p")
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.field("ts") { $0.writeUInt(.max) }]), .integerOutOfRange, field: "ts")
    }

    @Test func anExtensionTypeInThePayload() {
        // A fixext 4: MessagePack's timestamp extension.
        let payload = Self.field("p") { $0.writeRaw([0xD6, 0xFF, 0, 0, 0, 1]) }
        expectError(Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, payload]), .unsupportedFormat, field: "p")
    }

    @Test func garbageNeverTraps() {
        var rng = SeededGenerator(seed: codecTestSeed)
        let valid = Self.envelope([Self.version, Self.id, Self.type, Self.timestamp, Self.field("p") { $0.write(Self.samplePayload) }])
        var decoded = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round.isMultiple(of: 2) {
                bytes = (0..<Int.random(in: 0..<48, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = valid
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            }
            if (try? EventCodec().decode(bytes)) != nil { decoded += 1 }
        }
        #expect(decoded > 0, "some mutations still decode, so the loop exercises the success path too")
    }
}

/// `decode(_:expecting:reusing:)` decodes as `decode(_:expecting:)` does, and shares the origin
/// node and scope of the event before when they repeat.
@Suite struct RecentFieldsTests {
    static let type: EventType = "a.b"
    static let longNode = "node-with-a-name-longer-than-15-bytes"

    static func frame(scope: [String], node: String, sequence: UInt64 = 1) throws -> [UInt8] {
        let event = Event(id: EventID(), type: type, payload: .value(["n": .int(Int64(sequence))]), timestamp: .now(), scope: scope)
        return try EventCodec().encode(event, origin: EventOrigin(node: node, incarnation: 7, sequence: sequence))
    }

    /// Everything a decoded event holds, as text.
    static func summary(_ event: Event) -> String {
        "\(event.id) \(event.type) \(event.timestamp.nanosecondsSinceEpoch) \(event.source) \(event.metadata) \(event.scope) \(String(describing: event.origin)) \(event.data)"
    }

    static func scopeStorage(_ event: Event) -> UnsafeRawPointer? {
        event.scope.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
    }

    static func nodeStorage(_ event: Event) -> UnsafeRawPointer? {
        var node = event.origin?.node ?? ""
        return node.withUTF8 { UnsafeRawPointer($0.baseAddress) }
    }

    @Test func decodingWithRecentFieldsGivesTheSameEventsAndSharesWhatRepeats() throws {
        let codec = EventCodec()
        let malformedScope = MalformedEnvelopeTests.envelope([
            MalformedEnvelopeTests.version, MalformedEnvelopeTests.id, MalformedEnvelopeTests.type, MalformedEnvelopeTests.timestamp,
            MalformedEnvelopeTests.field("sc") { $0.writeArrayHeader(1); $0.writeInt(1) },
        ])
        let frames: [[UInt8]] = [
            try Self.frame(scope: ["pub-0"], node: Self.longNode),  // 0: read
            try Self.frame(scope: ["pub-0"], node: Self.longNode, sequence: 2),  // 1: shared
            try Self.frame(scope: ["pub-0", "agents"], node: "node-b"),  // 2: read
            try Self.frame(scope: [], node: "node-b"),  // 3: no scope
            try Self.frame(scope: ["pub-0", "agent"], node: "node-"),  // 4: a prefix of each: read
            malformedScope,  // 5: an error, recent unchanged
            try Self.frame(scope: ["pub-0", "agent"], node: "node-", sequence: 3),  // 6: shared with 4
            try Self.frame(scope: ["pub-0"], node: Self.longNode, sequence: 4),  // 7: read again
            try Self.frame(scope: ["pub-0"], node: Self.longNode, sequence: 5),  // 8: shared with 7
        ]
        var recent = EventCodec.RecentFields()
        var decoded: [Event?] = []
        for (index, frame) in frames.enumerated() {
            let plain = Result { () throws(WireError) in try codec.decode(frame, expecting: Self.type) }
            let reusing = Result { () throws(WireError) in try codec.decode(frame, expecting: Self.type, reusing: &recent) }
            switch (plain, reusing) {
            case (.success(let plain), .success(let reusing)):
                #expect(Self.summary(plain) == Self.summary(reusing), "frame \(index)")
                decoded.append(reusing)
            case (.failure(let plainError), .failure(let reusingError)):
                #expect(plainError == reusingError, "frame \(index)")
                decoded.append(nil)
            default:
                Issue.record("frame \(index): \(plain) without recent fields, \(reusing) with them")
                decoded.append(nil)
            }
        }
        #expect(decoded[5] == nil, "the malformed scope is an error")
        let events = decoded.compactMap { $0 }
        #expect(events.count == 8)
        // Shared storage where the fields repeat, new storage where they were read.
        #expect(Self.scopeStorage(decoded[1]!) == Self.scopeStorage(decoded[0]!))
        #expect(Self.nodeStorage(decoded[1]!) == Self.nodeStorage(decoded[0]!))
        #expect(Self.scopeStorage(decoded[6]!) == Self.scopeStorage(decoded[4]!))
        #expect(Self.scopeStorage(decoded[7]!) != Self.scopeStorage(decoded[0]!))
        #expect(Self.nodeStorage(decoded[7]!) != Self.nodeStorage(decoded[0]!))
        #expect(Self.scopeStorage(decoded[8]!) == Self.scopeStorage(decoded[7]!))
        #expect(Self.nodeStorage(decoded[8]!) == Self.nodeStorage(decoded[7]!))
    }
}

/// `Event.data(forKey:)` on a payload still encoded (`WirePayload.decodeValue(forKey:)`) reads
/// exactly what `data[key]` reads, without converting the payload.
@Suite struct PayloadFieldTests {
    /// Keys to look for besides a map's own: absent ones, the ASCII form of a non-ASCII key
    /// ("\u{212A}", KELVIN SIGN, equals "K" as a `String`), and keys of 7, 8 and more bytes.
    static let probes = ["", "K", "\u{212A}", "k0", "k1", "é", "e\u{301}", "seven77", "eight888", "a-key-longer-than-8"]

    /// Checks every key of `expected` (the payload's whole dynamic form) and every probe on
    /// events decoded from `frame`, each still encoded when its field is read.
    static func expectFieldsMatch(_ frame: [UInt8], expected: EventValue, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var keys = probes
        if case .map(let map) = expected { keys += map.keys }
        for key in keys {
            let event = try EventCodec().decode(frame)
            #expect(event.data(forKey: key) == expected[key], "key \(key.debugDescription) of \(expected)", sourceLocation: sourceLocation)
            // The field was read without converting the payload: a conversion is cached, and
            // this read would then have been served by it.
            #expect(event.storage.convertedDynamicValue == nil, sourceLocation: sourceLocation)
            // Asked again after the payload was converted, the same answer.
            _ = event.data
            #expect(event.data(forKey: key) == expected[key], "key \(key.debugDescription), converted", sourceLocation: sourceLocation)
        }
    }

    @Test func randomPayloadsReadFieldByFieldAsTheWholeMap() throws {
        var rng = SeededGenerator(seed: codecTestSeed &+ 11)
        var checked = 0
        for index in 0..<300 {
            var event = RandomEvents.event(&rng)
            // Three in four payloads a map, with keys of every kind (short and long, ASCII or
            // not); the rest as the generator makes them.
            if index % 4 != 0 {
                var map: EventMap = [:]
                for _ in 0..<Int.random(in: 0..<6, using: &rng) {
                    map[RandomEvents.string(&rng)] = RandomEvents.value(&rng, depth: 1)
                }
                event.data = .map(map)
            }
            // The generator's boundary-sized strings sometimes add up past 1 MiB.
            guard let frame = try? EventCodec().encode(event) else { continue }
            try Self.expectFieldsMatch(frame, expected: event.data)
            checked += 1
        }
        #expect(checked > 250)
    }

    @Test func keysOfEveryKindAndValuesThatAreSkipped() throws {
        let payload: EventValue = [
            "a": [1, ["deep": ["deeper": [true]]], nil],
            "bin16": .bytes([UInt8](repeating: 7, count: 300)),
            "str8": .string(String(repeating: "s", count: 40)),
            "i": .int(-1_000_000_000_000),
            "f": .double(2.5),
            "m": ["K": 1],
            "seven77": "seven",
            "eight888": "eight",
            "a-key-longer-than-8": "long",
            "é": "e acute",
            "\u{212A}": "kelvin",
            "z": nil,
        ]
        let event = Event(id: EventID(), type: "a.b", payload: .value(payload), timestamp: .now())
        try Self.expectFieldsMatch(try EventCodec().encode(event), expected: payload)
        #expect(payload["K"] == "kelvin", "the map finds the KELVIN SIGN key by its ASCII equivalent")
    }

    /// Integers of every width and sign (the writer picks the smallest form, so each of these
    /// is a different format), floats, booleans and nil, read in place; strings and binaries of
    /// every header size skipped on the way to the keys after them.
    @Test func scalarsOfEveryWidthReadInPlace() throws {
        let payload: EventValue = [
            "a": .int(-1), "b": .int(-100), "c": .int(-1_000), "d": .int(-100_000), "e": .int(-10_000_000_000),
            "f": .int(Int64.min), "g": .int(127), "h": .int(200), "i": .int(60_000), "j": .int(4_000_000_000),
            "k": .int(Int64.max), "l": .double(-0.125), "m": true, "n": false, "o": nil,
            "p": .string(String(repeating: "s", count: 31)), "q": .string(String(repeating: "s", count: 200)),
            "r": .string(String(repeating: "s", count: 70_000)), "s": .bytes([1, 2]), "t": .bytes([UInt8](repeating: 3, count: 300)),
            "u": .bytes([UInt8](repeating: 4, count: 70_000)), "v": .int(-32),
        ]
        let event = Event(id: EventID(), type: "a.b", payload: .value(payload), timestamp: .now())
        let frame = try EventCodec().encode(event)
        try Self.expectFieldsMatch(frame, expected: payload)
        // Each scalar is read in place, past the strings and binaries before it, not by the
        // reader the lookup falls back on.
        guard case .encoded(let encoded) = try EventCodec().decode(frame).payload, let wire = encoded as? WirePayload else {
            Issue.record("the decoded payload is not kept encoded")
            return
        }
        for (key, value) in payload.mapValue ?? [:] {
            switch value {
            case .string, .bytes: #expect(wire.scalarField(forKey: key) == .unknown, "key \(key)")
            default: #expect(wire.scalarField(forKey: key) == .found(value), "key \(key)")
            }
        }
        #expect(wire.scalarField(forKey: "w") == .absent)
        #expect(wire.scalarField(forKey: "\u{212A}") == .unknown, "a non-ASCII key is left to the reader")
    }

    @Test func aPayloadAtTheEndOfTheFrameReadsItsLastKeys() throws {
        // The payload last, so that its last keys lie in the frame's final 8 bytes.
        for payload: EventValue in [["a": 1, "b": 2], ["K": true], ["\u{212A}": 1], ["abcdefg": 1], ["x": ""], [:], 5, nil] {
            let frame = MalformedEnvelopeTests.envelope([
                MalformedEnvelopeTests.version, MalformedEnvelopeTests.id, MalformedEnvelopeTests.type,
                MalformedEnvelopeTests.timestamp, MalformedEnvelopeTests.field("p") { $0.write(payload) },
            ])
            try Self.expectFieldsMatch(frame, expected: payload)
        }
    }

    @Test func typedAndDynamicPayloadsReadTheirFields() throws {
        let order = Order(
            orderID: "o-1", quantity: 3, price: 9.5, tags: ["x"], note: nil, placedAt: Date(timeIntervalSince1970: 1),
            reference: UUID(), attachment: Data([1, 2]))
        let typed = Event(order)
        #expect(typed.data(forKey: "orderID") == "o-1")
        #expect(typed.data(forKey: "quantity") == typed.data["quantity"])
        #expect(typed.data(forKey: "missing") == nil)
        let dynamic = Event(type: "a.b", data: ["k": "v"])
        #expect(dynamic.data(forKey: "k") == "v")
        #expect(dynamic.data(forKey: "K") == nil)
        #expect(Event(type: "a.b", data: [1, 2]).data(forKey: "k") == nil)
    }
}
