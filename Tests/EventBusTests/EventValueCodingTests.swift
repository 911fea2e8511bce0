#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
@testable import EventBus

// MARK: - Fixtures

private enum CodedPriority: Int, Codable, Equatable {
    case low = 1
    case high = 9
}

private enum CodedChannel: String, Codable, Equatable {
    case email
    case sms = "text-message"
}

private enum CodedShape: Codable, Equatable {
    case circle(radius: Double)
    case rect(Double, Double)
    case point
}

private struct CodedItem: Codable, Equatable {
    var name: String
    var quantity: Int
    var tags: [String]
}

private struct CodedOrder: Codable, Equatable {
    var id: UUID
    var createdAt: Date
    var note: String?
    var discount: Double?
    var items: [CodedItem]
    var byWarehouse: [String: CodedItem]
    var counts: [Int: String]
    var priority: CodedPriority
    var channel: CodedChannel?
    var shapes: [CodedShape]
    var signature: Data
    var flags: [Bool?]
}

private struct CodedIntegers: Codable, Equatable {
    var i: Int
    var i8: Int8
    var i16: Int16
    var i32: Int32
    var i64: Int64
    var u: UInt
    var u8: UInt8
    var u16: UInt16
    var u32: UInt32
    var u64: UInt64

    static let min = CodedIntegers(
        i: .min, i8: .min, i16: .min, i32: .min, i64: .min, u: .min, u8: .min, u16: .min, u32: .min, u64: .min
    )
    /// `UInt` and `UInt64` capped at `Int64.max`, the largest value an `EventValue.int` holds.
    static let max = CodedIntegers(
        i: .max, i8: .max, i16: .max, i32: .max, i64: .max,
        u: UInt(Int64.max), u8: .max, u16: .max, u32: .max, u64: UInt64(Int64.max)
    )
}

private struct Boxed<T: Codable & Equatable>: Codable, Equatable {
    var value: T
}

/// A class hierarchy whose subclass encodes its superclass through `superEncoder()`.
private class CodedAnimal: Codable {
    var name: String
    init(name: String) { self.name = name }
}

private final class CodedDog: CodedAnimal {
    var tricks: [String]
    var home: (city: String, zip: Int)

    private enum CodingKeys: String, CodingKey { case tricks, home, legacy }
    private enum HomeKeys: String, CodingKey { case city, zip }

    init(name: String, tricks: [String], home: (city: String, zip: Int)) {
        self.tricks = tricks
        self.home = home
        super.init(name: name)
    }

    required init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        var trickList = try container.nestedUnkeyedContainer(forKey: .tricks)
        var tricks: [String] = []
        while !trickList.isAtEnd { tricks.append(try trickList.decode(String.self)) }
        self.tricks = tricks
        let home = try container.nestedContainer(keyedBy: HomeKeys.self, forKey: .home)
        self.home = (try home.decode(String.self, forKey: .city), try home.decode(Int.self, forKey: .zip))
        try super.init(from: container.superDecoder())
    }

    override func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        var trickList = container.nestedUnkeyedContainer(forKey: .tricks)
        for trick in tricks { try trickList.encode(trick) }
        var home = container.nestedContainer(keyedBy: HomeKeys.self, forKey: .home)
        try home.encode(self.home.city, forKey: .city)
        try home.encode(self.home.zip, forKey: .zip)
        try super.encode(to: container.superEncoder())
        // A second, keyed super encoder and a nested container inside an unkeyed one.
        var legacy = container.superEncoder(forKey: .legacy).unkeyedContainer()
        var pair = legacy.nestedContainer(keyedBy: HomeKeys.self)
        try pair.encode(self.home.zip, forKey: .zip)
        try legacy.encode(name)
    }
}

/// Encodes through the single-value container twice: a misuse the encoder must report.
private struct DoubleSingleValueMisuse: Encodable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(1)
        try container.encode(2)
    }
}

/// Requests a keyed container after encoding a single value.
private struct KeyedAfterSingleMisuse: Encodable {
    private enum CodingKeys: String, CodingKey { case a }
    func encode(to encoder: any Encoder) throws {
        var single = encoder.singleValueContainer()
        try single.encode(1)
        var keyed = encoder.container(keyedBy: CodingKeys.self)
        try keyed.encode(2, forKey: .a)
    }
}

/// Encodes nothing at all.
private struct SilentValue: Encodable {
    func encode(to encoder: any Encoder) throws {}
}

