#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Decodes `Decodable` values from ``EventValue`` trees.
///
/// The inverse of ``EventValueEncoder``, a little more lenient about numbers:
///
/// - Integer types accept ``EventValue/int(_:)`` in range, and ``EventValue/double(_:)`` when
///   it is integral and in range; anything else is `DecodingError.dataCorrupted`.
/// - `Float` and `Double` accept ``EventValue/double(_:)`` (non-finite too) and
///   ``EventValue/int(_:)``. A finite double too large for `Float` is `dataCorrupted`.
/// - `Bool` accepts only ``EventValue/bool(_:)``; `String` only ``EventValue/string(_:)``.
/// - `Date` accepts ``EventValue/double(_:)`` or ``EventValue/int(_:)``, read as seconds since
///   1970-01-01T00:00:00Z.
/// - `Data` accepts only ``EventValue/bytes(_:)``.
/// - `UUID` accepts ``EventValue/string(_:)`` in either case, or exactly 16
///   ``EventValue/bytes(_:)``.
///
/// Errors follow `JSONDecoder`'s conventions: a missing key is `DecodingError.keyNotFound`, a
/// value of the wrong kind is `DecodingError.typeMismatch`, and ``EventValue/null`` where a
/// value is required is `DecodingError.valueNotFound`; each carries the coding path. Decoding
/// never traps, whatever the input.
///
/// ```swift
/// struct Usage: Codable { var provider: String; var tokens: Int }
/// let usage = try EventValueDecoder().decode(Usage.self, from: ["provider": "anthropic", "tokens": 42])
/// ```
public struct EventValueDecoder: Sendable {
    /// Contextual information handed to the values being decoded, through `Decoder.userInfo`.
    ///
    /// Empty by default.
    public var userInfo: [CodingUserInfoKey: any Sendable]

    /// Creates a decoder with an empty ``userInfo``.
    public init() {
        userInfo = [:]
    }

    /// Decodes a value of the given type from an ``EventValue``.
    ///
    /// - Parameters:
    ///   - type: The type to decode, for example a payload struct, `Int`, `[String]` or `Int?`.
    ///   - value: The tree to decode from.
    /// - Returns: The decoded value.
    /// - Throws: `DecodingError.keyNotFound`, `.typeMismatch`, `.valueNotFound` or
    ///   `.dataCorrupted` when `value` does not fit `type`, or any error `type`'s own
    ///   `init(from:)` throws.
    public func decode<T: Decodable>(_ type: T.Type, from value: EventValue) throws -> T {
        var anyUserInfo: [CodingUserInfoKey: Any] = [:]
        if !userInfo.isEmpty { anyUserInfo = userInfo }
        return try EventValueUnbox.unbox(type, from: value, userInfo: anyUserInfo) { [] }
    }
}

// MARK: - Primitives

/// A type the decoder reads directly instead of calling its `init(from:)`.
protocol EventValueDecodingPrimitive {
    /// Reads a value of this type; `path` builds the coding path for an error.
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Self
}

extension Bool: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Bool {
        try EventValueUnbox.bool(value, path: path)
    }
}

extension String: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> String {
        try EventValueUnbox.string(value, path: path)
    }
}

extension Double: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Double {
        try EventValueUnbox.double(value, path: path)
    }
}

extension Float: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Float {
        try EventValueUnbox.float(value, path: path)
    }
}

