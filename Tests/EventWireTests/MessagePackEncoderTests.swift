import Foundation
import Testing
@testable import EventBus
@testable import EventWire

// MARK: - Test types

/// The `EveryKind` payload as an event payload.
struct EveryKindPayload: EventPayload, Equatable {
    static let eventType: EventType = "every.kind"
    var value: EveryKind
    var note: String?
}

/// A payload whose `encode(to:)` does something the direct encoder leaves to the `EventValue`
/// path; `mode` says what.
struct UnusualPayload: EventPayload {
    static let eventType: EventType = "unusual.payload"

    enum Mode: String, Codable, CaseIterable {
        case nestedKeyed, nestedUnkeyed, superEncoder, superEncoderForKey, duplicateKey, kelvinKey
        case decomposedKey, hugeUnsigned, throwsError, encodesNothing, singleThenKeyed, keyedTwice
        case keyedThenUnkeyed, singleTwice, nilSingleValue, manyKeys, manyElements, sortedKeys
        case unkeyedNested, nestedArrayOfStructs, catchesAndContinues
    }

    struct Failure: Error {}

    var mode: Mode

    enum Keys: String, CodingKey {
        case zeta, alpha, nested, list, big
    }

    func encode(to encoder: any Encoder) throws {
        switch mode {
        case .nestedKeyed:
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .zeta)
            var nested = container.nestedContainer(keyedBy: Keys.self, forKey: .nested)
            try nested.encode("x", forKey: .alpha)
        case .nestedUnkeyed:
            var container = encoder.container(keyedBy: Keys.self)
            var list = container.nestedUnkeyedContainer(forKey: .list)
            try list.encode(1)
            try list.encode("two")
        case .superEncoder:
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .zeta)
            try "base".encode(to: container.superEncoder())
        case .superEncoderForKey:
            var container = encoder.container(keyedBy: Keys.self)
            try [1, 2].encode(to: container.superEncoder(forKey: .alpha))
        case .duplicateKey:
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .alpha)
            try container.encode(2, forKey: .zeta)
            try container.encode("last", forKey: .alpha)
        case .kelvinKey:
            // "K" and KELVIN SIGN are one key in an EventValue map.
            var container = encoder.container(keyedBy: AnyKey.self)
            try container.encode(1, forKey: AnyKey(stringValue: "K"))
            try container.encode(2, forKey: AnyKey(stringValue: "\u{212A}"))
        case .decomposedKey:
            var container = encoder.container(keyedBy: AnyKey.self)
            try container.encode(1, forKey: AnyKey(stringValue: "e\u{301}"))
            try container.encode(2, forKey: AnyKey(stringValue: "alpha"))
        case .hugeUnsigned:
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(UInt64.max, forKey: .big)
        case .throwsError:
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .alpha)
            throw Failure()
        case .encodesNothing:
            break
        case .singleThenKeyed:
            var single = encoder.singleValueContainer()
            try single.encode(5)
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .alpha)
        case .keyedTwice:
            var first = encoder.container(keyedBy: Keys.self)
            try first.encode(1, forKey: .zeta)
            var second = encoder.container(keyedBy: AnyKey.self)
            try second.encode([true], forKey: AnyKey(stringValue: "beta"))
            try first.encode(3, forKey: .alpha)
        case .keyedThenUnkeyed:
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .alpha)
            var list = encoder.unkeyedContainer()
            try list.encode(2)
        case .singleTwice:
            var single = encoder.singleValueContainer()
            try single.encode(5)
            try single.encode(6)
        case .nilSingleValue:
            var single = encoder.singleValueContainer()
            try single.encodeNil()
        case .manyKeys:
            var container = encoder.container(keyedBy: AnyKey.self)
            for index in (0..<300).reversed() { try container.encode(index, forKey: AnyKey(stringValue: "key\(index)")) }
        case .manyElements:
            var list = encoder.unkeyedContainer()
            for index in 0..<70_000 { try list.encode(UInt8(truncatingIfNeeded: index)) }
        case .sortedKeys:
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(1, forKey: .alpha)
            try container.encode(Inner(name: "n", tags: ["t"], values: [1]), forKey: .nested)
            try container.encode(Date(timeIntervalSince1970: 2.5), forKey: .zeta)
        case .unkeyedNested:
            var list = encoder.unkeyedContainer()
            try list.encode(1)
            var nested = list.nestedUnkeyedContainer()
            try nested.encode(2)
        case .nestedArrayOfStructs:
            var list = encoder.unkeyedContainer()
            for index in 0..<20 { try list.encode(Inner(name: "n\(index)", tags: nil, values: Array(repeating: Int64(index), count: index))) }
            try list.encode(UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!)
            try list.encodeNil()
            try list.encode(Optional<Int>.none)
        case .catchesAndContinues:
            var container = encoder.container(keyedBy: Keys.self)
            try? container.encode(UInt64.max, forKey: .big)
            try container.encode(1, forKey: .alpha)
        }
    }

    init(mode: Mode) { self.mode = mode }
    init(from decoder: any Decoder) throws { mode = .encodesNothing }
}