/// Reads and writes one `userInfo` entry.
private struct CodingUserInfoProbe: Codable, Equatable {
    static let key = CodingUserInfoKey(rawValue: "probe")!
    var seen: String

    init(seen: String) { self.seen = seen }

    init(from decoder: any Decoder) throws {
        seen = decoder.userInfo[Self.key] as? String ?? "none"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(encoder.userInfo[Self.key] as? String ?? "none")
    }
}

private let valueEncoder = EventValueEncoder()
private let valueDecoder = EventValueDecoder()

private func codingRoundTrip<T: Codable & Equatable>(_ value: T) throws -> EventValue {
    let encoded = try valueEncoder.encode(value)
    let decoded = try valueDecoder.decode(T.self, from: encoded)
    #expect(decoded == value, "round trip of \(value) through \(encoded)")
    return encoded
}

private func keyStrings(_ path: [any CodingKey]) -> [String] {
    path.map { $0.stringValue }
}

// MARK: - Tests

@Suite("EventValue coding")
struct EventValueCodingTests {
    @Test func topLevelSingleValues() throws {
        #expect(try valueEncoder.encode(42) == .int(42))
        #expect(try valueEncoder.encode("x") == .string("x"))
        #expect(try valueEncoder.encode([1, 2]) == .array([.int(1), .int(2)]))
        #expect(try valueEncoder.encode(nil as Int?) == .null)
        #expect(try valueEncoder.encode(Optional(7)) == .int(7))
        #expect(try valueEncoder.encode(true) == .bool(true))
        #expect(try valueEncoder.encode(Float(1.5)) == .double(1.5))
        #expect(try valueEncoder.encode([String: Int]()) == .map([:]))
        #expect(try valueEncoder.encode(["a": [1], "b": []]) == .map(["a": .array([.int(1)]), "b": .array([])]))

        #expect(try valueDecoder.decode(Int.self, from: .int(42)) == 42)
        #expect(try valueDecoder.decode(String.self, from: .string("x")) == "x")
        #expect(try valueDecoder.decode([Int].self, from: [1, 2]) == [1, 2])
        #expect(try valueDecoder.decode(Int?.self, from: .null) == nil)
        #expect(try valueDecoder.decode(Int?.self, from: .int(3)) == 3)
        #expect(try valueDecoder.decode([Int?].self, from: [1, nil, 3]) == [1, nil, 3])
    }

    @Test func nestedStructRoundTrip() throws {
        let id = UUID(uuidString: "E621E1F8-C36C-495A-93FC-0C247A3E6E5F")!
        let full = CodedOrder(
            id: id,
            createdAt: Date(timeIntervalSince1970: 1_700_000_000.25),
            note: "leave at door",
            discount: 0.1,
            items: [CodedItem(name: "apple", quantity: 3, tags: ["fruit"]), CodedItem(name: "pear", quantity: 0, tags: [])],
            byWarehouse: ["north": CodedItem(name: "fig", quantity: 1, tags: ["a", "b"])],
            counts: [1: "one", -2: "minus two"],
            priority: .high,
            channel: .sms,
            shapes: [.circle(radius: 2), .rect(1, 3), .point],
            signature: Data([0xDE, 0xAD, 0xBE, 0xEF]),
            flags: [true, nil, false]
        )
        let encoded = try codingRoundTrip(full)
        #expect(encoded["id"] == .string("e621e1f8-c36c-495a-93fc-0c247a3e6e5f"))
        #expect(encoded["createdAt"] == .double(1_700_000_000.25))
        #expect(encoded["note"] == .string("leave at door"))
        #expect(encoded["items"]?[0] == ["name": "apple", "quantity": 3, "tags": ["fruit"]])
        #expect(encoded["byWarehouse"]?["north"]?["tags"] == ["a", "b"])
        #expect(encoded["counts"] == ["1": "one", "-2": "minus two"])
        #expect(encoded["priority"] == .int(9))
        #expect(encoded["channel"] == .string("text-message"))
        #expect(encoded["shapes"]?[0] == ["circle": ["radius": 2.0]])
        #expect(encoded["shapes"]?[1] == ["rect": ["_0": 1.0, "_1": 3.0]])
        #expect(encoded["shapes"]?[2] == ["point": .map([:])])
        #expect(encoded["signature"] == .bytes([0xDE, 0xAD, 0xBE, 0xEF]))
        #expect(encoded["flags"] == [true, nil, false])
        #expect(encoded.mapValue?.count == 12)

        var sparse = full
        sparse.note = nil
        sparse.discount = nil
        sparse.channel = nil
        sparse.items = []
        sparse.byWarehouse = [:]
        let sparseEncoded = try codingRoundTrip(sparse)
        // encodeIfPresent(nil) omits the key instead of writing null.
        #expect(sparseEncoded["note"] == nil)
        #expect(sparseEncoded["discount"] == nil)
        #expect(sparseEncoded["channel"] == nil)
        #expect(sparseEncoded["items"] == .array([]))
        #expect(sparseEncoded["byWarehouse"] == .map([:]))
        #expect(sparseEncoded.mapValue?.count == 9)

        // An explicit null decodes to nil as well.
        guard case .map(var withNulls) = sparseEncoded else { Issue.record("not a map"); return }
        withNulls["note"] = .null
        withNulls["channel"] = .null
        #expect(try valueDecoder.decode(CodedOrder.self, from: .map(withNulls)) == sparse)
    }

