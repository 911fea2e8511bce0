import Foundation
import Synchronization
import Testing
@testable import EventBus
@testable import EventWire

// MARK: - Test types

/// A payload with a field of every kind the decoders treat specially.
struct EveryKind: Codable, Equatable {
    var int: Int
    var int8: Int8
    var int16: Int16
    var int32: Int32
    var int64: Int64
    var uint: UInt
    var uint8: UInt8
    var uint16: UInt16
    var uint32: UInt32
    var uint64: UInt64
    var float: Float
    var double: Double
    var bool: Bool
    var string: String
    var date: Date
    var data: Data
    var uuid: UUID
    var optional: Int?
    var strings: [String]
    var inner: Inner?
    var inners: [Inner]
    var table: [String: Double]
    var matrix: [[Int16]]
}

struct Inner: Codable, Equatable {
    var name: String
    var tags: Set<String>?
    var values: [Int64]
}

/// A payload that counts how often it is decoded (only the caching test decodes it).
struct CountedPayload: Decodable, Sendable {
    static let decodings = Atomic<Int>(0)
    var name: String
    enum CodingKeys: String, CodingKey { case name }
    init(from decoder: any Decoder) throws {
        Self.decodings.add(1, ordering: .relaxed)
        name = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .name)
    }
}

struct OtherCountedPayload: Decodable, Sendable { var name: String }

/// A coding key for any string or integer.
struct AnyKey: CodingKey, Hashable {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }
}

/// Probes whatever it is decoded from with every container operation and records what each
/// returned or threw, so that two decoders can be compared call for call. Its `init(from:)`
/// never throws.
struct Explorer: Decodable, Equatable {
    var transcript: [String] = []

    init(from decoder: any Decoder) {
        transcript.append("path \(describe(decoder.codingPath))")
        do {
            let keyed = try decoder.container(keyedBy: AnyKey.self)
            exploreMap(keyed)
            return
        } catch {
            transcript.append("keyed: \(describe(error))")
        }
        do {
            var unkeyed = try decoder.unkeyedContainer()
            exploreArray(&unkeyed)
            return
        } catch {
            transcript.append("unkeyed: \(describe(error))")
        }
        do {
            let single = try decoder.singleValueContainer()
            exploreSingleValue(single)
        } catch {
            transcript.append("single: \(describe(error))")
        }
    }

    /// Records what `body` returns or throws; a long result is abbreviated to its start, its
    /// length and its hash (the same value gives the same hash within one process).
    private mutating func record<T>(_ label: String, _ body: () throws -> T) {
        do {
            let result = String(reflecting: try body())
            if result.utf8.count <= 120 {
                transcript.append("\(label) = \(result)")
            } else {
                transcript.append("\(label) = \(result.prefix(60))… (\(result.utf8.count) bytes, hash \(result.hashValue))")
            }
        } catch {
            transcript.append("\(label) threw \(describe(error))")
        }
    }

