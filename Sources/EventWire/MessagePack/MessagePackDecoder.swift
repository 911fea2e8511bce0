#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EventBus

/// Decodes `Decodable` values straight from validated MessagePack bytes, without building an
/// `EventValue` first.
///
/// The mapping, the leniency and the errors are exactly `EventValueDecoder`'s, applied to the
/// `EventValue` the bytes would decode to (``MessagePackReader/readValue()``): decoding a
/// payload here and decoding its `EventValue` there give the same value, or fail with the same
/// `DecodingError` (kind, type, coding path and description). In short:
///
/// - every integer format is an int, float32 and float64 are a double; integer types take an
///   int in range or an integral double in range, `Float`/`Double` take either;
/// - `Bool` takes only a bool, `String` only a string;
/// - `Date` takes a double or an int (seconds since 1970), `Data` only binary, `UUID` a string
///   (either case) or exactly 16 bytes of binary;
/// - a missing key is `keyNotFound`, nil where a value is needed `valueNotFound`, a value of
///   another kind `typeMismatch`, an out-of-range number or malformed UUID `dataCorrupted`.
///
/// One difference no caller should rely on either way: `allKeys` lists a map's keys in their
/// encoded order, `EventValueDecoder` in its `EventMap`'s (ascending UTF-8 bytes, the same for a
/// map EventWire wrote, not for one another writer left unsorted). So a type that decodes a map
/// by iterating `allKeys`, such as `Dictionary`, may report another of several failing keys; it
/// fails or succeeds alike.
///
/// Maps are indexed once per keyed container (key bytes to value offsets) and keys are looked
/// up by comparing UTF-8 bytes, so a lookup makes no `String`; only a miss involving a non-ASCII
/// key falls back to comparing `String`s, because an `EventMap` matches keys by canonical
/// equivalence.
///
/// The bytes must hold a value that ``MessagePackReader/validateValue()`` accepted; see
/// ``ValidatedMessagePack``.
enum MessagePackDecoder {
    /// Decodes the value at `offset` in a validated frame as `type`.
    /// - Parameters:
    ///   - type: the type to decode.
    ///   - frame: the frame.
    ///   - offset: where the value starts; it must have been validated.
    /// - Returns: the decoded value.
    /// - Throws: `DecodingError` when the value does not fit `type`, or any error `type`'s own
    ///   `init(from:)` throws.
    static func decode<T: Decodable>(_ type: T.Type, from frame: ValidatedMessagePack, at offset: Int) throws -> T {
        try MessagePackUnbox.unbox(type, frame, at: offset) { nil }
    }
}

// MARK: - Coding paths

/// One step of a coding path, shared by the decoders and containers below it, so that the path
/// is only built as an array when someone asks for it (an error, or `codingPath`).
final class CodingPathNode {
    let parent: CodingPathNode?
    let key: any CodingKey

    init(parent: CodingPathNode?, key: any CodingKey) {
        self.parent = parent
        self.key = key
    }

    /// The path that ends at `node`, outermost key first.
    static func path(_ node: CodingPathNode?) -> [any CodingKey] {
        var keys: [any CodingKey] = []
        var current = node
        while let step = current {
            keys.append(step.key)
            current = step.parent
        }
        keys.reverse()
        return keys
    }

    /// The path that ends at `node`, then `key`.
    static func path(_ node: CodingPathNode?, appending key: any CodingKey) -> [any CodingKey] {
        var keys = path(node)
        keys.append(key)
        return keys
    }
}

/// The keys the decoder makes up itself, with `EventValueDecoder`'s string and integer values:
/// array indices (`"Index 3"`, 3) and `"super"`.
struct MessagePackCodingKey: CodingKey {
    private enum Storage {
        case name(String)
        case integer(Int)
        case index(Int)
    }

    private let storage: Storage

    init(stringValue: String) { storage = .name(stringValue) }
    init(intValue: Int) { storage = .integer(intValue) }
    /// The key of the element at `index` of an unkeyed container.
    init(index: Int) { storage = .index(index) }

    var stringValue: String {
        switch storage {
        case .name(let name): name
        case .integer(let value): String(value)
        case .index(let index): "Index \(index)"
        }
    }

    var intValue: Int? {
        switch storage {
        case .name: nil
        case .integer(let value), .index(let value): value
        }
    }

