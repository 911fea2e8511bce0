#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EventBus

/// Encodes `Encodable` values straight to MessagePack, without building an `EventValue`,
/// when that gives exactly the bytes `MessagePackWriter.write(EventValueEncoder().encode(value))`
/// gives; otherwise it declines and the caller takes that slower path.
///
/// The fast path covers what typed payloads do: keyed, unkeyed and single-value containers,
/// nested `Encodable` values, `encodeNil`, `encodeIfPresent`, and `EventValueEncoder`'s
/// primitives (integers, floats, `Bool`, `String`, `Date` as float64 seconds since 1970, `Data`
/// as bin, `UUID` as a lowercase string). Map entries are written as they come and put in key
/// order when their container is complete, as the writer orders an `EventValue` map.
///
/// It declines (``encode(_:into:)`` returns `false`) on anything where matching
/// `EventValueEncoder` byte for byte would take more than that: nested containers and super
/// encoders, a key written twice or a key that is not ASCII (canonically equivalent keys are
/// one key in an `EventValue` map), an unsigned integer above `Int64.max`, a container misused
/// (for example a keyed container after a single value), an error thrown by an `encode(to:)`,
/// or a top-level value that encodes nothing. The slow path then gives the same bytes, or
/// throws the error `EventValueEncoder` throws.
enum MessagePackEncoder {
    /// Appends the MessagePack encoding of `value` to `writer`, if the fast path covers it.
    /// - Parameters:
    ///   - value: the value to encode.
    ///   - writer: the writer to append to; on `false`, its bytes after the count it had on
    ///     entry are unspecified (truncate them).
    /// - Returns: whether `value` was encoded.
    static func encode<T: Encodable>(_ value: T, into writer: inout MessagePackWriter) -> Bool {
        let context = MessagePackEncodingContext()
        swap(&context.writer, &writer)
        defer { swap(&context.writer, &writer) }
        if CodablePrimitives.contains(T.self), let primitive = value as? any MessagePackEncodingPrimitive {
            return primitive.writeMessagePack(into: &context.writer)
        }
        let encoder = MessagePackEncoderImpl(context: context, path: nil)
        do {
            try value.encode(to: encoder)
        } catch {
            return false
        }
        // A top-level value that encodes nothing is an error for EventValueEncoder.
        guard !encoder.isEmpty else { return false }
        encoder.finish()
        return !context.isAborted
    }
}

/// Thrown to unwind an `encode(to:)` once the fast path has declined.
struct MessagePackEncodingDeclined: Error {}

/// What one top-level ``MessagePackEncoder/encode(_:into:)`` shares among its nested encoders.
///
/// Used by one thread, within one call: its fields need no exclusivity checks.
final class MessagePackEncodingContext {
    /// Where everything is written.
    @exclusivity(unchecked) var writer = MessagePackWriter.unallocated
    /// Set when the fast path declines; the bytes written are then discarded.
    @exclusivity(unchecked) private(set) var isAborted = false

    /// Declines the fast path.
    /// - Returns: the error to throw from a throwing method.
    @discardableResult
    func abort() -> MessagePackEncodingDeclined {
        isAborted = true
        return MessagePackEncodingDeclined()
    }
}

// MARK: - Primitives

/// A type written directly instead of through its `encode(to:)`: `EventValueEncoder`'s
/// primitives, written as `MessagePackWriter.write(_:)` writes their `EventValue`.
protocol MessagePackEncodingPrimitive {
    /// Writes the value; `false` if it has no `EventValue` form (an unsigned integer above
    /// `Int64.max`).
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool
}

extension Bool: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeBool(self)
        return true
    }
}

extension String: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeString(self)
        return true
    }
}

extension Double: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeDouble(self)
        return true
    }
}

extension Float: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeDouble(Double(self))
        return true
    }
}

extension Int: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeInt(Int64(self))
        return true
    }
}

extension Int8: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeInt(Int64(self))
        return true
    }
}

extension Int16: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeInt(Int64(self))
        return true
    }
}