    private mutating func exploreMap(_ keyed: KeyedDecodingContainer<AnyKey>) {
        let keys = keyed.allKeys.map(\.stringValue).sorted()
        transcript.append("map keys \(keys) at \(describe(keyed.codingPath))")
        for name in keys + ["missing-key"] {
            let key = AnyKey(stringValue: name)
            record("contains \(name)") { keyed.contains(key) }
            record("nil \(name)") { try keyed.decodeNil(forKey: key) }
            record("bool \(name)") { try keyed.decode(Bool.self, forKey: key) }
            record("string \(name)") { try keyed.decode(String.self, forKey: key) }
            record("int \(name)") { try keyed.decode(Int.self, forKey: key) }
            record("int8 \(name)") { try keyed.decode(Int8.self, forKey: key) }
            record("uint64 \(name)") { try keyed.decode(UInt64.self, forKey: key) }
            record("double \(name)") { try keyed.decode(Double.self, forKey: key) }
            record("float \(name)") { try keyed.decode(Float.self, forKey: key) }
            record("int? \(name)") { try keyed.decodeIfPresent(Int.self, forKey: key) }
            record("string? \(name)") { try keyed.decodeIfPresent(String.self, forKey: key) }
            record("date \(name)") { try keyed.decode(Date.self, forKey: key) }
            record("uuid \(name)") { try keyed.decode(UUID.self, forKey: key) }
            record("data \(name)") { try keyed.decode(Data.self, forKey: key) }
            record("[int]? \(name)") { try keyed.decodeIfPresent([Int].self, forKey: key) }
            record("nested map \(name)") { try keyed.nestedContainer(keyedBy: AnyKey.self, forKey: key).allKeys.count }
            record("nested array \(name)") { try keyed.nestedUnkeyedContainer(forKey: key).count }
            record("super \(name)") { try keyed.superDecoder(forKey: key).singleValueContainer().decodeNil() }
            if name.hasPrefix("m") || name.hasPrefix("k") || name.hasPrefix("i") {
                record("explore? \(name)") { try keyed.decodeIfPresent(Explorer.self, forKey: key)?.transcript }
            } else {
                record("explore \(name)") { try keyed.decode(Explorer.self, forKey: key).transcript }
            }
        }
        record("super") { try Explorer(from: keyed.superDecoder()).transcript }
    }

    private mutating func exploreArray(_ unkeyed: inout any UnkeyedDecodingContainer) {
        transcript.append("array of \(String(describing: unkeyed.count)) at \(describe(unkeyed.codingPath))")
        var step = 0
        while !unkeyed.isAtEnd {
            transcript.append("index \(unkeyed.currentIndex)")
            switch step % 4 {
            case 0:
                record("nil") { try unkeyed.decodeNil() }
                record("explore") { try unkeyed.decode(Explorer.self).transcript }
            case 1:
                record("int") { try unkeyed.decode(Int.self) }
                record("string") { try unkeyed.decode(String.self) }
                record("double?") { try unkeyed.decodeIfPresent(Double.self) }
                record("explore") { try unkeyed.decode(Explorer.self).transcript }
            case 2:
                record("nested map") { try unkeyed.nestedContainer(keyedBy: AnyKey.self).allKeys.map(\.stringValue).sorted() }
                if !unkeyed.isAtEnd { record("nested array") { try unkeyed.nestedUnkeyedContainer().count } }
                if !unkeyed.isAtEnd { record("super") { try Explorer(from: unkeyed.superDecoder()).transcript } }
            default:
                record("uuid") { try unkeyed.decode(UUID.self) }
                record("date") { try unkeyed.decode(Date.self) }
                record("explore") { try unkeyed.decode(Explorer.self).transcript }
            }
            step += 1
        }
        record("past the end") { try unkeyed.decode(Int.self) }
        record("nil past the end") { try unkeyed.decodeNil() }
        record("nested past the end") { try unkeyed.nestedContainer(keyedBy: AnyKey.self).allKeys.count }
        record("super past the end") { try unkeyed.superDecoder().codingPath.count }
    }

    private mutating func exploreSingleValue(_ single: any SingleValueDecodingContainer) {
        transcript.append("single at \(describe(single.codingPath))")
        record("nil") { single.decodeNil() }
        record("bool") { try single.decode(Bool.self) }
        record("string") { try single.decode(String.self) }
        record("int") { try single.decode(Int.self) }
        record("int16") { try single.decode(Int16.self) }
        record("uint8") { try single.decode(UInt8.self) }
        record("uint") { try single.decode(UInt.self) }
        record("int64") { try single.decode(Int64.self) }
        record("double") { try single.decode(Double.self) }
        record("float") { try single.decode(Float.self) }
        record("date") { try single.decode(Date.self) }
        record("data") { try single.decode(Data.self) }
        record("uuid") { try single.decode(UUID.self) }
        record("optional") { try single.decode(Int?.self) }
    }
}