    /// The key `superDecoder()` uses.
    static let `super` = MessagePackCodingKey(stringValue: "super")
}

// MARK: - Primitives

/// The types `EventValueEncoder` and `EventValueDecoder` handle themselves instead of calling
/// their `Codable` conformance.
enum CodablePrimitives {
    /// Whether `type` is one of them: a few pointer comparisons, much cheaper than the
    /// conformance lookup of a failing `as? any P.Type` cast (the common case: a struct).
    @inline(__always)
    static func contains(_ type: Any.Type) -> Bool {
        let id = ObjectIdentifier(type)
        return id == ObjectIdentifier(String.self) || id == ObjectIdentifier(Int.self) || id == ObjectIdentifier(Double.self)
            || id == ObjectIdentifier(Bool.self) || id == ObjectIdentifier(Int64.self) || id == ObjectIdentifier(Date.self)
            || id == ObjectIdentifier(UUID.self) || id == ObjectIdentifier(Data.self) || id == ObjectIdentifier(Float.self)
            || id == ObjectIdentifier(UInt64.self) || id == ObjectIdentifier(Int32.self) || id == ObjectIdentifier(UInt32.self)
            || id == ObjectIdentifier(UInt.self) || id == ObjectIdentifier(Int16.self) || id == ObjectIdentifier(UInt16.self)
            || id == ObjectIdentifier(Int8.self) || id == ObjectIdentifier(UInt8.self) || id == ObjectIdentifier(EventValue.self)
    }
}

/// A type the decoder reads directly instead of calling its `init(from:)` (the same set as
/// `EventValueDecoder`'s).
protocol MessagePackDecodingPrimitive {
    /// Reads a value of this type from `element`; `path` builds the coding path for an error.
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Self
}

extension Bool: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Bool {
        try MessagePackUnbox.bool(element, path: path)
    }
}

extension String: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> String {
        try MessagePackUnbox.string(element, in: frame, path: path)
    }
}

extension Double: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Double {
        try MessagePackUnbox.double(element, path: path)
    }
}

extension Float: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Float {
        try MessagePackUnbox.float(element, path: path)
    }
}

extension Int: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Int {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension Int8: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Int8 {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension Int16: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Int16 {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension Int32: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Int32 {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension Int64: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Int64 {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension UInt: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> UInt {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension UInt8: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> UInt8 {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension UInt16: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> UInt16 {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension UInt32: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> UInt32 {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension UInt64: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> UInt64 {
        try MessagePackUnbox.integer(element, path: path)
    }
}

extension Date: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Date {
        switch element {
        case .double(let seconds): return Date(timeIntervalSince1970: seconds)
        case .int(let seconds): return Date(timeIntervalSince1970: Double(seconds))
        default: throw MessagePackUnbox.mismatch(Date.self, found: element, path: path)
        }
    }
}

extension Data: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> Data {
        guard case .binary(let range) = element else { throw MessagePackUnbox.mismatch(Data.self, found: element, path: path) }
        return Data(frame.bytes[range])
    }
}

extension UUID: MessagePackDecodingPrimitive {
    static func _decodeMessagePack(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> UUID {
        switch element {
        case .string(let range):
            let string = frame.string(range)
            guard let uuid = UUID(uuidString: string) else {
                throw MessagePackUnbox.corrupted("Invalid UUID string \"\(string)\".", path: path)
            }
            return uuid
        case .binary(let range):
            guard range.count == 16 else {
                throw MessagePackUnbox.corrupted("A UUID needs exactly 16 bytes, found \(range.count).", path: path)
            }
            let b = frame.bytes[range]
            let i = range.lowerBound
            return UUID(uuid: (
                b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7],
                b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13], b[i + 14], b[i + 15]))
        default:
            throw MessagePackUnbox.mismatch(UUID.self, found: element, path: path)
        }
    }
}

// MARK: - Conversions and errors

/// `EventValueUnbox`'s conversions, over ``MessagePackElement`` instead of `EventValue`.
enum MessagePackUnbox {
    /// Decodes the value at `offset` (or nil, for ``MessagePackDecoderImpl/absent``): a primitive
    /// directly, anything else through a child decoder.
    ///
    /// `path` gives the value's coding path node; it is only called when needed.
    @inline(__always)
    static func unbox<T: Decodable>(
        _ type: T.Type,
        _ frame: ValidatedMessagePack,
        at offset: Int,
        path: () -> CodingPathNode?
    ) throws -> T {
        if CodablePrimitives.contains(type) {
            return try unboxPrimitive(type, frame, at: offset, path: path)
        }
        return try T(from: MessagePackDecoderImpl(frame: frame, offset: offset, path: path()))
    }