extension Int: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Int {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension Int8: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Int8 {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension Int16: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Int16 {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension Int32: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Int32 {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension Int64: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Int64 {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension UInt: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> UInt {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension UInt8: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> UInt8 {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension UInt16: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> UInt16 {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension UInt32: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> UInt32 {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension UInt64: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> UInt64 {
        try EventValueUnbox.integer(value, path: path)
    }
}

extension Date: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Date {
        switch value {
        case .double(let seconds): return Date(timeIntervalSince1970: seconds)
        case .int(let seconds): return Date(timeIntervalSince1970: Double(seconds))
        default: throw EventValueUnbox.mismatch(Date.self, found: value, path: path)
        }
    }
}

extension Data: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> Data {
        guard case .bytes(let bytes) = value else { throw EventValueUnbox.mismatch(Data.self, found: value, path: path) }
        return Data(bytes)
    }
}

extension UUID: EventValueDecodingPrimitive {
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> UUID {
        switch value {
        case .string(let string):
            guard let uuid = UUID(uuidString: string) else {
                throw EventValueUnbox.corrupted("Invalid UUID string \"\(string)\".", path: path)
            }
            return uuid
        case .bytes(let b):
            guard b.count == 16 else {
                throw EventValueUnbox.corrupted("A UUID needs exactly 16 bytes, found \(b.count).", path: path)
            }
            return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
        default:
            throw EventValueUnbox.mismatch(UUID.self, found: value, path: path)
        }
    }
}

extension EventValue: EventValueDecodingPrimitive {
    /// Returned unchanged; only reachable if `EventValue` is made `Decodable`.
    static func _decodeEventValue(_ value: EventValue, path: () -> [any CodingKey]) throws -> EventValue {
        value
    }
}

// MARK: - Conversions and errors

enum EventValueUnbox {
    /// Decodes a nested value: a primitive directly, anything else through a child decoder.
    ///
    /// `path` builds the value's coding path; it is only called when needed.
    static func unbox<T: Decodable>(
        _ type: T.Type,
        from value: EventValue,
        userInfo: [CodingUserInfoKey: Any],
        path: () -> [any CodingKey]
    ) throws -> T {
        if let primitive = type as? any EventValueDecodingPrimitive.Type {
            guard let decoded = try primitive._decodeEventValue(value, path: path) as? T else {
                // Unreachable: `primitive` is `T.self`.
                throw mismatch(type, found: value, path: path)
            }
            return decoded
        }
        return try T(from: EventValueDecoderImpl(value: value, codingPath: path(), userInfo: userInfo))
    }

    static func bool(_ value: EventValue, path: () -> [any CodingKey]) throws -> Bool {
        guard case .bool(let bool) = value else { throw mismatch(Bool.self, found: value, path: path) }
        return bool
    }

    static func string(_ value: EventValue, path: () -> [any CodingKey]) throws -> String {
        guard case .string(let string) = value else { throw mismatch(String.self, found: value, path: path) }
        return string
    }

    static func double(_ value: EventValue, path: () -> [any CodingKey]) throws -> Double {
        switch value {
        case .double(let double): return double
        case .int(let int): return Double(int)
        default: throw mismatch(Double.self, found: value, path: path)
        }
    }

    static func float(_ value: EventValue, path: () -> [any CodingKey]) throws -> Float {
        switch value {
        case .double(let double):
            let float = Float(double)
            if float.isInfinite && double.isFinite {
                throw corrupted("Number \(double) does not fit in Float.", path: path)
            }
            return float
        case .int(let int):
            return Float(int)
        default:
            throw mismatch(Float.self, found: value, path: path)
        }
    }

    static func integer<I: FixedWidthInteger>(_ value: EventValue, path: () -> [any CodingKey]) throws -> I {
        switch value {
        case .int(let int):
            guard let result = I(exactly: int) else {
                throw corrupted("Number \(int) does not fit in \(I.self) (\(I.min)...\(I.max)).", path: path)
            }
            return result
        case .double(let double):
            guard let result = I(exactly: double) else {
                throw corrupted("Number \(double) is not an integer in \(I.self)'s range (\(I.min)...\(I.max)).", path: path)
            }
            return result
        default:
            throw mismatch(I.self, found: value, path: path)
        }
    }

    /// `valueNotFound` for ``EventValue/null``, `typeMismatch` for any other wrong kind.
    static func mismatch(_ type: Any.Type, found value: EventValue, path: () -> [any CodingKey]) -> DecodingError {
        if case .null = value {
            return DecodingError.valueNotFound(
                type,
                DecodingError.Context(codingPath: path(), debugDescription: "Expected \(type) value but found null instead.")
            )
        }
        return DecodingError.typeMismatch(
            type,
            DecodingError.Context(codingPath: path(), debugDescription: "Expected to decode \(type) but found \(kind(of: value)) instead.")
        )
    }