// MARK: - Tests

/// The direct encoder writes exactly the bytes of the `EventValue` path, or declines; either way
/// `EventCodec` writes a typed payload as it writes the same payload's `EventValue`.
@Suite struct MessagePackEncoderTests {
    /// What the `EventValue` path writes for `value`, or the error it throws.
    static func reference<T: Encodable>(_ value: T) -> Outcome<[UInt8]> {
        Outcome {
            var writer = MessagePackWriter()
            writer.write(try EventValueEncoder().encode(value))
            return writer.bytes
        }
    }

    /// What the direct encoder writes for `value`, or `nil` if it declines; checks that it never
    /// writes other bytes than the reference.
    @discardableResult
    static func expectDirectEncoding<T: Encodable>(
        _ value: T, _ comment: @autoclosure () -> String = "", sourceLocation: SourceLocation = #_sourceLocation
    ) -> [UInt8]? {
        var writer = MessagePackWriter()
        writer.writeString("prefix")  // the direct encoder appends to a writer in use
        let before = writer.bytes
        guard MessagePackEncoder.encode(value, into: &writer) else { return nil }
        let written = Array(writer.bytes.dropFirst(before.count))
        #expect(writer.bytes.prefix(before.count) == before[...], "\(comment())", sourceLocation: sourceLocation)
        #expect(Outcome { written } == reference(value), "\(T.self) \(comment())", sourceLocation: sourceLocation)
        return written
    }

    /// Encodes `payload` as a typed event and as the same event with its `EventValue`, and
    /// checks that both give the same bytes or both fail.
    static func expectSameEnvelope(_ payload: some EventPayload, sourceLocation: SourceLocation = #_sourceLocation) {
        let codec = EventCodec()
        let typed = Event(payload)
        let typedOutcome = Outcome { try codec.encode(typed) }
        let valueOutcome = Outcome {
            let value = try EventValueEncoder().encode(payload)
            return try codec.encode(Event(id: typed.id, type: typed.type, payload: .value(value), timestamp: typed.timestamp))
        }
        switch (typedOutcome, valueOutcome) {
        case (.value(let a), .value(let b)):
            #expect(a == b, "\(payload)", sourceLocation: sourceLocation)
        case (.failure, .failure):
            break  // the typed error wraps the encoder's error, the other is the encoder's
        default:
            Issue.record("typed \(typedOutcome) but value \(valueOutcome) for \(payload)", sourceLocation: sourceLocation)
        }
    }

    /// Maps of up to 16 entries are put in key order by an insertion sort, larger ones by the
    /// standard library's sort: both give the `EventValue` path's bytes, whatever order the
    /// keys come in, keys that share their first 8 bytes included.
    @Test func keyedContainersOfAnySizeAreWrittenInKeyOrder() {
        var rng = SeededGenerator(seed: codecTestSeed ^ 0x50f7)
        for round in 0..<300 {
            let count = Int.random(in: 2...20, using: &rng)
            var table: [String: Int] = [:]
            while table.count < count {
                let stem = ["k", "prefix-long-", "prefix-lon", "z", "prefix-long"].randomElement(using: &rng)!
                table[stem + String(Int.random(in: 0..<40, using: &rng))] = table.count
            }
            #expect(Self.expectDirectEncoding(table, "round \(round) (seed \(codecTestSeed))") != nil)
        }
    }

    @Test func randomPayloadsEncodeDirectlyAsThroughTheirValue() throws {
        var rng = SeededGenerator(seed: codecTestSeed ^ 0xe4c0de)
        for round in 0..<150 {
            let value = Payloads.everyKind(&rng)
            let comment = "round \(round) (seed \(codecTestSeed))"
            #expect(Self.expectDirectEncoding(value, comment) != nil, "the direct encoder takes \(comment)")
            Self.expectDirectEncoding(value.inners, comment)
            Self.expectDirectEncoding(value.table, comment)
            Self.expectDirectEncoding(value.inner, comment)
            let payload = EveryKindPayload(value: value, note: Bool.random(using: &rng) ? nil : "note")
            Self.expectSameEnvelope(payload)
            // And the bytes decode back to the payload.
            let codec = EventCodec()
            let decoded = try codec.decode(try codec.encode(Event(payload)))
            #expect(try decoded.payload(as: EveryKindPayload.self) == payload, "\(comment)")
        }
    }