    /// ``unbox(_:_:at:path:)`` for ``CodablePrimitives`` (`EventValue` included). Kept out of line: its casts
    /// to `T?` make unspecialized code look up `Optional<T>`'s metadata at run time (a few
    /// hundred instructions), which a struct decoded through its `init(from:)` should not pay.
    @inline(never)
    static func unboxPrimitive<T: Decodable>(
        _ type: T.Type,
        _ frame: ValidatedMessagePack,
        at offset: Int,
        path: () -> CodingPathNode?
    ) throws -> T {
        if let primitive = type as? any MessagePackDecodingPrimitive.Type {
            let element = frame.element(orNilAt: offset)
            guard let decoded = try primitive._decodeMessagePack(element, in: frame, path: { CodingPathNode.path(path()) }) as? T else {
                // Unreachable: `primitive` is `T.self`.
                throw mismatch(type, found: element) { CodingPathNode.path(path()) }
            }
            return decoded
        }
        // `EventValueDecoder` hands back an `EventValue` as it is (should it become Decodable).
        if type == EventValue.self, let value = frame.eventValue(orNilAt: offset) as? T {
            return value
        }
        return try T(from: MessagePackDecoderImpl(frame: frame, offset: offset, path: path()))
    }

    static func bool(_ element: MessagePackElement, path: () -> [any CodingKey]) throws -> Bool {
        guard case .bool(let bool) = element else { throw mismatch(Bool.self, found: element, path: path) }
        return bool
    }

    static func string(_ element: MessagePackElement, in frame: ValidatedMessagePack, path: () -> [any CodingKey]) throws -> String {
        guard case .string(let range) = element else { throw mismatch(String.self, found: element, path: path) }
        return frame.string(range)
    }

    static func double(_ element: MessagePackElement, path: () -> [any CodingKey]) throws -> Double {
        switch element {
        case .double(let double): return double
        case .int(let int): return Double(int)
        default: throw mismatch(Double.self, found: element, path: path)
        }
    }

    static func float(_ element: MessagePackElement, path: () -> [any CodingKey]) throws -> Float {
        switch element {
        case .double(let double):
            let float = Float(double)
            if float.isInfinite && double.isFinite {
                throw corrupted("Number \(double) does not fit in Float.", path: path)
            }
            return float
        case .int(let int):
            return Float(int)
        default:
            throw mismatch(Float.self, found: element, path: path)
        }
    }

    static func integer<I: FixedWidthInteger>(_ element: MessagePackElement, path: () -> [any CodingKey]) throws -> I {
        switch element {
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
            throw mismatch(I.self, found: element, path: path)
        }
    }

    /// `valueNotFound` for nil, `typeMismatch` for any other wrong kind.
    @inline(never)
    static func mismatch(_ type: Any.Type, found element: MessagePackElement, path: () -> [any CodingKey]) -> DecodingError {
        if case .null = element {
            return DecodingError.valueNotFound(
                type,
                DecodingError.Context(codingPath: path(), debugDescription: "Expected \(type) value but found null instead.")
            )
        }
        return DecodingError.typeMismatch(
            type,
            DecodingError.Context(codingPath: path(), debugDescription: "Expected to decode \(type) but found \(kind(of: element)) instead.")
        )
    }

    @inline(never)
    static func corrupted(_ description: String, path: () -> [any CodingKey]) -> DecodingError {
        DecodingError.dataCorrupted(DecodingError.Context(codingPath: path(), debugDescription: description))
    }