/// A decoding error (or any error) as one comparable line: kind, type, coding path (string and
/// integer values of each key) and description.
func describe(_ error: any Error) -> String {
    guard let decoding = error as? DecodingError else { return "\(type(of: error)): \(error)" }
    switch decoding {
    case .keyNotFound(let key, let context):
        return "keyNotFound(\(describe([key]))) at \(describe(context.codingPath)): \(context.debugDescription)"
    case .valueNotFound(let type, let context):
        return "valueNotFound(\(type)) at \(describe(context.codingPath)): \(context.debugDescription)"
    case .typeMismatch(let type, let context):
        return "typeMismatch(\(type)) at \(describe(context.codingPath)): \(context.debugDescription)"
    case .dataCorrupted(let context):
        return "dataCorrupted at \(describe(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return "\(decoding)"
    }
}

func describe(_ path: [any CodingKey]) -> String {
    "[" + path.map { key in key.intValue.map { "\(key.stringValue)#\($0)" } ?? key.stringValue }.joined(separator: ", ") + "]"
}

/// A decoding's result, comparable: the value, or the described error.
enum Outcome<T: Equatable>: Equatable, CustomStringConvertible {
    case value(T)
    case failure(String)

    init(_ body: () throws -> T) {
        do {
            self = .value(try body())
        } catch {
            self = .failure(describe(error))
        }
    }

    var description: String {
        switch self {
        case .value(let value): "value \(value)"
        case .failure(let error): "error \(error)"
        }
    }

    var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}

// MARK: - Helpers

enum Payloads {
    /// `value` encoded and validated, as ``EventCodec`` stores a payload it decoded.
    static func wire(_ value: EventValue) throws -> WirePayload {
        var writer = MessagePackWriter()
        writer.write(value)
        return try wire(bytes: writer.bytes)
    }

    /// The payload in `bytes` (one whole value), validated.
    static func wire(bytes: [UInt8]) throws -> WirePayload {
        var reader = MessagePackReader(bytes: bytes)
        let isCanonical = try reader.validateValue()
        #expect(reader.isAtEnd)
        return WirePayload(frame: bytes, range: 0..<bytes.count, isCanonical: isCanonical)
    }

