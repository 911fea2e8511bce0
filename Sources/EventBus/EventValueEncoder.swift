#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encodes `Encodable` values into ``EventValue`` trees.
///
/// The mapping mirrors `JSONEncoder`'s, with ``EventValue``'s richer set of leaves:
///
/// | Swift value                          | ``EventValue``                                    |
/// |--------------------------------------|---------------------------------------------------|
/// | struct, class, keyed container       | ``EventValue/map(_:)`` keyed by coding key         |
/// | array, set, unkeyed container        | ``EventValue/array(_:)``                           |
/// | `nil` (`encodeNil`)                  | ``EventValue/null``                                |
/// | `Bool`                               | ``EventValue/bool(_:)``                            |
/// | every integer type                   | ``EventValue/int(_:)``                             |
/// | `Float`, `Double` (non-finite too)   | ``EventValue/double(_:)``                          |
/// | `String`                             | ``EventValue/string(_:)``                          |
/// | `Date`                               | ``EventValue/double(_:)``, seconds since 1970      |
/// | `Data`                               | ``EventValue/bytes(_:)``                           |
/// | `UUID`                               | ``EventValue/string(_:)``, lowercase 8-4-4-4-12    |
///
/// `Date`, `Data` and `UUID` are recognised wherever they appear, at the top level or nested.
/// A keyed container's `encodeIfPresent(nil, forKey:)` omits the key; `superEncoder()` writes
/// under the key `"super"`, as `JSONEncoder` does. An `EventValue` that is itself `Encodable`
/// is stored as is.
///
/// ```swift
/// struct Usage: Codable { var provider: String; var tokens: Int }
/// let value = try EventValueEncoder().encode(Usage(provider: "anthropic", tokens: 42))
/// // value == ["provider": "anthropic", "tokens": 42]
/// ```
public struct EventValueEncoder: Sendable {
    /// Contextual information handed to the values being encoded, through `Encoder.userInfo`.
    ///
    /// Empty by default.
    public var userInfo: [CodingUserInfoKey: any Sendable]

    /// Creates an encoder with an empty ``userInfo``.
    public init() {
        userInfo = [:]
    }

    /// Encodes a value into its ``EventValue`` form.
    ///
    /// - Parameters:
    ///   - value: The value to encode. Any `Encodable` works, including single values such as
    ///     `42`, `"text"`, `[1, 2]` or `nil as Int?`.
    /// - Returns: The encoded tree.
    /// - Throws: `EncodingError.invalidValue` when an unsigned integer exceeds `Int64.max`, when
    ///   the value encodes nothing at all, when an `encode(to:)` implementation misuses its
    ///   containers (for example requests a keyed container after encoding a single value), or
    ///   any error the value's own `encode(to:)` throws.
    public func encode<T: Encodable>(_ value: T) throws -> EventValue {
        if let primitive = value as? any EventValueEncodingPrimitive {
            guard let encoded = primitive._eventValueRepresentation else {
                throw EventValueEncodingState.unrepresentable(value, at: [])
            }
            return encoded
        }
        let state = EventValueEncodingState(userInfo: userInfo)
        let encoder = EventValueEncoderImpl(state: state, codingPath: [])
        try value.encode(to: encoder)
        if let error = state.error { throw error }
        guard let encoded = encoder.finish() else {
            throw EncodingError.invalidValue(
                value,
                EncodingError.Context(codingPath: [], debugDescription: "Top-level \(T.self) did not encode any values.")
            )
        }
        return encoded
    }
}

// MARK: - Shared helpers (also used by EventValueDecoder.swift)

/// The coding key the encoder and decoder make up themselves: array indices and `"super"`.
struct EventValueCodingKey: CodingKey {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = String(intValue)
        self.intValue = intValue
    }

    /// The key of the element at `index` of an unkeyed container ("Index 3", like JSONEncoder).
    init(index: Int) {
        self.stringValue = "Index \(index)"
        self.intValue = index
    }

    /// The key `superEncoder()` and `superDecoder()` use.
    static let `super` = EventValueCodingKey(stringValue: "super")
}