    /// How `EventValueDecoder` names the kind of a value in its messages.
    static func kind(of element: MessagePackElement) -> String {
        switch element {
        case .null: return "null"
        case .bool: return "a bool"
        case .int: return "an int"
        case .double: return "a double"
        case .string: return "a string"
        case .binary: return "bytes"
        case .array: return "an array"
        case .map: return "a map"
        }
    }
}

extension ValidatedMessagePack {
    /// The value at `offset`, or nil for ``MessagePackDecoderImpl/absent``.
    @inline(__always)
    func element(orNilAt offset: Int) -> MessagePackElement {
        offset == MessagePackDecoderImpl.absent ? .null : element(at: offset)
    }
}

extension ValidatedMessagePack {
    /// The value at `offset` as an `EventValue` (nil for ``MessagePackDecoderImpl/absent``).
    func eventValue(orNilAt offset: Int) -> EventValue {
        guard offset != MessagePackDecoderImpl.absent else { return .null }
        // The value was validated (with limits at least this strict), so this cannot fail.
        var reader = MessagePackReader(bytes: bytes, at: offset, limits: WireLimits(maxFrameBytes: .max, maxDepth: .max, maxCollectionCount: .max, maxTotalValues: .max))
        return (try? reader.readValue()) ?? .null
    }
}

// MARK: - Decoder implementation

/// The `Decoder` handed to `init(from:)`; one per nested non-primitive value.
///
/// Three words (frame, offset, path), so it is stored inline in an `any Decoder` rather than
/// allocated.
struct MessagePackDecoderImpl: Decoder {
    /// The offset of a value that is not there (`superDecoder(forKey:)` of a missing key), read
    /// as nil, as `EventValueDecoder` reads it as `EventValue.null`.
    static let absent = -1

    let frame: ValidatedMessagePack
    /// Where the value starts, or ``absent``.
    let offset: Int
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }

    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(try MessagePackKeyedDecodingContainer<Key>(frame: frame, offset: offset, path: path))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try MessagePackUnkeyedDecodingContainer(frame: frame, offset: offset, path: path)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        MessagePackSingleValueDecodingContainer(frame: frame, offset: offset, path: path)
    }
}

/// One entry of a map's index: where its key's bytes are, their first 8 bytes packed into an
/// integer (for a one-comparison first check), and so where its value starts (right after).
struct MessagePackMapEntry {
    let prefix: UInt64
    let keyStart: Int
    let keyLength: Int

    /// Where the entry's value starts.
    var value: Int { keyStart + keyLength }
}

/// What a ``MessagePackMapIndex`` holds besides its entries.
struct MessagePackMapHeader {
    let frame: ValidatedMessagePack
    let path: CodingPathNode?
    var count: Int
    /// Whether any key has a byte above 0x7f (then a lookup that misses by bytes compares strings).
    var hasNonASCIIKey: Bool
}

/// A map of a validated frame, indexed once when a keyed container is made: each key's bytes
/// and where its value starts, stored after the header in the same allocation.
///
/// Not generic, so the lookups are compiled once and run at full speed whatever the `CodingKey`
/// type of the container that uses them (containers are reached through `any Decoder`, where
/// generic code is not specialized). Everything is read through
/// `withUnsafeMutablePointers`, which needs no dynamic exclusivity check; the object is never
/// mutated after ``make(frame:offset:path:)``.
final class MessagePackMapIndex: ManagedBuffer<MessagePackMapHeader, MessagePackMapEntry> {
    /// Indexes the map at `offset`, or throws `EventValueDecoder`'s error for a value that is
    /// not a map.
    static func make(frame: ValidatedMessagePack, offset: Int, path: CodingPathNode?) throws -> MessagePackMapIndex {
        let element = frame.element(orNilAt: offset)
        guard case .map(let count, let first) = element else { throw notAMap(element, path: path) }
        let buffer = create(minimumCapacity: count) { _ in
            MessagePackMapHeader(frame: frame, path: path, count: 0, hasNonASCIIKey: false)
        }
        buffer.withUnsafeMutablePointers { header, entries in
            var bits: UInt8 = 0
            var position = first
            for index in 0..<count {
                let key = frame.stringRange(at: position)
                let (prefix, keyBits) = frame.prefix(key)
                bits |= keyBits
                (entries + index).initialize(to: MessagePackMapEntry(prefix: prefix, keyStart: key.lowerBound, keyLength: key.count))
                header.pointee.count = index + 1
                position = frame.end(ofValueAt: key.upperBound)
            }
            header.pointee.hasNonASCIIKey = bits & 0x80 != 0
        }
        return unsafeDowncast(buffer, to: MessagePackMapIndex.self)
    }