    /// Decodes `type` from `value` both ways and checks that the outcomes are the same.
    ///
    /// With `errorsMayDiffer`, two failures count as the same whatever their errors: for types
    /// that decode a map by iterating `allKeys` (dictionaries), the first failing key is the
    /// first in `allKeys`, which is the encoded order here but a `Dictionary`'s order (seeded
    /// per process) for `EventValueDecoder`.
    @discardableResult
    static func expectSameDecoding<T: Decodable & Equatable>(
        _ type: T.Type, from value: EventValue, errorsMayDiffer: Bool = false, _ comment: @autoclosure () -> String = "",
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Outcome<T> {
        let payload = try wire(value)
        let fromBytes = Outcome { try payload.decode(T.self) }
        let fromValue = Outcome { try EventValueDecoder().decode(T.self, from: value) }
        if errorsMayDiffer && fromBytes.isFailure && fromValue.isFailure { return fromBytes }
        #expect(fromBytes == fromValue, "decoding \(T.self) from \(value) \(comment())", sourceLocation: sourceLocation)
        return fromBytes
    }

    static func double(_ rng: inout SeededGenerator) -> Double {
        [0, -0.0, 1.5, -2, 1e300, -1e-300, .infinity, -.infinity, 3e38, 4e38, 255, 256, -129, 9.2e18, 1.8e19]
            .randomElement(using: &rng)!
    }

    static func uuid(_ rng: inout SeededGenerator) -> UUID {
        let (a, b) = (rng.next(), rng.next())
        return withUnsafeBytes(of: (a, b)) { raw in
            UUID(uuid: (raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7], raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15]))
        }
    }

    static func inner(_ rng: inout SeededGenerator) -> Inner {
        let tags: Set<String>? = Bool.random(using: &rng) ? nil : Set((0..<Int.random(in: 0..<3, using: &rng)).map { "t\($0)" })
        return Inner(
            name: RandomEvents.string(&rng), tags: tags,
            values: (0..<Int.random(in: 0..<3, using: &rng)).map { _ in Int64(bitPattern: rng.next()) })
    }

    static func everyKind(_ rng: inout SeededGenerator) -> EveryKind {
        var bytes: [UInt8] = []
        for _ in 0..<Int.random(in: 0..<20, using: &rng) { bytes.append(UInt8.random(in: 0...255, using: &rng)) }
        return EveryKind(
            int: Int(truncatingIfNeeded: rng.next()), int8: .random(in: .min ... .max, using: &rng),
            int16: .random(in: .min ... .max, using: &rng), int32: .random(in: .min ... .max, using: &rng),
            int64: .random(in: .min ... .max, using: &rng), uint: .random(in: 0...UInt(Int64.max), using: &rng),
            uint8: .random(in: .min ... .max, using: &rng), uint16: .random(in: .min ... .max, using: &rng),
            uint32: .random(in: .min ... .max, using: &rng), uint64: .random(in: 0...UInt64(Int64.max), using: &rng),
            float: Float.random(in: -1e6...1e6, using: &rng), double: double(&rng), bool: .random(using: &rng),
            string: RandomEvents.string(&rng), date: Date(timeIntervalSince1970: Double(Int.random(in: -4_000_000_000...40_000_000_000, using: &rng)) / 4),
            data: Data(bytes), uuid: uuid(&rng),
            optional: Bool.random(using: &rng) ? nil : Int.random(in: -5...5, using: &rng),
            strings: (0..<Int.random(in: 0..<4, using: &rng)).map { _ in RandomEvents.string(&rng) },
            inner: Bool.random(using: &rng) ? nil : inner(&rng),
            inners: (0..<Int.random(in: 0..<3, using: &rng)).map { _ in inner(&rng) },
            table: Dictionary(uniqueKeysWithValues: (0..<Int.random(in: 0..<4, using: &rng)).map { ("k\($0)", double(&rng)) }),
            matrix: (0..<Int.random(in: 0..<3, using: &rng)).map { _ in (0..<Int.random(in: 0..<3, using: &rng)).map { _ in Int16.random(in: .min ... .max, using: &rng) } })
    }

    /// `value` with one random change: a leaf replaced, a key removed or added, a value set to
    /// nil, an integer turned into a double (integral or not), or nothing.
    static func mutate(_ value: EventValue, _ rng: inout SeededGenerator) -> EventValue {
        switch value {
        case .map(var entries) where !entries.isEmpty && Int.random(in: 0..<3, using: &rng) > 0:
            let key = entries.keys.sorted().randomElement(using: &rng)!
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: entries[key] = nil
            case 1: entries[key] = .null
            case 2: entries["extra"] = RandomEvents.value(&rng)
            default: entries[key] = mutate(entries[key]!, &rng)
            }
            return .map(entries)
        case .array(var elements) where !elements.isEmpty && Int.random(in: 0..<3, using: &rng) > 0:
            let index = Int.random(in: elements.indices, using: &rng)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: elements.remove(at: index)
            case 1: elements[index] = .null
            default: elements[index] = mutate(elements[index], &rng)
            }
            return .array(elements)
        case .int(let int) where Bool.random(using: &rng):
            return Bool.random(using: &rng) ? .double(Double(int)) : .double(Double(int) + 0.5)
        default:
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: return RandomEvents.value(&rng)
            case 1: return [.string("e621e1f8-c36c-495a-93fc-0c247a3e6e5f"), .string("E621E1F8-C36C-495A-93FC-0C247A3E6E5F"), .string("not-a-uuid"), .bytes(Array(0..<16)), .bytes(Array(0..<15))].randomElement(using: &rng)!
            case 2: return [.int(127), .int(128), .int(-129), .int(Int64.max), .int(-1), .double(1e40), .double(-0.0), .double(3.0)].randomElement(using: &rng)!
            default: return value
            }
        }
    }
}