    static func corrupted(_ description: String, path: () -> [any CodingKey]) -> DecodingError {
        DecodingError.dataCorrupted(DecodingError.Context(codingPath: path(), debugDescription: description))
    }

    static func kind(of value: EventValue) -> String {
        switch value {
        case .null: return "null"
        case .bool: return "a bool"
        case .int: return "an int"
        case .double: return "a double"
        case .string: return "a string"
        case .bytes: return "bytes"
        case .array: return "an array"
        case .map: return "a map"
        }
    }
}

// MARK: - Decoder implementation

/// The `Decoder` handed to `init(from:)`; one per nested non-primitive value.
final class EventValueDecoderImpl: Decoder {
    let value: EventValue
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    init(value: EventValue, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: Any]) {
        self.value = value
        self.codingPath = codingPath
        self.userInfo = userInfo
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(
            try EventValueKeyedDecodingContainer<Key>(value: value, codingPath: codingPath, userInfo: userInfo)
        )
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try EventValueUnkeyedDecodingContainer(value: value, codingPath: codingPath, userInfo: userInfo)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        EventValueSingleValueDecodingContainer(decoder: self)
    }
}

struct EventValueKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let map: EventMap
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]

    init(value: EventValue, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: Any]) throws {
        switch value {
        case .map(let map):
            self.map = map
        case .null:
            throw DecodingError.valueNotFound(
                EventMap.self,
                DecodingError.Context(codingPath: codingPath, debugDescription: "Cannot get a keyed decoding container: found null instead of a map.")
            )
        default:
            throw DecodingError.typeMismatch(
                EventMap.self,
                DecodingError.Context(codingPath: codingPath, debugDescription: "Expected a map but found \(EventValueUnbox.kind(of: value)) instead.")
            )
        }
        self.codingPath = codingPath
        self.userInfo = userInfo
    }

    var allKeys: [Key] { map.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { map[key.stringValue] != nil }

    private func entry(_ key: Key) throws -> EventValue {
        guard let value = map[key.stringValue] else {
            throw DecodingError.keyNotFound(
                key,
                DecodingError.Context(codingPath: codingPath, debugDescription: "No value associated with key \"\(key.stringValue)\".")
            )
        }
        return value
    }

    private func path(_ key: Key) -> [any CodingKey] { codingPath._appendingEventValueKey(key) }

    func decodeNil(forKey key: Key) throws -> Bool { try entry(key).isNull }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try EventValueUnbox.bool(entry(key)) { path(key) }
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try EventValueUnbox.string(entry(key)) { path(key) }
    }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try EventValueUnbox.double(entry(key)) { path(key) }
    }

    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try EventValueUnbox.float(entry(key)) { path(key) }
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
        try EventValueUnbox.integer(entry(key)) { path(key) }
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try EventValueUnbox.unbox(type, from: entry(key), userInfo: userInfo) { path(key) }
    }

    /// One lookup instead of the default's three (`contains`, `decodeNil`, `decode`).
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard let value = map[key.stringValue], !value.isNull else { return nil }
        return try EventValueUnbox.unbox(type, from: value, userInfo: userInfo) { path(key) }
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type,
        forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        KeyedDecodingContainer(
            try EventValueKeyedDecodingContainer<NestedKey>(value: entry(key), codingPath: path(key), userInfo: userInfo)
        )
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try EventValueUnkeyedDecodingContainer(value: entry(key), codingPath: path(key), userInfo: userInfo)
    }

    /// A decoder for the value under `"super"`, or for ``EventValue/null`` if there is none
    /// (as `JSONDecoder` does).
    func superDecoder() throws -> any Decoder {
        EventValueDecoderImpl(
            value: map[EventValueCodingKey.super.stringValue] ?? .null,
            codingPath: codingPath._appendingEventValueKey(EventValueCodingKey.super),
            userInfo: userInfo
        )
    }

    /// A decoder for the value under `key`, or for ``EventValue/null`` if there is none.
    func superDecoder(forKey key: Key) throws -> any Decoder {
        EventValueDecoderImpl(value: map[key.stringValue] ?? .null, codingPath: path(key), userInfo: userInfo)
    }
}