    @inline(never)
    private static func notAMap(_ element: MessagePackElement, path: CodingPathNode?) -> DecodingError {
        if case .null = element {
            return DecodingError.valueNotFound(
                EventMap.self,
                DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: "Cannot get a keyed decoding container: found null instead of a map.")
            )
        }
        return DecodingError.typeMismatch(
            EventMap.self,
            DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: "Expected a map but found \(MessagePackUnbox.kind(of: element)) instead.")
        )
    }

    deinit {
        _ = withUnsafeMutablePointers { header, entries in entries.deinitialize(count: header.pointee.count) }
    }

    var frame: ValidatedMessagePack { withUnsafeMutablePointerToHeader { $0.pointee.frame } }
    var path: CodingPathNode? { withUnsafeMutablePointerToHeader { $0.pointee.path } }

    /// The keys, in the order they are encoded.
    var keys: [String] {
        withUnsafeMutablePointers { header, entries in
            let frame = header.pointee.frame
            return (0..<header.pointee.count).map { index in
                let entry = entries[index]
                return frame.string(entry.keyStart..<entry.value)
            }
        }
    }

    /// Where the value for the key spelled `name` starts, if the map has the key: the entry
    /// whose key has the same bytes (compared 8 at a time first), else the one that is the
    /// same `String`.
    @inline(__always)
    func valueOffset(named name: String) -> Int? {
        var name = name
        let found = name.withUTF8 { utf8 in
            withUnsafeMutablePointers { header, entries -> Int? in
                let prefix = ValidatedMessagePack.prefix(utf8)
                for index in 0..<header.pointee.count {
                    let entry = entries[index]
                    if entry.prefix == prefix && entry.keyLength == utf8.count
                        && (utf8.count <= 8 || header.pointee.frame.bytes(entry.keyStart..<entry.value, equal: utf8))
                    {
                        return entry.value
                    }
                }
                return nil
            }
        }
        if let found { return found }
        return valueOffsetComparingStrings(name)
    }

    // MARK: Decoding, for MessagePackKeyedDecodingContainer

    /// Where the value for `key` starts; throws `keyNotFound` if the map has no such key.
    @inline(__always)
    private func entry(_ key: any CodingKey) throws -> Int {
        guard let offset = valueOffset(named: key.stringValue) else { throw keyNotFound(key) }
        return offset
    }

    @inline(never)
    private func keyNotFound(_ key: any CodingKey) -> DecodingError {
        DecodingError.keyNotFound(
            key,
            DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: "No value associated with key \"\(key.stringValue)\".")
        )
    }

    /// The value for `key`; throws `keyNotFound` if the map has no such key.
    @inline(__always)
    private func element(_ key: any CodingKey) throws -> MessagePackElement {
        frame.element(at: try entry(key))
    }

    /// The value for `key` unless it is missing or nil.
    @inline(__always)
    private func present(_ key: any CodingKey) -> MessagePackElement? {
        guard let offset = valueOffset(named: key.stringValue) else { return nil }
        let element = frame.element(at: offset)
        if case .null = element { return nil }
        return element
    }

    func decodeNil(forKey key: any CodingKey) throws -> Bool {
        if case .null = try element(key) { return true }
        return false
    }

    func bool(forKey key: any CodingKey) throws -> Bool {
        try MessagePackUnbox.bool(element(key)) { CodingPathNode.path(path, appending: key) }
    }

    func string(forKey key: any CodingKey) throws -> String {
        try MessagePackUnbox.string(element(key), in: frame) { CodingPathNode.path(path, appending: key) }
    }

    func double(forKey key: any CodingKey) throws -> Double {
        try MessagePackUnbox.double(element(key)) { CodingPathNode.path(path, appending: key) }
    }

    func float(forKey key: any CodingKey) throws -> Float {
        try MessagePackUnbox.float(element(key)) { CodingPathNode.path(path, appending: key) }
    }

    func integer<I: FixedWidthInteger>(forKey key: any CodingKey) throws -> I {
        try MessagePackUnbox.integer(element(key)) { CodingPathNode.path(path, appending: key) }
    }