// MARK: - Tests

/// Decoding a payload straight from its bytes gives what decoding its `EventValue` with
/// `EventValueDecoder` gives: the same value, or the same error.
@Suite struct MessagePackDecoderTests {
    @Test func structsDecodeFromBytesAsFromTheirValue() throws {
        var rng = SeededGenerator(seed: codecTestSeed)
        var failures = 0
        for round in 0..<150 {
            let original = Payloads.everyKind(&rng)
            let value = try EventValueEncoder().encode(original)
            // The unchanged value decodes to the original, both ways.
            let exact = try Payloads.expectSameDecoding(EveryKind.self, from: value, "round \(round) (seed \(codecTestSeed))")
            #expect(exact == .value(original), "round \(round) (seed \(codecTestSeed))")
            // Changed values decode, or fail, alike.
            var mutated = value
            for _ in 0..<Int.random(in: 1...3, using: &rng) { mutated = Payloads.mutate(mutated, &rng) }
            if try Payloads.expectSameDecoding(EveryKind.self, from: mutated, "round \(round) (seed \(codecTestSeed))").isFailure {
                failures += 1
            }
            try Payloads.expectSameDecoding(Inner.self, from: mutated)
            try Payloads.expectSameDecoding([String: Int].self, from: mutated, errorsMayDiffer: true)
            if round.isMultiple(of: 3) {
                try Payloads.expectSameDecoding(Explorer.self, from: mutated, "round \(round) (seed \(codecTestSeed))")
            }
        }
        #expect(failures > 15 && failures < 145, "the mutations reach both outcomes (\(failures) failures)")
    }

    @Test func randomValuesDecodeFromBytesAsFromTheirValue() throws {
        var rng = SeededGenerator(seed: codecTestSeed ^ 0xdec0de)
        for round in 0..<150 {
            let value = round < 30 ? Payloads.mutate(.null, &rng) : RandomEvents.value(&rng)
            let comment = "round \(round) (seed \(codecTestSeed))"
            try Payloads.expectSameDecoding(Explorer.self, from: value, comment)
            try Payloads.expectSameDecoding(Int.self, from: value, comment)
            try Payloads.expectSameDecoding(UInt8.self, from: value, comment)
            try Payloads.expectSameDecoding(Double.self, from: value, comment)
            try Payloads.expectSameDecoding(Float.self, from: value, comment)
            try Payloads.expectSameDecoding(String?.self, from: value, comment)
            try Payloads.expectSameDecoding(Date.self, from: value, comment)
            try Payloads.expectSameDecoding(UUID.self, from: value, comment)
            try Payloads.expectSameDecoding(Data.self, from: value, comment)
            try Payloads.expectSameDecoding([Int?].self, from: value, comment)
            try Payloads.expectSameDecoding([String: [Bool]].self, from: value, errorsMayDiffer: true, comment)
        }
    }