    @Test func topLevelValuesOfEveryPrimitiveKind() {
        #expect(Self.expectDirectEncoding(5) == [0x05])
        #expect(Self.expectDirectEncoding("é") == [0xa2, 0xc3, 0xa9])
        #expect(Self.expectDirectEncoding(Date(timeIntervalSince1970: 1.5)) != nil)
        let uuid = UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!
        #expect(Self.expectDirectEncoding(uuid) == [0xd9, 36] + Array("e621e1f8-c36c-495a-93fc-0c247a3e6e5f".utf8))
        #expect(Self.expectDirectEncoding(Data([1, 2])) == [0xc4, 2, 1, 2])
        #expect(Self.expectDirectEncoding(Float(1.5)) == [0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0])
        #expect(Self.expectDirectEncoding(Int?.none) == [0xc0])
        #expect(Self.expectDirectEncoding([String: Int]()) == [0x80])
        #expect(Self.expectDirectEncoding([Int]()) == [0x90])
        #expect(Self.expectDirectEncoding(UInt64.max) == nil, "the EventValue path throws")
        #expect(Self.expectDirectEncoding(UInt(Int64.max)) == [0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
        #expect(Self.reference(UInt64.max).isFailure)
    }

    @Test func unusualEncodingsFallBackAndGiveTheSameEnvelope() {
        let declined: Set<UnusualPayload.Mode> = [
            .nestedKeyed, .nestedUnkeyed, .superEncoder, .superEncoderForKey, .duplicateKey, .kelvinKey, .decomposedKey,
            .hugeUnsigned, .throwsError, .encodesNothing, .singleThenKeyed, .keyedThenUnkeyed, .singleTwice, .unkeyedNested,
            .catchesAndContinues,
        ]
        for mode in UnusualPayload.Mode.allCases {
            let payload = UnusualPayload(mode: mode)
            let direct = Self.expectDirectEncoding(payload, "\(mode)")
            #expect((direct == nil) == declined.contains(mode), "\(mode): \(direct.map { "\($0.count) bytes" } ?? "declined")")
            Self.expectSameEnvelope(payload)
        }
        // What the reference does in those cases, for the record: some throw, some encode.
        #expect(Self.reference(UnusualPayload(mode: .throwsError)).isFailure)
        #expect(Self.reference(UnusualPayload(mode: .encodesNothing)).isFailure)
        #expect(Self.reference(UnusualPayload(mode: .hugeUnsigned)).isFailure)
        #expect(!Self.reference(UnusualPayload(mode: .duplicateKey)).isFailure)
        #expect(!Self.reference(UnusualPayload(mode: .catchesAndContinues)).isFailure)
    }

    @Test func aTypedPayloadThatEncodesNilIsNoPayload() throws {
        let codec = EventCodec()
        let typed = Event(UnusualPayload(mode: .nilSingleValue))
        let empty = Event(id: typed.id, type: typed.type, payload: .value(.null), timestamp: typed.timestamp)
        #expect(try codec.encode(typed) == codec.encode(empty))
        let metadata = Event(id: typed.id, type: typed.type, payload: .typed(UnusualPayload(mode: .nilSingleValue)), timestamp: typed.timestamp, source: "s", metadata: ["k": "v"], origin: EventOrigin(node: "n", incarnation: 1, sequence: 2, hops: 3))
        let metadataEmpty = Event(id: typed.id, type: typed.type, payload: .value(.null), timestamp: typed.timestamp, source: "s", metadata: ["k": "v"], origin: EventOrigin(node: "n", incarnation: 1, sequence: 2, hops: 3))
        #expect(try codec.encode(metadata) == codec.encode(metadataEmpty))
        #expect(try codec.decode(codec.encode(metadata)).origin?.hops == 3)
    }

    @Test func anUnencodableTypedPayloadIsTheEncodersTypedError() {
        let event = Event(UnusualPayload(mode: .hugeUnsigned))
        do {
            _ = try EventCodec().encode(event)
            Issue.record("encoded a UInt64 above Int64.max")
        } catch {
            #expect(error.code == .invalidField)
            #expect(error.field == "p")
        }
    }
}