    @Test func everyIntegerWidthAtItsLimits() throws {
        let min = try codingRoundTrip(CodedIntegers.min)
        #expect(min["i"] == .int(Int64(Int.min)))
        #expect(min["i8"] == .int(-128))
        #expect(min["i16"] == .int(-32768))
        #expect(min["i32"] == .int(Int64(Int32.min)))
        #expect(min["i64"] == .int(.min))
        for key in ["u", "u8", "u16", "u32", "u64"] { #expect(min[key] == .int(0)) }

        let max = try codingRoundTrip(CodedIntegers.max)
        #expect(max["i8"] == .int(127))
        #expect(max["u8"] == .int(255))
        #expect(max["u16"] == .int(65535))
        #expect(max["u32"] == .int(Int64(UInt32.max)))
        #expect(max["u64"] == .int(.max))
        #expect(max["u"] == .int(.max))

        // Through every container kind, not just keyed ones.
        #expect(try codingRoundTrip([Int8.min, Int8.max]) == [-128, 127])
        #expect(try codingRoundTrip(UInt64(Int64.max)) == .int(.max))
        #expect(try codingRoundTrip(Int64.min) == .int(.min))
        #expect(try codingRoundTrip(Boxed(value: UInt16.max)) == ["value": 65535])
    }

    @Test func unsignedAboveInt64MaxFailsToEncode() {
        let big = UInt64(Int64.max) + 1
        func expectInvalidValue(_ body: () throws -> EventValue, path: [String]) {
            do {
                let value = try body()
                Issue.record("expected EncodingError.invalidValue, got \(value)")
            } catch EncodingError.invalidValue(_, let context) {
                #expect(keyStrings(context.codingPath) == path)
                #expect(context.debugDescription.contains("Int64.max"))
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        expectInvalidValue({ try valueEncoder.encode(big) }, path: [])
        expectInvalidValue({ try valueEncoder.encode(UInt.max) }, path: [])
        expectInvalidValue({ try valueEncoder.encode(Boxed(value: UInt64.max)) }, path: ["value"])
        expectInvalidValue({ try valueEncoder.encode([1, big]) }, path: ["Index 1"])
        expectInvalidValue({ try valueEncoder.encode(["k": Boxed(value: UInt.max)]) }, path: ["k", "value"])
        expectInvalidValue({ try valueEncoder.encode(Boxed(value: [big])) }, path: ["value", "Index 0"])
    }

    @Test func integerDecodingChecksRange() throws {
        func expectCorrupted<T: Decodable>(_ type: T.Type, from value: EventValue, path: [String] = []) {
            do {
                let decoded = try valueDecoder.decode(type, from: value)
                Issue.record("expected dataCorrupted decoding \(type) from \(value), got \(decoded)")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(keyStrings(context.codingPath) == path)
                #expect(context.debugDescription.contains("\(type)") || !path.isEmpty)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        expectCorrupted(Int8.self, from: .int(128))
        expectCorrupted(Int8.self, from: .int(-129))
        expectCorrupted(UInt8.self, from: .int(256))
        expectCorrupted(UInt8.self, from: .int(-1))
        expectCorrupted(UInt64.self, from: .int(-1))
        expectCorrupted(Int16.self, from: .int(Int64(Int16.max) + 1))
        expectCorrupted(Int32.self, from: .int(Int64(Int32.min) - 1))
        expectCorrupted(UInt32.self, from: .int(Int64(UInt32.max) + 1))
        expectCorrupted(Int.self, from: .double(1.5))
        expectCorrupted(Int.self, from: .double(.nan))
        expectCorrupted(Int.self, from: .double(.infinity))
        expectCorrupted(Int64.self, from: .double(9.3e18))
        expectCorrupted(Int8.self, from: .double(200))
        expectCorrupted(Boxed<UInt16>.self, from: ["value": -5], path: ["value"])
        expectCorrupted([Int8].self, from: [1, 1000], path: ["Index 1"])

        // Integral doubles in range are accepted.
        #expect(try valueDecoder.decode(Int.self, from: .double(42)) == 42)
        #expect(try valueDecoder.decode(Int8.self, from: .double(-128)) == -128)
        #expect(try valueDecoder.decode(UInt64.self, from: .double(1e18)) == 1_000_000_000_000_000_000)
        #expect(try valueDecoder.decode(Boxed<Int16>.self, from: ["value": 7.0]) == Boxed(value: 7))
    }

    @Test func floatingPointValues() throws {
        #expect(try codingRoundTrip(1.25) == .double(1.25))
        #expect(try codingRoundTrip(Float(-0.5)) == .double(-0.5))
        #expect(try codingRoundTrip(Double.infinity) == .double(.infinity))
        #expect(try codingRoundTrip(-Float.infinity) == .double(-.infinity))
        let nan = try valueEncoder.encode(Double.nan)
        #expect(nan.doubleValue?.isNaN == true)
        #expect(try valueDecoder.decode(Double.self, from: nan).isNaN)
        #expect(try valueDecoder.decode(Float.self, from: .double(.nan)).isNaN)

        // Floating point accepts ints.
        #expect(try valueDecoder.decode(Double.self, from: .int(3)) == 3)
        #expect(try valueDecoder.decode(Float.self, from: .int(-4)) == -4)
        #expect(try valueDecoder.decode(Boxed<Double>.self, from: ["value": 10]) == Boxed(value: 10))

        // A finite double too large for Float is corrupt, not silently infinite.
        #expect(throws: DecodingError.self) { try valueDecoder.decode(Float.self, from: .double(1e300)) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode(Double.self, from: .string("1")) }
    }

    @Test func boolAndStringAreStrict() {
        #expect(throws: DecodingError.self) { try valueDecoder.decode(Bool.self, from: .int(1)) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode(Bool.self, from: .string("true")) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode(String.self, from: .int(1)) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode(String.self, from: .bytes([0x61])) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode(Int.self, from: .bool(true)) }
        #expect((try? valueDecoder.decode(Bool.self, from: .bool(false))) == false)
    }

    @Test func foundationTypesAtTopLevel() throws {
        let date = Date(timeIntervalSince1970: -12.5)
        #expect(try codingRoundTrip(date) == .double(-12.5))
        #expect(try valueDecoder.decode(Date.self, from: .int(86400)) == Date(timeIntervalSince1970: 86400))
        #expect(throws: DecodingError.self) { try valueDecoder.decode(Date.self, from: .string("2024-01-01")) }

        #expect(try codingRoundTrip(Data([1, 2, 255])) == .bytes([1, 2, 255]))
        #expect(try codingRoundTrip(Data()) == .bytes([]))
        #expect(throws: DecodingError.self) { try valueDecoder.decode(Data.self, from: [1, 2]) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode(Data.self, from: .string("AQI=")) }

        let uuid = UUID(uuid: (0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF))
        #expect(try codingRoundTrip(uuid) == .string("00112233-4455-6677-8899-aabbccddeeff"))
        #expect(try valueDecoder.decode(UUID.self, from: .string("00112233-4455-6677-8899-AABBCCDDEEFF")) == uuid)
        #expect(try valueDecoder.decode(UUID.self, from: .bytes([0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF])) == uuid)
        for _ in 0..<20 {
            let random = UUID()
            let encoded = try codingRoundTrip(random)
            #expect(encoded == .string(random.uuidString.lowercased()))
        }
    }

    @Test func foundationTypesNested() throws {
        let uuid = UUID(uuidString: "6BA7B810-9DAD-11D1-80B4-00C04FD430C8")!
        let date = Date(timeIntervalSince1970: 1_000_000)
        #expect(try codingRoundTrip(Boxed(value: uuid)) == ["value": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"])
        #expect(try codingRoundTrip(Boxed(value: date)) == ["value": .double(1_000_000)])
        #expect(try codingRoundTrip(Boxed(value: Data([9]))) == ["value": .bytes([9])])
        #expect(try codingRoundTrip([date]) == [.double(1_000_000)])
        #expect(try codingRoundTrip(["u": uuid]) == ["u": "6ba7b810-9dad-11d1-80b4-00c04fd430c8"])
        #expect(try codingRoundTrip([Data([1]), Data([2, 3])]) == [.bytes([1]), .bytes([2, 3])])
        #expect(try codingRoundTrip(Boxed(value: [uuid: 1])).mapValue?["value"] != nil)
        #expect(try codingRoundTrip(Boxed(value: Optional(date))) == ["value": .double(1_000_000)])
        #expect(try valueDecoder.decode(Boxed<Date>.self, from: ["value": 5]) == Boxed(value: Date(timeIntervalSince1970: 5)))
        #expect(try valueDecoder.decode([UUID].self, from: [.bytes(Array(repeating: 0, count: 16))]) == [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))])
    }

    @Test func uuidFromBadInput() {
        func expectCorrupted(_ value: EventValue, path: [String]) {
            do {
                let uuid = try valueDecoder.decode(Boxed<UUID>.self, from: ["value": value])
                Issue.record("expected an error decoding \(value), got \(uuid)")
            } catch DecodingError.dataCorrupted(let context) {
                #expect(keyStrings(context.codingPath) == path)
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
        expectCorrupted(.string("not-a-uuid"), path: ["value"])
        expectCorrupted(.string(""), path: ["value"])
        expectCorrupted(.string("6ba7b810-9dad-11d1-80b4-00c04fd430c"), path: ["value"])
        expectCorrupted(.string("6ba7b810-9dad-11d1-80b4-00c04fd430c8x"), path: ["value"])
        expectCorrupted(.bytes([1, 2, 3]), path: ["value"])
        expectCorrupted(.bytes(Array(repeating: 1, count: 17)), path: ["value"])
        #expect(throws: DecodingError.self) { try valueDecoder.decode(UUID.self, from: .int(1)) }
    }

    @Test func customEncodeWithSuperEncoderAndNestedContainers() throws {
        let dog = CodedDog(name: "Rex", tricks: ["sit", "roll"], home: ("Oslo", 150))
        let encoded = try valueEncoder.encode(dog)
        #expect(encoded == [
            "tricks": ["sit", "roll"],
            "home": ["city": "Oslo", "zip": 150],
            "super": ["name": "Rex"],
            "legacy": [["zip": 150], "Rex"],
        ])
        let decoded = try valueDecoder.decode(CodedDog.self, from: encoded)
        #expect(decoded.name == "Rex")
        #expect(decoded.tricks == ["sit", "roll"])
        #expect(decoded.home.city == "Oslo" && decoded.home.zip == 150)

        // A missing "super" gives the superclass a null to decode from, which it rejects.
        guard case .map(var entries) = encoded else { Issue.record("not a map"); return }
        entries["super"] = nil
        #expect(throws: DecodingError.self) { try valueDecoder.decode(CodedDog.self, from: .map(entries)) }
    }

    @Test func containerMisuseThrowsInsteadOfTrapping() {
        #expect(throws: EncodingError.self) { try valueEncoder.encode(DoubleSingleValueMisuse()) }
        #expect(throws: EncodingError.self) { try valueEncoder.encode(KeyedAfterSingleMisuse()) }
        // Misuse deep inside a tree is reported too.
        #expect(throws: EncodingError.self) { try valueEncoder.encode(["a": [KeyedAfterSingleMisuse()]]) }
        #expect(throws: EncodingError.self) { try valueEncoder.encode(SilentValue()) }
        // Nested, a value that encodes nothing is an empty map (as JSONEncoder writes {}).
        #expect((try? valueEncoder.encode([SilentValue()])) == [.map([:])])
    }

    @Test func userInfoReachesNestedValues() throws {
        var configuredEncoder = EventValueEncoder()
        configuredEncoder.userInfo[CodingUserInfoProbe.key] = "enc"
        #expect(try configuredEncoder.encode([CodingUserInfoProbe(seen: "")]) == ["enc"])
        var configuredDecoder = EventValueDecoder()
        configuredDecoder.userInfo[CodingUserInfoProbe.key] = "dec"
        #expect(try configuredDecoder.decode(Boxed<CodingUserInfoProbe>.self, from: ["value": 1]) == Boxed(value: CodingUserInfoProbe(seen: "dec")))
        #expect(try EventValueDecoder().decode(CodingUserInfoProbe.self, from: .null) == CodingUserInfoProbe(seen: "none"))
    }

    @Test func missingKeyIsKeyNotFound() {
        do {
            _ = try valueDecoder.decode(CodedItem.self, from: ["name": "a", "tags": []])
            Issue.record("expected keyNotFound")
        } catch DecodingError.keyNotFound(let key, let context) {
            #expect(key.stringValue == "quantity")
            #expect(context.codingPath.isEmpty)
        } catch {
            Issue.record("unexpected error \(error)")
        }

        do {
            _ = try valueDecoder.decode([String: CodedItem].self, from: ["x": ["quantity": 1, "tags": []]])
            Issue.record("expected keyNotFound")
        } catch DecodingError.keyNotFound(let key, let context) {
            #expect(key.stringValue == "name")
            #expect(keyStrings(context.codingPath) == ["x"])
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func wrongTypeIsTypeMismatchWithCodingPath() {
        let value: EventValue = [
            "id": "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "items": [["name": "a", "quantity": 1, "tags": []], ["name": "b", "quantity": 2, "tags": ["ok", 3]]],
        ]
        struct Partial: Decodable { var id: UUID; var items: [CodedItem] }
        do {
            _ = try valueDecoder.decode(Partial.self, from: value)
            Issue.record("expected typeMismatch")
        } catch DecodingError.typeMismatch(let type, let context) {
            #expect(ObjectIdentifier(type) == ObjectIdentifier(String.self))
            #expect(keyStrings(context.codingPath) == ["items", "Index 1", "tags", "Index 1"])
            #expect(context.codingPath.dropFirst().first?.intValue == 1)
        } catch {
            Issue.record("unexpected error \(error)")
        }

        // A map where an array belongs, and a scalar where a struct belongs.
        do {
            _ = try valueDecoder.decode(Boxed<[Int]>.self, from: ["value": ["a": 1]])
            Issue.record("expected typeMismatch")
        } catch DecodingError.typeMismatch(_, let context) {
            #expect(keyStrings(context.codingPath) == ["value"])
        } catch {
            Issue.record("unexpected error \(error)")
        }
        do {
            _ = try valueDecoder.decode(CodedItem.self, from: "item")
            Issue.record("expected typeMismatch")
        } catch DecodingError.typeMismatch(_, let context) {
            #expect(context.codingPath.isEmpty)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func nullWhereAValueIsRequired() {
        do {
            _ = try valueDecoder.decode(CodedItem.self, from: ["name": nil, "quantity": 1, "tags": []])
            Issue.record("expected valueNotFound")
        } catch DecodingError.valueNotFound(_, let context) {
            #expect(keyStrings(context.codingPath) == ["name"])
        } catch {
            Issue.record("unexpected error \(error)")
        }
        #expect(throws: DecodingError.self) { try valueDecoder.decode(CodedItem.self, from: .null) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode([Int].self, from: .null) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode([Int].self, from: [1, nil]) }
    }

    @Test func decodeNilAndDecodeIfPresent() throws {
        struct Probe: Decodable {
            enum CodingKeys: String, CodingKey { case present, null, missing }
            var presentIsNil: Bool
            var nullIsNil: Bool
            var missingThrows: Bool
            var present: Int?
            var null: Int?
            var missing: Int?
            var nestedMissing: String?

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: CodingKeys.self)
                presentIsNil = try c.decodeNil(forKey: .present)
                nullIsNil = try c.decodeNil(forKey: .null)
                do {
                    _ = try c.decodeNil(forKey: .missing)
                    missingThrows = false
                } catch DecodingError.keyNotFound {
                    missingThrows = true
                }
                present = try c.decodeIfPresent(Int.self, forKey: .present)
                null = try c.decodeIfPresent(Int.self, forKey: .null)
                missing = try c.decodeIfPresent(Int.self, forKey: .missing)
                nestedMissing = try c.decodeIfPresent(Boxed<String>.self, forKey: .missing)?.value
            }
        }
        let probe = try valueDecoder.decode(Probe.self, from: ["present": 5, "null": nil])
        #expect(!probe.presentIsNil)
        #expect(probe.nullIsNil)
        #expect(probe.missingThrows)
        #expect(probe.present == 5)
        #expect(probe.null == nil)
        #expect(probe.missing == nil)
        #expect(probe.nestedMissing == nil)

        // Unkeyed: decodeNil advances only past a null, and reading past the end throws.
        struct Pairs: Decodable {
            var nils: [Bool] = []
            init(from decoder: any Decoder) throws {
                var c = try decoder.unkeyedContainer()
                while !c.isAtEnd {
                    if try c.decodeNil() { nils.append(true) } else { _ = try c.decode(Int.self); nils.append(false) }
                }
                do {
                    _ = try c.decode(Int.self)
                    nils.append(true)  // makes the expectation below fail
                } catch DecodingError.valueNotFound {}
            }
        }
        #expect(try valueDecoder.decode(Pairs.self, from: [1, nil, 2, nil]).nils == [false, true, false, true])
    }

    @Test func enumsDecodeStrictly() {
        #expect(throws: DecodingError.self) { try valueDecoder.decode(CodedPriority.self, from: .int(5)) }
        #expect(throws: DecodingError.self) { try valueDecoder.decode(CodedChannel.self, from: "fax") }
        // Two cases at once is not a valid associated-value enum.
        #expect(throws: DecodingError.self) { try valueDecoder.decode(CodedShape.self, from: ["point": [:], "circle": ["radius": 1]]) }
        #expect((try? valueDecoder.decode(CodedShape.self, from: ["circle": ["radius": 1]])) == .circle(radius: 1))
    }

    @Test func randomTreesNeverTrap() throws {
        // Deterministic by default; set EVENTVALUE_FUZZ_SEED to replay or explore another seed.
        let environment = ProcessInfo.processInfo.environment["EVENTVALUE_FUZZ_SEED"]
        let seed = environment.flatMap { UInt64($0) } ?? 0x5EED_0001
        print("EventValue coding fuzz seed: \(seed) (set EVENTVALUE_FUZZ_SEED to change it)")
        let sample = try valueEncoder.encode(CodedOrder(
            id: UUID(uuidString: "6BA7B810-9DAD-11D1-80B4-00C04FD430C8")!,
            createdAt: Date(timeIntervalSince1970: 1_700_000_000),
            note: "n",
            discount: nil,
            items: [CodedItem(name: "a", quantity: 1, tags: ["t"]), CodedItem(name: "b", quantity: 2, tags: [])],
            byWarehouse: ["w": CodedItem(name: "c", quantity: 3, tags: ["u", "v"])],
            counts: [1: "one"],
            priority: .low,
            channel: .email,
            shapes: [.circle(radius: 1), .rect(2, 3), .point],
            signature: Data([1, 2]),
            flags: [true, nil]
        ))
        do {
            let fixedSeed = seed
            var rng = CodingFuzzRNG(seed: fixedSeed)
            var successes = 0
            var failures = 0
            for round in 0..<1500 {
                // Half the trees are random; half are a valid encoded order with a few mutations,
                // which reach much deeper into the decoding code before going wrong.
                var tree = rng.eventValue(depth: 4)
                if round.isMultiple(of: 2) {
                    tree = sample
                    for _ in 0..<Int.random(in: 0...2, using: &rng) { tree = rng.mutated(tree) }
                }
                for attempt in CodingFuzzTarget.allCases {
                    do {
                        try attempt.decodeAndReencode(tree)
                        successes += 1
                    } catch is DecodingError {
                        failures += 1
                    } catch {
                        Issue.record("seed \(fixedSeed): unexpected error \(error) for \(tree) as \(attempt)")
                    }
                }
            }
            #expect(successes + failures == 1500 * CodingFuzzTarget.allCases.count, "seed \(fixedSeed)")
            #expect(successes > 50, "seed \(fixedSeed): the fuzz rarely produced decodable trees")
            #expect(failures > 50, "seed \(fixedSeed)")
        }
    }
}

// MARK: - Fuzz support

/// A small, seedable generator so a failing fuzz run can be replayed from its printed seed.
private struct CodingFuzzRNG: RandomNumberGenerator {
    var base: SeededGenerator
    init(seed: UInt64) { base = SeededGenerator(seed: seed) }

    mutating func next() -> UInt64 { base.next() }

    /// Keys the fuzz targets use, so random maps sometimes decode.
    static let keys = ["name", "quantity", "tags", "value", "circle", "rect", "point", "radius", "_0", "_1", "x", "1", "-3", "super"]

    /// `value` with one randomly chosen node replaced, removed or given an extra key.
    mutating func mutated(_ value: EventValue) -> EventValue {
        switch value {
        case .map(var entries) where !entries.isEmpty && Int.random(in: 0..<4, using: &self) > 0:
            let key = entries.keys.sorted().randomElement(using: &self)!
            switch Int.random(in: 0..<6, using: &self) {
            case 0: entries[key] = nil
            case 1: entries[Self.keys.randomElement(using: &self)!] = eventValue(depth: 2)
            default: entries[key] = mutated(entries[key]!)
            }
            return .map(entries)
        case .array(var elements) where !elements.isEmpty && Int.random(in: 0..<4, using: &self) > 0:
            let index = Int.random(in: 0..<elements.count, using: &self)
            switch Int.random(in: 0..<6, using: &self) {
            case 0: elements.remove(at: index)
            case 1: elements.append(eventValue(depth: 2))
            default: elements[index] = mutated(elements[index])
            }
            return .array(elements)
        default:
            return eventValue(depth: 2)
        }
    }

    mutating func eventValue(depth: Int) -> EventValue {
        let leafOnly = depth <= 0
        switch Int.random(in: 0..<(leafOnly ? 7 : 10), using: &self) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &self))
        case 2:
            let interesting: [Int64] = [0, 1, -1, 127, 128, 255, 256, -129, 65536, .max, .min, Int64(Int32.max) + 1]
            return .int(Bool.random(using: &self) ? interesting.randomElement(using: &self)! : Int64.random(in: -1000...1000, using: &self))
        case 3:
            let interesting: [Double] = [0, -0.0, 1.5, 2, .nan, .infinity, -.infinity, 1e300, 9.3e18, -129, 1e-300]
            return .double(interesting.randomElement(using: &self)!)
        case 4:
            let strings = ["", "a", "low", "email", "text-message", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "zz", "\u{0}é🙂"]
            return .string(strings.randomElement(using: &self)!)
        case 5:
            return .bytes((0..<[0, 1, 15, 16, 17].randomElement(using: &self)!).map { _ in UInt8.random(in: 0...255, using: &self) })
        case 6:
            return .int(Int64.random(in: 0...3, using: &self))
        case 7, 8:
            var entries: EventMap = [:]
            for _ in 0..<Int.random(in: 0...4, using: &self) {
                entries[Self.keys.randomElement(using: &self)!] = eventValue(depth: depth - 1)
            }
            return .map(entries)
        default:
            return .array((0..<Int.random(in: 0...4, using: &self)).map { _ in eventValue(depth: depth - 1) })
        }
    }
}

private enum CodingFuzzTarget: CaseIterable {
    case item, shapes, int8Map, uuids, dates, optionalData, floats, strings, setOfInts, intKeyed, order, priority

    /// Decodes `tree`; on success re-encodes and checks the second round trip is stable.
    func decodeAndReencode(_ tree: EventValue) throws {
        switch self {
        case .item: try check(CodedItem.self, tree)
        case .shapes: try check([CodedShape].self, tree)
        case .int8Map: try check([String: Int8].self, tree)
        case .uuids: try check([UUID].self, tree)
        case .dates: try check(Boxed<[Date?]>.self, tree)
        case .optionalData: try check(Data?.self, tree)
        case .floats: try check([Float].self, tree)
        case .strings: try check([String: [String]].self, tree)
        case .setOfInts: try check(Set<UInt8>.self, tree)
        case .intKeyed: try check([Int: Bool].self, tree)
        case .order: try check(CodedOrder.self, tree)
        case .priority: try check([CodedPriority?].self, tree)
        }
    }

    private func check<T: Codable & Equatable>(_ type: T.Type, _ tree: EventValue) throws {
        let value = try valueDecoder.decode(type, from: tree)
        let reencoded = try valueEncoder.encode(value)
        let again = try valueDecoder.decode(type, from: reencoded)
        if containsNaN(reencoded) { return }  // NaN != NaN; decoding succeeding is enough.
        #expect(again == value, "\(type) from \(tree)")
    }

    private func containsNaN(_ value: EventValue) -> Bool {
        switch value {
        case .double(let d): return d.isNaN
        case .array(let a): return a.contains(where: containsNaN)
        case .map(let m): return m.values.contains(where: containsNaN)
        default: return false
        }
    }
}