    @Test func everyKindOfDecodingErrorMatches() throws {
        struct Point: Codable, Equatable {
            var x: Int8
            var label: String
            var id: UUID?
        }
        let cases: [(EventValue, String)] = [
            (["label": "a"], #"keyNotFound([x]) at []: No value associated with key "x"."#),
            (["x": nil, "label": "a"], "valueNotFound(Int8) at [x]: Expected Int8 value but found null instead."),
            (["x": 1, "label": 2], "typeMismatch(String) at [label]: Expected to decode String but found an int instead."),
            (["x": 128, "label": "a"], "dataCorrupted at [x]: Number 128 does not fit in Int8 (-128...127)."),
            (["x": 1.5, "label": "a"], "dataCorrupted at [x]: Number 1.5 is not an integer in Int8's range (-128...127)."),
            (["x": 1, "label": "a", "id": "not-a-uuid"], #"dataCorrupted at [id]: Invalid UUID string "not-a-uuid"."#),
            (["x": 1, "label": "a", "id": .bytes([1, 2, 3])], "dataCorrupted at [id]: A UUID needs exactly 16 bytes, found 3."),
            (["x": 1, "label": "a", "id": 7], "typeMismatch(UUID) at [id]: Expected to decode UUID but found an int instead."),
            ([1, 2], "typeMismatch(EventMap) at []: Expected a map but found an array instead."),
            (nil, "valueNotFound(EventMap) at []: Cannot get a keyed decoding container: found null instead of a map."),
        ]
        for (value, expected) in cases {
            let outcome = try Payloads.expectSameDecoding(Point.self, from: value)
            #expect(outcome == .failure(expected), "\(value)")
        }
        // Paths reach into nested values and array elements.
        let nested: EventValue = ["inners": [["name": "a", "values": []], ["name": "b", "values": [1, "two"]]]]
        struct Holder: Codable, Equatable { var inners: [Inner] }
        let outcome = try Payloads.expectSameDecoding(Holder.self, from: nested)
        #expect(outcome == .failure("typeMismatch(Int64) at [inners, Index 1#1, values, Index 1#1]: Expected to decode Int64 but found a string instead."))
        // Past the end of an array, and a float that does not fit.
        try Payloads.expectSameDecoding([Int].self, from: [1, nil])
        #expect(try Payloads.expectSameDecoding(Float.self, from: .double(1e300)).isFailure)
        #expect(try Payloads.expectSameDecoding(Int.self, from: .double(9.3e18)).isFailure)
        #expect(try Payloads.expectSameDecoding(Int64.self, from: .double(-9.223372036854775808e18)) == .value(.min))
    }

    @Test func keysThatAreTheSameStringInOtherBytesAreFound() throws {
        struct Kelvin: Codable, Equatable {
            var k: Int
            var e: Int
            enum CodingKeys: String, CodingKey {
                case k = "K"
                case e = "\u{E9}"  // é, precomposed
            }
        }
        // KELVIN SIGN is canonically equivalent to "K"; "e" + combining acute to "é": a Swift
        // dictionary finds either spelling, so the bytes decoder must too.
        let spellings: [EventValue] = [
            ["K": 1, "\u{E9}": 2], ["\u{212A}": 1, "e\u{301}": 2], ["K": 1, "e\u{301}": 2], ["\u{212A}": 1, "\u{E9}": 2],
        ]
        for value in spellings {
            #expect(try Payloads.expectSameDecoding(Kelvin.self, from: value) == .value(Kelvin(k: 1, e: 2)), "\(value)")
        }
        struct Ascii: Codable, Equatable { var K: Int }
        #expect(try Payloads.expectSameDecoding(Ascii.self, from: ["\u{212A}": 3]) == .value(Ascii(K: 3)))
        #expect(try Payloads.expectSameDecoding(Ascii.self, from: ["k": 3]).isFailure)
        // Keys longer than 8 bytes, equal in their first 8 bytes.
        struct Long: Codable, Equatable {
            var abcdefgh1: Int
            var abcdefgh12: Int
            var abcdefgh: Int
        }
        let long: EventValue = ["abcdefgh12": 2, "abcdefgh1": 1, "abcdefgh": 0, "abcdefgh2": 9]
        #expect(try Payloads.expectSameDecoding(Long.self, from: long) == .value(Long(abcdefgh1: 1, abcdefgh12: 2, abcdefgh: 0)))
    }

    @Test func superDecodersAndNestedContainersMatch() throws {
        final class Base: Codable {
            var id: Int
            init(id: Int) { self.id = id }
        }
        final class Derived: Codable, Equatable {
            var base: Int
            var name: String
            var extra: [String]
            static func == (a: Derived, b: Derived) -> Bool { a.base == b.base && a.name == b.name && a.extra == b.extra }
            enum CodingKeys: String, CodingKey { case name, nested }
            enum NestedKeys: String, CodingKey { case extra }
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                name = try container.decode(String.self, forKey: .name)
                base = try Base(from: container.superDecoder()).id
                let nested = try container.nestedContainer(keyedBy: NestedKeys.self, forKey: .nested)
                var list = try nested.nestedUnkeyedContainer(forKey: .extra)
                var extra: [String] = []
                while !list.isAtEnd { extra.append(try list.decode(String.self)) }
                self.extra = extra
            }
            func encode(to encoder: any Encoder) throws {}
        }
        let good: EventValue = ["name": "n", "super": ["id": 4], "nested": ["extra": ["a", "b"]]]
        let outcome = try Payloads.expectSameDecoding(Derived.self, from: good)
        #expect(outcome == .value(try EventValueDecoder().decode(Derived.self, from: good)))
        try Payloads.expectSameDecoding(Derived.self, from: ["name": "n", "nested": ["extra": []]])
        try Payloads.expectSameDecoding(Derived.self, from: ["name": "n", "super": ["id": 4], "nested": ["extra": [1]]])
        try Payloads.expectSameDecoding(Derived.self, from: ["name": "n", "super": ["id": 4], "nested": 5])
    }

    @Test func topLevelPrimitivesAndOptionals() throws {
        let date = Date(timeIntervalSince1970: 1_764_398_469.25)
        #expect(try Payloads.expectSameDecoding(Date.self, from: .double(1_764_398_469.25)) == .value(date))
        #expect(try Payloads.expectSameDecoding(Date.self, from: .int(12)) == .value(Date(timeIntervalSince1970: 12)))
        let uuid = try #require(UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"))
        #expect(try Payloads.expectSameDecoding(UUID.self, from: "e621e1f8-c36c-495a-93fc-0c247a3e6e5f") == .value(uuid))
        #expect(try Payloads.expectSameDecoding(UUID.self, from: .bytes(withUnsafeBytes(of: uuid.uuid) { Array($0) })) == .value(uuid))
        #expect(try Payloads.expectSameDecoding(Data.self, from: .bytes([1, 2])) == .value(Data([1, 2])))
        #expect(try Payloads.expectSameDecoding(Int?.self, from: nil) == .value(nil))
        #expect(try Payloads.expectSameDecoding(String.self, from: "é😀") == .value("é😀"))
        #expect(try Payloads.expectSameDecoding(Double.self, from: 3) == .value(3))
        #expect(try Payloads.expectSameDecoding(UInt64.self, from: .int(-1)).isFailure)
        // float32 on the wire reads as the double it widens to.
        let float32 = try Payloads.wire(bytes: [0xca, 0x3f, 0xc0, 0x00, 0x00])
        #expect(try float32.decode(Double.self) == 1.5)
        #expect(try float32.decodeValue() == .double(1.5))
    }

    /// The bus converts an encoded payload once per event and type, however often it is read.
    @Test func theTypedConversionRunsOncePerEventAndType() throws {
        let codec = EventCodec()
        let sent = Event(type: "counted.event", data: ["name": "n", "more": [1, 2]])
        let event = try codec.decode(try codec.encode(sent))
        guard case .encoded(let encoded) = event.payload else {
            Issue.record("the decoded payload is not kept encoded: \(event.payload)")
            return
        }
        #expect(encoded is WirePayload)
        let before = CountedPayload.decodings.load(ordering: .relaxed)
        #expect(try event.payload(as: CountedPayload.self).name == "n")
        #expect(try event.payload(as: CountedPayload.self).name == "n")
        let copy = event
        #expect(try copy.payload(as: CountedPayload.self).name == "n")
        #expect(CountedPayload.decodings.load(ordering: .relaxed) - before == 1, "one conversion for three reads")
        #expect(try event.payload(as: OtherCountedPayload.self).name == "n")
        #expect(event.data == ["name": "n", "more": [1, 2]])
        // A fresh decode of the same bytes is another event: it converts again.
        let again = try codec.decode(try codec.encode(sent))
        #expect(try again.payload(as: CountedPayload.self).name == "n")
        #expect(CountedPayload.decodings.load(ordering: .relaxed) - before == 2)
    }
}