extension Int32: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeInt(Int64(self))
        return true
    }
}

extension Int64: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeInt(self)
        return true
    }
}

extension UInt: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        guard let value = Int64(exactly: self) else { return false }
        writer.writeInt(value)
        return true
    }
}

extension UInt8: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeInt(Int64(self))
        return true
    }
}

extension UInt16: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeInt(Int64(self))
        return true
    }
}

extension UInt32: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeInt(Int64(self))
        return true
    }
}

extension UInt64: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        guard let value = Int64(exactly: self) else { return false }
        writer.writeInt(value)
        return true
    }
}

extension Date: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeDouble(timeIntervalSince1970)
        return true
    }
}

extension Data: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeBinary(self)
        return true
    }
}

extension UUID: MessagePackEncodingPrimitive {
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.writeString(lowercaseUUIDString)
        return true
    }

    /// The canonical 8-4-4-4-12 form in lowercase hex, as `EventValueEncoder` writes it.
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

extension EventValue: MessagePackEncodingPrimitive {
    /// Written as it is, as `EventValueEncoder` stores it (only reachable if `EventValue` is
    /// made `Encodable`).
    func writeMessagePack(into writer: inout MessagePackWriter) -> Bool {
        writer.write(self)
        return true
    }
}

// MARK: - Encoder implementation

/// The `Encoder` handed to `encode(to:)`; one per nested non-primitive value.
///
/// Its one container writes straight into the context's writer: a keyed or unkeyed container
/// starts with a one-byte header placeholder, and ``finish()`` writes the real header (and
/// orders a map's entries) once `encode(to:)` has returned. Nested values are encoded, and
/// finished, while their parent writes them, so each container's bytes stay contiguous.
final class MessagePackEncoderImpl: Encoder {
    private enum Storage {
        case empty
        case keyed(start: Int, count: Int)
        case unkeyed(start: Int, count: Int)
        case single
    }

    let context: MessagePackEncodingContext
    let path: CodingPathNode?
    @exclusivity(unchecked) private var storage = Storage.empty
    /// Set by ``finish()``: a container used after that (kept past its `encode(to:)`) declines.
    @exclusivity(unchecked) private var isFinished = false

    init(context: MessagePackEncodingContext, path: CodingPathNode?) {
        self.context = context
        self.path = path
    }

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// Whether nothing has been encoded.
    var isEmpty: Bool {
        if case .empty = storage { return true }
        return false
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        switch storage {
        case .empty where !isFinished:
            storage = .keyed(start: context.writer.writeHeaderPlaceholder(), count: 0)
        case .keyed where !isFinished:
            break  // EventValueEncoder merges the keys of both containers; so do the entries here
        default:
            context.abort()
        }
        return KeyedEncodingContainer(MessagePackKeyedEncodingContainer<Key>(encoder: self))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        switch storage {
        case .empty where !isFinished:
            storage = .unkeyed(start: context.writer.writeHeaderPlaceholder(), count: 0)
        case .unkeyed where !isFinished:
            break
        default:
            context.abort()
        }
        return MessagePackUnkeyedEncodingContainer(encoder: self)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        MessagePackSingleValueEncodingContainer(encoder: self)
    }

    /// Writes the header of this encoder's container (ordering a map's entries), or an empty
    /// map if nothing was encoded (as `EventValueEncoder` stores a nested value that encodes
    /// nothing).
    func finish() {
        defer { isFinished = true }
        guard !context.isAborted else { return }
        switch storage {
        case .empty:
            context.writer.writeMapHeader(0)
        case .keyed(let start, let count):
            if !context.writer.finishMap(headerAt: start, count: count) { context.abort() }
        case .unkeyed(let start, let count):
            context.writer.finishArray(headerAt: start, count: count)
        case .single:
            break
        }
    }

    // MARK: Keyed container

    /// Writes `key` as the next entry's key; throws if the fast path declines.
    @inline(__always)
    func writeKey(_ key: any CodingKey) throws {
        guard case .keyed(let start, let count) = storage, !isFinished, !context.isAborted else { throw context.abort() }
        storage = .keyed(start: start, count: count + 1)
        context.writer.writeString(key.stringValue)
    }