extension Array where Element == any CodingKey {
    /// This path with `key` appended (one allocation, unlike `path + [key]`).
    func _appendingEventValueKey(_ key: any CodingKey) -> [any CodingKey] {
        var path = self
        path.append(key)
        return path
    }
}

// MARK: - Primitives

/// A type the encoder writes directly instead of calling its `encode(to:)`.
protocol EventValueEncodingPrimitive {
    /// This value's ``EventValue``, or `nil` when it has none (an unsigned integer above `Int64.max`).
    var _eventValueRepresentation: EventValue? { get }
}

extension Bool: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .bool(self) }
}

extension String: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .string(self) }
}

extension Double: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .double(self) }
}

extension Float: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .double(Double(self)) }
}

extension Int: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .int(Int64(self)) }
}

extension Int8: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .int(Int64(self)) }
}

extension Int16: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .int(Int64(self)) }
}

extension Int32: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .int(Int64(self)) }
}

extension Int64: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .int(self) }
}

extension UInt: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { Int64(exactly: self).map(EventValue.int) }
}

extension UInt8: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .int(Int64(self)) }
}

extension UInt16: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .int(Int64(self)) }
}

extension UInt32: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .int(Int64(self)) }
}

extension UInt64: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { Int64(exactly: self).map(EventValue.int) }
}

extension Date: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .double(timeIntervalSince1970) }
}

extension Data: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .bytes([UInt8](self)) }
}

extension UUID: EventValueEncodingPrimitive {
    var _eventValueRepresentation: EventValue? { .string(lowercaseUUIDString) }

    /// The canonical 8-4-4-4-12 form in lowercase hex (`uuidString` is uppercase).
    private var lowercaseUUIDString: String {
        let digits: StaticString = "0123456789abcdef"
        return withUnsafeBytes(of: uuid) { bytes in
            String(unsafeUninitializedCapacity: 36) { out in
                var position = 0
                for (index, byte) in bytes.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 {
                        out[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    out[position] = digits.utf8Start[Int(byte >> 4)]
                    out[position + 1] = digits.utf8Start[Int(byte & 0x0F)]
                    position += 2
                }
                return position
            }
        }
    }
}

extension EventValue: EventValueEncodingPrimitive {
    /// Stored unchanged; only reachable if `EventValue` is made `Encodable`.
    var _eventValueRepresentation: EventValue? { self }
}

// MARK: - Encoder implementation

/// What one top-level `encode` call shares among all of its nested encoders.
final class EventValueEncodingState {
    private let sendableUserInfo: [CodingUserInfoKey: any Sendable]
    private(set) lazy var userInfo: [CodingUserInfoKey: Any] = sendableUserInfo
    /// The first container misuse seen; thrown when the top-level `encode` finishes.
    private(set) var error: EncodingError?

    init(userInfo: [CodingUserInfoKey: any Sendable]) {
        self.sendableUserInfo = userInfo
    }

    func record(misuse description: String, at codingPath: [any CodingKey]) {
        guard error == nil else { return }
        error = EncodingError.invalidValue(
            description,
            EncodingError.Context(codingPath: codingPath, debugDescription: description)
        )
    }

    /// Encodes a nested value: a primitive directly, anything else through a child encoder.
    ///
    /// `path` builds the value's coding path; it is only called when needed.
    func box<T: Encodable>(_ value: T, path: () -> [any CodingKey]) throws -> EventValue {
        if let primitive = value as? any EventValueEncodingPrimitive {
            guard let encoded = primitive._eventValueRepresentation else {
                throw Self.unrepresentable(value, at: path())
            }
            return encoded
        }
        let encoder = EventValueEncoderImpl(state: self, codingPath: path())
        try value.encode(to: encoder)
        // A value that encodes nothing becomes an empty map, as with JSONEncoder's `{}`.
        return encoder.finish() ?? .map([:])
    }

    static func unrepresentable(_ value: Any, at codingPath: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(
            value,
            EncodingError.Context(
                codingPath: codingPath,
                debugDescription: "\(type(of: value)) value \(value) is larger than Int64.max and cannot be stored in an EventValue.int."
            )
        )
    }