    func boolIfPresent(forKey key: any CodingKey) throws -> Bool? {
        guard let element = present(key) else { return nil }
        return try MessagePackUnbox.bool(element) { CodingPathNode.path(path, appending: key) }
    }

    func stringIfPresent(forKey key: any CodingKey) throws -> String? {
        guard let element = present(key) else { return nil }
        return try MessagePackUnbox.string(element, in: frame) { CodingPathNode.path(path, appending: key) }
    }

    func doubleIfPresent(forKey key: any CodingKey) throws -> Double? {
        guard let element = present(key) else { return nil }
        return try MessagePackUnbox.double(element) { CodingPathNode.path(path, appending: key) }
    }

    func floatIfPresent(forKey key: any CodingKey) throws -> Float? {
        guard let element = present(key) else { return nil }
        return try MessagePackUnbox.float(element) { CodingPathNode.path(path, appending: key) }
    }

    func integerIfPresent<I: FixedWidthInteger>(forKey key: any CodingKey) throws -> I? {
        guard let element = present(key) else { return nil }
        return try MessagePackUnbox.integer(element) { CodingPathNode.path(path, appending: key) } as I
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: any CodingKey) throws -> T {
        try MessagePackUnbox.unbox(type, frame, at: entry(key)) { CodingPathNode(parent: path, key: key) }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: any CodingKey) throws -> T? {
        guard let offset = valueOffset(named: key.stringValue) else { return nil }
        if case .null = frame.element(at: offset) { return nil }
        return try MessagePackUnbox.unbox(type, frame, at: offset) { CodingPathNode(parent: path, key: key) }
    }

    /// Where the value for `key` starts and its coding path, for a nested container.
    func nested(forKey key: any CodingKey) throws -> (offset: Int, path: CodingPathNode) {
        (try entry(key), CodingPathNode(parent: path, key: key))
    }

    /// A decoder for the value under `key`, or for nil if there is none.
    func superDecoder(forKey key: any CodingKey) -> MessagePackDecoderImpl {
        MessagePackDecoderImpl(
            frame: frame, offset: valueOffset(named: key.stringValue) ?? MessagePackDecoderImpl.absent,
            path: CodingPathNode(parent: path, key: key))
    }

    /// The lookup for a key that no entry matches byte for byte: when the name or a key is not
    /// ASCII, a key with other bytes may still be the same `String` (canonically equivalent),
    /// and would be found in an `EventMap`. Keys are unique as `String`s (validation
    /// rejects duplicates), so at most one matches.
    @inline(never)
    private func valueOffsetComparingStrings(_ name: String) -> Int? {
        withUnsafeMutablePointers { header, entries -> Int? in
            guard header.pointee.hasNonASCIIKey || !name.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
            let frame = header.pointee.frame
            for index in 0..<header.pointee.count {
                let entry = entries[index]
                if frame.string(entry.keyStart..<entry.value) == name { return entry.value }
            }
            return nil
        }
    }
}

extension ValidatedMessagePack {
    /// The first 8 bytes in `range`, packed little-endian (zero-padded), and all of its bytes
    /// or-ed together (bit 7 set if any is not ASCII).
    @inline(__always)
    func prefix(_ range: Range<Int>) -> (prefix: UInt64, bits: UInt8) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "a key outside its frame")
        return bytes.withUnsafeBufferPointer { buffer in
            let key = UnsafeBufferPointer(rebasing: buffer[range])
            var bits: UInt8 = 0
            for byte in key { bits |= byte }
            return (Self.prefix(key), bits)
        }
    }

    /// The first 8 bytes of `bytes`, packed little-endian (zero-padded).
    @inline(__always)
    static func prefix(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        if bytes.count >= 8 {
            return UInt64(littleEndian: UnsafeRawPointer(bytes.baseAddress!).loadUnaligned(as: UInt64.self))
        }
        var prefix: UInt64 = 0
        var shift: UInt64 = 0
        for byte in bytes {
            prefix |= UInt64(byte) << shift
            shift &+= 8
        }
        return prefix
    }
}