    func encodeNil(forKey key: any CodingKey) throws {
        try writeKey(key)
        context.writer.writeNil()
    }

    func encode(_ value: Bool, forKey key: any CodingKey) throws {
        try writeKey(key)
        context.writer.writeBool(value)
    }

    func encode(_ value: String, forKey key: any CodingKey) throws {
        try writeKey(key)
        context.writer.writeString(value)
    }

    func encode(_ value: Double, forKey key: any CodingKey) throws {
        try writeKey(key)
        context.writer.writeDouble(value)
    }

    func encode(_ value: Int64, forKey key: any CodingKey) throws {
        try writeKey(key)
        context.writer.writeInt(value)
    }

    func encode(_ value: UInt64, forKey key: any CodingKey) throws {
        guard let int = Int64(exactly: value) else { throw context.abort() }
        try writeKey(key)
        context.writer.writeInt(int)
    }

    func encode<T: Encodable>(_ value: T, forKey key: any CodingKey) throws {
        try writeKey(key)
        try box(value) { CodingPathNode(parent: path, key: key) }
    }

    // MARK: Unkeyed container

    /// The number of elements encoded so far.
    var elementCount: Int {
        if case .unkeyed(_, let count) = storage { return count }
        return 0
    }

    /// Counts the next element; throws if the fast path declines.
    @inline(__always)
    func nextElement() throws {
        guard case .unkeyed(let start, let count) = storage, !isFinished, !context.isAborted else { throw context.abort() }
        storage = .unkeyed(start: start, count: count + 1)
    }

    func encodeElement<T: Encodable>(_ value: T) throws {
        let key = MessagePackCodingKey(index: elementCount)
        try nextElement()
        try box(value) { CodingPathNode(parent: path, key: key) }
    }

    // MARK: Single value container

    /// Claims this encoder for a single value; throws if the fast path declines (a second
    /// value, or a value after a container, which `EventValueEncoder` rejects).
    @inline(__always)
    func beginSingleValue() throws {
        guard case .empty = storage, !isFinished, !context.isAborted else { throw context.abort() }
        storage = .single
    }

    func encodeSingle<T: Encodable>(_ value: T) throws {
        try beginSingleValue()
        try box(value) { path }
    }

    // MARK: Nested values

    /// Writes a nested value: a primitive directly, anything else through a child encoder,
    /// finished before this returns.
    func box<T: Encodable>(_ value: T, path: () -> CodingPathNode?) throws {
        if CodablePrimitives.contains(T.self), let primitive = value as? any MessagePackEncodingPrimitive {
            guard primitive.writeMessagePack(into: &context.writer) else { throw context.abort() }
            return
        }
        let encoder = MessagePackEncoderImpl(context: context, path: path())
        do {
            try value.encode(to: encoder)
        } catch {
            throw context.abort()
        }
        encoder.finish()
        if context.isAborted { throw MessagePackEncodingDeclined() }
    }

    /// An encoder whose every use declines: returned where the fast path cannot follow.
    func declined() -> MessagePackEncoderImpl {
        context.abort()
        let encoder = MessagePackEncoderImpl(context: context, path: path)
        encoder.isFinished = true
        return encoder
    }
}