    static func checked<I: BinaryInteger>(_ value: I, path: () -> [any CodingKey]) throws -> EventValue {
        guard let int = Int64(exactly: value) else { throw unrepresentable(value, at: path()) }
        return .int(int)
    }
}

/// A keyed or unkeyed container, or super encoder, whose value is only known once encoding ends.
enum EventValuePendingNode {
    case map(EventValueMapRef)
    case array(EventValueArrayRef)
    case encoder(EventValueEncoderImpl)

    func finish() -> EventValue {
        switch self {
        case .map(let ref): return ref.finish()
        case .array(let ref): return ref.finish()
        case .encoder(let encoder): return encoder.finish() ?? .map([:])
        }
    }
}

/// The growing storage of a keyed encoding container.
///
/// Entries are appended in order and placed once, into an `EventMap` of the right size, by
/// `finish()`; a key written twice keeps its last value, as with `JSONEncoder`.
final class EventValueMapRef {
    private enum Entry {
        case value(EventValue)
        case pending(EventValuePendingNode)
    }

    private var entries: [(key: String, entry: Entry)] = []

    private func append(_ entry: Entry, forKey key: String) {
        if entries.isEmpty { entries.reserveCapacity(8) }
        entries.append((key, entry))
    }

    func set(_ value: EventValue, forKey key: String) {
        append(.value(value), forKey: key)
    }

    func setPending(_ node: EventValuePendingNode, forKey key: String) {
        append(.pending(node), forKey: key)
    }

    /// The nested container or super encoder most recently stored under `key`, if that is what
    /// `key` currently holds.
    func pendingNode(forKey key: String) -> EventValuePendingNode? {
        guard let last = entries.last(where: { $0.key == key }), case .pending(let node) = last.entry else { return nil }
        return node
    }

    func finish() -> EventValue {
        var result = EventMap(minimumCapacity: entries.count)
        for (key, entry) in entries {
            switch entry {
            case .value(let value): result[key] = value
            case .pending(let node): result[key] = node.finish()
            }
        }
        return .map(result)
    }
}

/// The growing storage of an unkeyed encoding container.
final class EventValueArrayRef {
    /// Finished elements; a pending element holds a `.null` placeholder here.
    private(set) var values: [EventValue] = []
    /// Elements whose value is a nested container or super encoder, resolved by `finish()`.
    private var pending: [(index: Int, node: EventValuePendingNode)] = []

    func append(_ value: EventValue) {
        values.append(value)
    }

    func appendPending(_ node: EventValuePendingNode) {
        pending.append((values.count, node))
        values.append(.null)
    }

    func finish() -> EventValue {
        if pending.isEmpty { return .array(values) }
        var result = values
        for (index, node) in pending { result[index] = node.finish() }
        return .array(result)
    }
}

/// The `Encoder` handed to `encode(to:)`; one per nested non-primitive value.
final class EventValueEncoderImpl: Encoder {
    enum Storage {
        case empty
        case value(EventValue)
        case map(EventValueMapRef)
        case array(EventValueArrayRef)
    }

    let state: EventValueEncodingState
    let codingPath: [any CodingKey]
    var storage: Storage = .empty

    var userInfo: [CodingUserInfoKey: Any] { state.userInfo }

    init(state: EventValueEncodingState, codingPath: [any CodingKey]) {
        self.state = state
        self.codingPath = codingPath
    }