struct EventValueUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let array: [EventValue]
    let codingPath: [any CodingKey]
    let userInfo: [CodingUserInfoKey: Any]
    private(set) var currentIndex = 0

    init(value: EventValue, codingPath: [any CodingKey], userInfo: [CodingUserInfoKey: Any]) throws {
        switch value {
        case .array(let array):
            self.array = array
        case .null:
            throw DecodingError.valueNotFound(
                [EventValue].self,
                DecodingError.Context(codingPath: codingPath, debugDescription: "Cannot get an unkeyed decoding container: found null instead of an array.")
            )
        default:
            throw DecodingError.typeMismatch(
                [EventValue].self,
                DecodingError.Context(codingPath: codingPath, debugDescription: "Expected an array but found \(EventValueUnbox.kind(of: value)) instead.")
            )
        }
        self.codingPath = codingPath
        self.userInfo = userInfo
    }

    var count: Int? { array.count }
    var isAtEnd: Bool { currentIndex >= array.count }

    private var currentPath: [any CodingKey] {
        codingPath._appendingEventValueKey(EventValueCodingKey(index: currentIndex))
    }

    /// The current element; throws `valueNotFound` past the end.
    private func peek(_ type: Any.Type) throws -> EventValue {
        guard currentIndex < array.count else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(codingPath: currentPath, debugDescription: "Unkeyed container is at end.")
            )
        }
        return array[currentIndex]
    }

    /// Decodes the current element with `read` and advances only if it succeeds.
    private mutating func next<T>(_ type: T.Type, _ read: (EventValue, () -> [any CodingKey]) throws -> T) throws -> T {
        let value = try peek(type)
        let result = try read(value) { currentPath }
        currentIndex += 1
        return result
    }

    mutating func decodeNil() throws -> Bool {
        guard try peek((any Decodable)?.self).isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type, EventValueUnbox.bool) }
    mutating func decode(_ type: String.Type) throws -> String { try next(type, EventValueUnbox.string) }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type, EventValueUnbox.double) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(type, EventValueUnbox.float) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type, EventValueUnbox.integer) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type, EventValueUnbox.integer) }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let userInfo = userInfo
        return try next(type) { value, path in
            try EventValueUnbox.unbox(type, from: value, userInfo: userInfo, path: path)
        }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try EventValueKeyedDecodingContainer<NestedKey>(
            value: peek(KeyedDecodingContainer<NestedKey>.self),
            codingPath: currentPath,
            userInfo: userInfo
        )
        currentIndex += 1
        return KeyedDecodingContainer(container)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try EventValueUnkeyedDecodingContainer(
            value: peek((any UnkeyedDecodingContainer).self),
            codingPath: currentPath,
            userInfo: userInfo
        )
        currentIndex += 1
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = EventValueDecoderImpl(value: try peek((any Decoder).self), codingPath: currentPath, userInfo: userInfo)
        currentIndex += 1
        return decoder
    }
}

struct EventValueSingleValueDecodingContainer: SingleValueDecodingContainer {
    let decoder: EventValueDecoderImpl

    var codingPath: [any CodingKey] { decoder.codingPath }

    private var value: EventValue { decoder.value }

    func decodeNil() -> Bool { value.isNull }

    func decode(_ type: Bool.Type) throws -> Bool { try EventValueUnbox.bool(value) { codingPath } }
    func decode(_ type: String.Type) throws -> String { try EventValueUnbox.string(value) { codingPath } }
    func decode(_ type: Double.Type) throws -> Double { try EventValueUnbox.double(value) { codingPath } }
    func decode(_ type: Float.Type) throws -> Float { try EventValueUnbox.float(value) { codingPath } }
    func decode(_ type: Int.Type) throws -> Int { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: Int8.Type) throws -> Int8 { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: Int16.Type) throws -> Int16 { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: Int32.Type) throws -> Int32 { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: Int64.Type) throws -> Int64 { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: UInt.Type) throws -> UInt { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try EventValueUnbox.integer(value) { codingPath } }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try EventValueUnbox.integer(value) { codingPath } }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try EventValueUnbox.unbox(type, from: value, userInfo: decoder.userInfo) { codingPath }
    }
}