/// The keyed container: forwards to ``MessagePackEncoderImpl`` (not generic, so compiled once
/// at full speed; containers are reached through `any Encoder`, where generic code is not
/// specialized).
struct MessagePackKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: MessagePackEncoderImpl

    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil(forKey key: Key) throws { try encoder.encodeNil(forKey: key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { try encoder.encode(value, forKey: key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try encoder.encode(value, forKey: key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try encoder.encode(value, forKey: key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try encoder.encode(Double(value), forKey: key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try encoder.encode(Int64(value), forKey: key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try encoder.encode(Int64(value), forKey: key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try encoder.encode(Int64(value), forKey: key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try encoder.encode(Int64(value), forKey: key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try encoder.encode(value, forKey: key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try encoder.encode(UInt64(value), forKey: key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try encoder.encode(Int64(value), forKey: key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try encoder.encode(Int64(value), forKey: key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try encoder.encode(Int64(value), forKey: key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try encoder.encode(value, forKey: key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try encoder.encode(value, forKey: key) }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type,
        forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        encoder.declined().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        encoder.declined().unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { encoder.declined() }

    mutating func superEncoder(forKey key: Key) -> any Encoder { encoder.declined() }
}

struct MessagePackUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let encoder: MessagePackEncoderImpl

    var codingPath: [any CodingKey] { encoder.codingPath }

    var count: Int { encoder.elementCount }

    private var context: MessagePackEncodingContext { encoder.context }

    mutating func encodeNil() throws {
        try encoder.nextElement()
        context.writer.writeNil()
    }

    mutating func encode(_ value: Bool) throws {
        try encoder.nextElement()
        context.writer.writeBool(value)
    }

    mutating func encode(_ value: String) throws {
        try encoder.nextElement()
        context.writer.writeString(value)
    }

    mutating func encode(_ value: Double) throws {
        try encoder.nextElement()
        context.writer.writeDouble(value)
    }

    mutating func encode(_ value: Float) throws {
        try encoder.nextElement()
        context.writer.writeDouble(Double(value))
    }

    mutating func encode(_ value: Int) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try encodeInteger(value) }
    mutating func encode(_ value: UInt8) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { try encodeInteger(Int64(value)) }

    mutating func encode(_ value: UInt) throws {
        guard let int = Int64(exactly: value) else { throw encoder.context.abort() }
        try encodeInteger(int)
    }

    mutating func encode(_ value: UInt64) throws {
        guard let int = Int64(exactly: value) else { throw encoder.context.abort() }
        try encodeInteger(int)
    }

    private mutating func encodeInteger(_ value: Int64) throws {
        try encoder.nextElement()
        context.writer.writeInt(value)
    }

    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encodeElement(value) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        encoder.declined().container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        encoder.declined().unkeyedContainer()
    }

    mutating func superEncoder() -> any Encoder { encoder.declined() }
}

struct MessagePackSingleValueEncodingContainer: SingleValueEncodingContainer {
    let encoder: MessagePackEncoderImpl

    var codingPath: [any CodingKey] { encoder.codingPath }

    private var context: MessagePackEncodingContext { encoder.context }

    mutating func encodeNil() throws {
        try encoder.beginSingleValue()
        context.writer.writeNil()
    }

    mutating func encode(_ value: Bool) throws {
        try encoder.beginSingleValue()
        context.writer.writeBool(value)
    }

    mutating func encode(_ value: String) throws {
        try encoder.beginSingleValue()
        context.writer.writeString(value)
    }

    mutating func encode(_ value: Double) throws {
        try encoder.beginSingleValue()
        context.writer.writeDouble(value)
    }

    mutating func encode(_ value: Float) throws {
        try encoder.beginSingleValue()
        context.writer.writeDouble(Double(value))
    }

    mutating func encode(_ value: Int) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: Int8) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: Int16) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: Int32) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: Int64) throws { try encodeInteger(value) }
    mutating func encode(_ value: UInt8) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: UInt16) throws { try encodeInteger(Int64(value)) }
    mutating func encode(_ value: UInt32) throws { try encodeInteger(Int64(value)) }

    mutating func encode(_ value: UInt) throws {
        guard let int = Int64(exactly: value) else { throw context.abort() }
        try encodeInteger(int)
    }

    mutating func encode(_ value: UInt64) throws {
        guard let int = Int64(exactly: value) else { throw context.abort() }
        try encodeInteger(int)
    }

    private mutating func encodeInteger(_ value: Int64) throws {
        try encoder.beginSingleValue()
        context.writer.writeInt(value)
    }

    mutating func encode<T: Encodable>(_ value: T) throws { try encoder.encodeSingle(value) }
}