/// The keyed container handed out for a map.
///
/// Containers are reached through `any Decoder`, where generic code runs unspecialized and
/// every generic call or closure asks the runtime for type metadata; so each method here only
/// forwards, with the key as `any CodingKey`, to ``MessagePackMapIndex``, which is not generic.
struct MessagePackKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    /// The map, shared by copies of the container; one reference keeps the generic struct cheap
    /// to copy and destroy.
    let map: MessagePackMapIndex

    init(frame: ValidatedMessagePack, offset: Int, path: CodingPathNode?) throws {
        map = try MessagePackMapIndex.make(frame: frame, offset: offset, path: path)
    }

    var codingPath: [any CodingKey] { CodingPathNode.path(map.path) }

    var allKeys: [Key] { map.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { map.valueOffset(named: key.stringValue) != nil }

    func decodeNil(forKey key: Key) throws -> Bool { try map.decodeNil(forKey: key) }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try map.bool(forKey: key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try map.string(forKey: key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try map.double(forKey: key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try map.float(forKey: key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try map.integer(forKey: key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try map.integer(forKey: key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try map.integer(forKey: key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try map.integer(forKey: key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try map.integer(forKey: key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try map.integer(forKey: key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try map.integer(forKey: key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try map.integer(forKey: key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try map.integer(forKey: key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try map.integer(forKey: key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try map.decode(type, forKey: key)
    }

    // One lookup each instead of the default's three (`contains`, `decodeNil`, `decode`), with
    // the same result.

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? { try map.boolIfPresent(forKey: key) }
    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? { try map.stringIfPresent(forKey: key) }
    func decodeIfPresent(_ type: Double.Type, forKey key: Key) throws -> Double? { try map.doubleIfPresent(forKey: key) }
    func decodeIfPresent(_ type: Float.Type, forKey key: Key) throws -> Float? { try map.floatIfPresent(forKey: key) }
    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: Int8.Type, forKey key: Key) throws -> Int8? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: Int16.Type, forKey key: Key) throws -> Int16? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: Int64.Type, forKey key: Key) throws -> Int64? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: UInt.Type, forKey key: Key) throws -> UInt? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: UInt8.Type, forKey key: Key) throws -> UInt8? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: UInt16.Type, forKey key: Key) throws -> UInt16? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: UInt32.Type, forKey key: Key) throws -> UInt32? { try map.integerIfPresent(forKey: key) }
    func decodeIfPresent(_ type: UInt64.Type, forKey key: Key) throws -> UInt64? { try map.integerIfPresent(forKey: key) }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try map.decodeIfPresent(type, forKey: key)
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type,
        forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let (offset, node) = try map.nested(forKey: key)
        return KeyedDecodingContainer(try MessagePackKeyedDecodingContainer<NestedKey>(frame: map.frame, offset: offset, path: node))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let (offset, node) = try map.nested(forKey: key)
        return try MessagePackUnkeyedDecodingContainer(frame: map.frame, offset: offset, path: node)
    }

    /// A decoder for the value under `"super"`, or for nil if there is none (as `JSONDecoder`
    /// and `EventValueDecoder` do).
    func superDecoder() throws -> any Decoder { map.superDecoder(forKey: MessagePackCodingKey.super) }

    /// A decoder for the value under `key`, or for nil if there is none.
    func superDecoder(forKey key: Key) throws -> any Decoder { map.superDecoder(forKey: key) }
}

struct MessagePackUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    let frame: ValidatedMessagePack
    let path: CodingPathNode?
    private let elementCount: Int
    private(set) var currentIndex = 0
    /// Where the current element starts.
    private var position: Int

    init(frame: ValidatedMessagePack, offset: Int, path: CodingPathNode?) throws {
        let element = frame.element(orNilAt: offset)
        guard case .array(let count, let first) = element else {
            if case .null = element {
                throw DecodingError.valueNotFound(
                    [EventValue].self,
                    DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: "Cannot get an unkeyed decoding container: found null instead of an array.")
                )
            }
            throw DecodingError.typeMismatch(
                [EventValue].self,
                DecodingError.Context(codingPath: CodingPathNode.path(path), debugDescription: "Expected an array but found \(MessagePackUnbox.kind(of: element)) instead.")
            )
        }
        self.frame = frame
        self.path = path
        self.elementCount = count
        self.position = first
    }

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }
    var count: Int? { elementCount }
    var isAtEnd: Bool { currentIndex >= elementCount }

    private var currentKey: MessagePackCodingKey { MessagePackCodingKey(index: currentIndex) }

    private var currentPath: [any CodingKey] { CodingPathNode.path(path, appending: currentKey) }

    /// The current element's offset; throws `valueNotFound` past the end.
    private func peek(_ type: Any.Type) throws -> Int {
        guard currentIndex < elementCount else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(codingPath: currentPath, debugDescription: "Unkeyed container is at end.")
            )
        }
        return position
    }

    /// Moves to the next element.
    private mutating func advance() {
        position = frame.end(ofValueAt: position)
        currentIndex += 1
    }

    /// Decodes the current element with `read` and advances only if it succeeds.
    private mutating func next<T>(_ type: T.Type, _ read: (MessagePackElement, () -> [any CodingKey]) throws -> T) throws -> T {
        let element = frame.element(at: try peek(type))
        let result = try read(element) { currentPath }
        advance()
        return result
    }

    mutating func decodeNil() throws -> Bool {
        guard case .null = frame.element(at: try peek((any Decodable)?.self)) else { return false }
        advance()
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool { try next(type, MessagePackUnbox.bool) }
    mutating func decode(_ type: String.Type) throws -> String {
        let frame = frame
        return try next(type) { element, path in try MessagePackUnbox.string(element, in: frame, path: path) }
    }
    mutating func decode(_ type: Double.Type) throws -> Double { try next(type, MessagePackUnbox.double) }
    mutating func decode(_ type: Float.Type) throws -> Float { try next(type, MessagePackUnbox.float) }
    mutating func decode(_ type: Int.Type) throws -> Int { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: Int8.Type) throws -> Int8 { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: Int16.Type) throws -> Int16 { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: Int32.Type) throws -> Int32 { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: Int64.Type) throws -> Int64 { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: UInt.Type) throws -> UInt { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 { try next(type, MessagePackUnbox.integer) }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 { try next(type, MessagePackUnbox.integer) }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let offset = try peek(type)
        let key = currentKey
        let result = try MessagePackUnbox.unbox(type, frame, at: offset) { CodingPathNode(parent: path, key: key) }
        advance()
        return result
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        let container = try MessagePackKeyedDecodingContainer<NestedKey>(
            frame: frame,
            offset: peek(KeyedDecodingContainer<NestedKey>.self),
            path: CodingPathNode(parent: path, key: currentKey)
        )
        advance()
        return KeyedDecodingContainer(container)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let container = try MessagePackUnkeyedDecodingContainer(
            frame: frame,
            offset: peek((any UnkeyedDecodingContainer).self),
            path: CodingPathNode(parent: path, key: currentKey)
        )
        advance()
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        let decoder = MessagePackDecoderImpl(
            frame: frame, offset: try peek((any Decoder).self), path: CodingPathNode(parent: path, key: currentKey))
        advance()
        return decoder
    }
}

struct MessagePackSingleValueDecodingContainer: SingleValueDecodingContainer {
    let frame: ValidatedMessagePack
    /// Where the value starts, or ``MessagePackDecoderImpl/absent``.
    let offset: Int
    let path: CodingPathNode?

    var codingPath: [any CodingKey] { CodingPathNode.path(path) }

    private var element: MessagePackElement { frame.element(orNilAt: offset) }

    func decodeNil() -> Bool {
        if case .null = element { return true }
        return false
    }

    func decode(_ type: Bool.Type) throws -> Bool { try MessagePackUnbox.bool(element) { codingPath } }
    func decode(_ type: String.Type) throws -> String { try MessagePackUnbox.string(element, in: frame) { codingPath } }
    func decode(_ type: Double.Type) throws -> Double { try MessagePackUnbox.double(element) { codingPath } }
    func decode(_ type: Float.Type) throws -> Float { try MessagePackUnbox.float(element) { codingPath } }
    func decode(_ type: Int.Type) throws -> Int { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: Int8.Type) throws -> Int8 { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: Int16.Type) throws -> Int16 { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: Int32.Type) throws -> Int32 { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: Int64.Type) throws -> Int64 { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: UInt.Type) throws -> UInt { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try MessagePackUnbox.integer(element) { codingPath } }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try MessagePackUnbox.integer(element) { codingPath } }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try MessagePackUnbox.unbox(type, frame, at: offset) { path }
    }
}