    /// The encoded value, or `nil` if nothing was encoded.
    func finish() -> EventValue? {
        switch storage {
        case .empty: return nil
        case .value(let value): return value
        case .map(let ref): return ref.finish()
        case .array(let ref): return ref.finish()
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let ref: EventValueMapRef
        switch storage {
        case .map(let existing):
            ref = existing
        case .empty:
            ref = EventValueMapRef()
            storage = .map(ref)
        case .value, .array:
            state.record(
                misuse: "Requested a keyed container after encoding \(storageDescription) at the same path.",
                at: codingPath
            )
            ref = EventValueMapRef()
        }
        return KeyedEncodingContainer(EventValueKeyedEncodingContainer(ref: ref, state: state, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let ref: EventValueArrayRef
        switch storage {
        case .array(let existing):
            ref = existing
        case .empty:
            ref = EventValueArrayRef()
            storage = .array(ref)
        case .value, .map:
            state.record(
                misuse: "Requested an unkeyed container after encoding \(storageDescription) at the same path.",
                at: codingPath
            )
            ref = EventValueArrayRef()
        }
        return EventValueUnkeyedEncodingContainer(ref: ref, state: state, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        EventValueSingleValueEncodingContainer(encoder: self)
    }

    private var storageDescription: String {
        switch storage {
        case .empty: return "nothing"
        case .value: return "a single value"
        case .map: return "a keyed container"
        case .array: return "an unkeyed container"
        }
    }

    /// Stores a single value; throws if this encoder already holds anything.
    func setSingleValue(_ value: EventValue) throws {
        guard case .empty = storage else {
            throw EncodingError.invalidValue(
                value,
                EncodingError.Context(
                    codingPath: codingPath,
                    debugDescription: "Attempted to encode a single value after encoding \(storageDescription) at the same path."
                )
            )
        }
        storage = .value(value)
    }
}

struct EventValueKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let ref: EventValueMapRef
    let state: EventValueEncodingState
    let codingPath: [any CodingKey]

    mutating func encodeNil(forKey key: Key) throws { ref.set(.null, forKey: key.stringValue) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { ref.set(.bool(value), forKey: key.stringValue) }
    mutating func encode(_ value: String, forKey key: Key) throws { ref.set(.string(value), forKey: key.stringValue) }
    mutating func encode(_ value: Double, forKey key: Key) throws { ref.set(.double(value), forKey: key.stringValue) }
    mutating func encode(_ value: Float, forKey key: Key) throws { ref.set(.double(Double(value)), forKey: key.stringValue) }
    mutating func encode(_ value: Int, forKey key: Key) throws { ref.set(.int(Int64(value)), forKey: key.stringValue) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { ref.set(.int(Int64(value)), forKey: key.stringValue) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { ref.set(.int(Int64(value)), forKey: key.stringValue) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { ref.set(.int(Int64(value)), forKey: key.stringValue) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { ref.set(.int(value), forKey: key.stringValue) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { ref.set(.int(Int64(value)), forKey: key.stringValue) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { ref.set(.int(Int64(value)), forKey: key.stringValue) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { ref.set(.int(Int64(value)), forKey: key.stringValue) }

    mutating func encode(_ value: UInt, forKey key: Key) throws {
        ref.set(try EventValueEncodingState.checked(value) { codingPath._appendingEventValueKey(key) }, forKey: key.stringValue)
    }

    mutating func encode(_ value: UInt64, forKey key: Key) throws {
        ref.set(try EventValueEncodingState.checked(value) { codingPath._appendingEventValueKey(key) }, forKey: key.stringValue)
    }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        ref.set(try state.box(value) { codingPath._appendingEventValueKey(key) }, forKey: key.stringValue)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type,
        forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let nested: EventValueMapRef
        if case .map(let existing) = ref.pendingNode(forKey: key.stringValue) {
            nested = existing
        } else {
            nested = EventValueMapRef()
            ref.setPending(.map(nested), forKey: key.stringValue)
        }
        return KeyedEncodingContainer(
            EventValueKeyedEncodingContainer<NestedKey>(ref: nested, state: state, codingPath: codingPath._appendingEventValueKey(key))
        )
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested: EventValueArrayRef
        if case .array(let existing) = ref.pendingNode(forKey: key.stringValue) {
            nested = existing
        } else {
            nested = EventValueArrayRef()
            ref.setPending(.array(nested), forKey: key.stringValue)
        }
        return EventValueUnkeyedEncodingContainer(ref: nested, state: state, codingPath: codingPath._appendingEventValueKey(key))
    }

    mutating func superEncoder() -> any Encoder {
        superEncoder(keyString: EventValueCodingKey.super.stringValue, key: EventValueCodingKey.super)
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        superEncoder(keyString: key.stringValue, key: key)
    }

    private func superEncoder(keyString: String, key: any CodingKey) -> any Encoder {
        let encoder = EventValueEncoderImpl(state: state, codingPath: codingPath._appendingEventValueKey(key))
        ref.setPending(.encoder(encoder), forKey: keyString)
        return encoder
    }
}

struct EventValueUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let ref: EventValueArrayRef
    let state: EventValueEncodingState
    let codingPath: [any CodingKey]

    var count: Int { ref.values.count }

    private var nextPath: [any CodingKey] { codingPath._appendingEventValueKey(EventValueCodingKey(index: count)) }

    mutating func encodeNil() throws { ref.append(.null) }
    mutating func encode(_ value: Bool) throws { ref.append(.bool(value)) }
    mutating func encode(_ value: String) throws { ref.append(.string(value)) }
    mutating func encode(_ value: Double) throws { ref.append(.double(value)) }
    mutating func encode(_ value: Float) throws { ref.append(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { ref.append(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { ref.append(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { ref.append(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { ref.append(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { ref.append(.int(value)) }
    mutating func encode(_ value: UInt8) throws { ref.append(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { ref.append(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { ref.append(.int(Int64(value))) }

    mutating func encode(_ value: UInt) throws {
        ref.append(try EventValueEncodingState.checked(value) { nextPath })
    }

    mutating func encode(_ value: UInt64) throws {
        ref.append(try EventValueEncodingState.checked(value) { nextPath })
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        ref.append(try state.box(value) { nextPath })
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        let nested = EventValueMapRef()
        ref.appendPending(.map(nested))
        return KeyedEncodingContainer(EventValueKeyedEncodingContainer<NestedKey>(ref: nested, state: state, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        let nested = EventValueArrayRef()
        ref.appendPending(.array(nested))
        return EventValueUnkeyedEncodingContainer(ref: nested, state: state, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = EventValueEncoderImpl(state: state, codingPath: nextPath)
        ref.appendPending(.encoder(encoder))
        return encoder
    }
}

struct EventValueSingleValueEncodingContainer: SingleValueEncodingContainer {
    let encoder: EventValueEncoderImpl

    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { try encoder.setSingleValue(.null) }
    mutating func encode(_ value: Bool) throws { try encoder.setSingleValue(.bool(value)) }
    mutating func encode(_ value: String) throws { try encoder.setSingleValue(.string(value)) }
    mutating func encode(_ value: Double) throws { try encoder.setSingleValue(.double(value)) }
    mutating func encode(_ value: Float) throws { try encoder.setSingleValue(.double(Double(value))) }
    mutating func encode(_ value: Int) throws { try encoder.setSingleValue(.int(Int64(value))) }
    mutating func encode(_ value: Int8) throws { try encoder.setSingleValue(.int(Int64(value))) }
    mutating func encode(_ value: Int16) throws { try encoder.setSingleValue(.int(Int64(value))) }
    mutating func encode(_ value: Int32) throws { try encoder.setSingleValue(.int(Int64(value))) }
    mutating func encode(_ value: Int64) throws { try encoder.setSingleValue(.int(value)) }
    mutating func encode(_ value: UInt8) throws { try encoder.setSingleValue(.int(Int64(value))) }
    mutating func encode(_ value: UInt16) throws { try encoder.setSingleValue(.int(Int64(value))) }
    mutating func encode(_ value: UInt32) throws { try encoder.setSingleValue(.int(Int64(value))) }

    mutating func encode(_ value: UInt) throws {
        try encoder.setSingleValue(EventValueEncodingState.checked(value) { codingPath })
    }

    mutating func encode(_ value: UInt64) throws {
        try encoder.setSingleValue(EventValueEncodingState.checked(value) { codingPath })
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try encoder.setSingleValue(encoder.state.box(value) { codingPath })
    }
}
