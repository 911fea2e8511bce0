public import EventBus
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kind of MessagePack value a format byte announces.
///
/// Integers are told apart by their format family, not by their value: positive fixint and
/// uint8/16/32/64 are ``uint``; negative fixint and int8/16/32/64 are ``int`` (even an int8 that
/// holds 5).
public enum MessagePackFormat: Sendable, Hashable {
    /// `nil` (`0xc0`).
    case `nil`
    /// `false` or `true`.
    case bool
    /// Negative fixint or int8/16/32/64.
    case int
    /// Positive fixint or uint8/16/32/64.
    case uint
    /// float32 or float64.
    case float
    /// fixstr or str8/16/32.
    case string
    /// bin8/16/32.
    case binary
    /// fixarray or array16/32.
    case array
    /// fixmap or map16/32.
    case map
    /// fixext1/2/4/8/16 or ext8/16/32 (including timestamps); EventWire skips but never decodes these.
    case ext
}

/// Reads MessagePack values from a frame, totally: any input yields values or a ``WireError``.
///
/// The reader never traps, loops without consuming input, or allocates for a declared length
/// before checking it against the bytes that actually remain: a string or binary of N bytes
/// needs N bytes, an array of N elements at least N bytes and a map of N entries at least 2N,
/// so a few bytes that declare a 4 GiB array fail with ``WireError/Code/truncated`` at once.
/// ``WireLimits`` bound nesting depth, collection counts and the values decoded per reader.
///
/// Errors carry the offset of the offending value's first byte (for a length that runs past
/// the input, the offset of the header that declares it; for input that ends between values,
/// the end of the input). The typed readers (`readInt()`, `readString()`, the header readers…)
/// leave ``offset`` unchanged when they throw; after ``readValue()`` or ``skipValue()`` throws,
/// the position is unspecified and the reader should be discarded.
///
/// ```swift
/// var reader = MessagePackReader(bytes: frame)
/// let count = try reader.readMapHeader()
/// for _ in 0..<count {
///     let key = try reader.readString()
///     let value = try reader.readValue()
/// }
/// ```
public struct MessagePackReader: Sendable {
    /// The frame being read.
    private let bytes: [UInt8]
    /// The offset of the next unread byte; never more than `bytes.count`.
    private var position: Int
    /// The bounds this reader enforces.
    let limits: WireLimits
    /// How many values this reader has decoded, checked against `limits.maxTotalValues`.
    private(set) var valueCount = 0

    /// Creates a reader positioned at the first byte of `bytes`.
    ///
    /// The frame size is not checked here: call ``checkFrameSize(_:limits:)`` on the frame
    /// before reading it.
    ///
    /// - Parameters:
    ///   - bytes: The frame to read.
    ///   - limits: The bounds to enforce while reading.
    public init(bytes: [UInt8], limits: WireLimits = .default) {
        self.bytes = bytes
        self.position = 0
        self.limits = limits
    }

    /// Creates a reader positioned at `offset` in `bytes`, to read a value found by an
    /// earlier reader (offsets in errors stay frame offsets).
    ///
    /// - Parameters:
    ///   - bytes: The frame to read.
    ///   - offset: Where to start, from 0 to `bytes.count`.
    ///   - limits: The bounds to enforce while reading.
    init(bytes: [UInt8], at offset: Int, limits: WireLimits) {
        precondition(offset >= 0 && offset <= bytes.count, "offset \(offset) outside a frame of \(bytes.count) bytes")
        self.bytes = bytes
        self.position = offset
        self.limits = limits
    }

    /// The offset of the next unread byte in the frame.
    public var offset: Int { position }

    /// Whether every byte of the frame has been read.
    public var isAtEnd: Bool { position >= bytes.count }

    /// Checks a frame's size against `limits.maxFrameBytes`.
    ///
    /// - Parameters:
    ///   - count: The frame's size in bytes.
    ///   - limits: The limits that give the largest accepted frame.
    /// - Throws: ``WireError/Code/limitExceeded`` (with the limit as its offset) when `count`
    ///   is larger than `limits.maxFrameBytes`.
    public static func checkFrameSize(_ count: Int, limits: WireLimits) throws(WireError) {
        guard count <= limits.maxFrameBytes else {
            throw WireError(
                .limitExceeded, offset: limits.maxFrameBytes,
                message: "frame of \(count) bytes exceeds the limit of \(limits.maxFrameBytes) bytes")
        }
    }

    /// Tells what kind of value comes next, without reading it.
    ///
    /// - Returns: The format family of the next value's format byte.
    /// - Throws: ``WireError/Code/truncated`` at the end of the input;
    ///   ``WireError/Code/invalidFormat`` for the never-used byte `0xc1`.
    public func peekFormat() throws(WireError) -> MessagePackFormat {
        let start = position
        switch try formatByte(at: start, expected: "a value") {
        case 0x00...0x7f, 0xcc...0xcf: return .uint
        case 0xd0...0xd3, 0xe0...0xff: return .int
        case 0xc0: return .nil
        case 0xc2, 0xc3: return .bool
        case 0xca, 0xcb: return .float
        case 0xa0...0xbf, 0xd9...0xdb: return .string
        case 0xc4...0xc6: return .binary
        case 0x90...0x9f, 0xdc, 0xdd: return .array
        case 0x80...0x8f, 0xde, 0xdf: return .map
        case 0xc7...0xc9, 0xd4...0xd8: return .ext
        default: throw Self.invalidFormat(at: start)
        }
    }

    // MARK: - Typed readers

    /// Reads `nil`.
    ///
    /// - Throws: ``WireError/Code/wrongType`` if the next value is not nil;
    ///   ``WireError/Code/truncated`` at the end of the input; ``WireError/Code/invalidFormat``
    ///   for `0xc1`; ``WireError/Code/limitExceeded`` past `maxTotalValues`.
    public mutating func readNil() throws(WireError) {
        let start = position
        let format = try formatByte(at: start, expected: "nil")
        guard format == 0xc0 else { throw Self.unexpected(format, at: start, expected: "nil") }
        try countValue(at: start)
        position = start + 1
    }

    /// Reads a boolean.
    ///
    /// - Returns: The boolean.
    /// - Throws: ``WireError/Code/wrongType`` if the next value is not `true` or `false`;
    ///   ``WireError/Code/truncated`` at the end of the input; ``WireError/Code/invalidFormat``
    ///   for `0xc1`; ``WireError/Code/limitExceeded`` past `maxTotalValues`.
    public mutating func readBool() throws(WireError) -> Bool {
        let start = position
        let format = try formatByte(at: start, expected: "a boolean")
        guard format == 0xc2 || format == 0xc3 else { throw Self.unexpected(format, at: start, expected: "a boolean") }
        try countValue(at: start)
        position = start + 1
        return format == 0xc3
    }

    /// Reads an integer of any MessagePack integer format as a signed 64-bit integer.
    ///
    /// - Returns: The integer.
    /// - Throws: ``WireError/Code/integerOutOfRange`` for a uint64 above `Int64.max`;
    ///   ``WireError/Code/wrongType`` if the next value is not an integer (floats included);
    ///   ``WireError/Code/truncated``; ``WireError/Code/invalidFormat`` for `0xc1`;
    ///   ``WireError/Code/limitExceeded`` past `maxTotalValues`.
    public mutating func readInt() throws(WireError) -> Int64 {
        let start = position
        let format = try formatByte(at: start, expected: "an integer")
        guard let integer = try integer(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "an integer")
        }
        guard integer.isNegative || integer.bits <= UInt64(Int64.max) else {
            throw Self.outOfRange(at: start, "uint64 \(integer.bits) does not fit a signed 64-bit integer")
        }
        try countValue(at: start)
        position = start + integer.size
        return Int64(bitPattern: integer.bits)
    }

    /// Reads a non-negative integer of any MessagePack integer format as an unsigned 64-bit integer.
    ///
    /// - Returns: The integer.
    /// - Throws: ``WireError/Code/integerOutOfRange`` for a negative value;
    ///   ``WireError/Code/wrongType`` if the next value is not an integer;
    ///   ``WireError/Code/truncated``; ``WireError/Code/invalidFormat`` for `0xc1`;
    ///   ``WireError/Code/limitExceeded`` past `maxTotalValues`.
    public mutating func readUInt64() throws(WireError) -> UInt64 {
        let start = position
        let format = try formatByte(at: start, expected: "an unsigned integer")
        guard let integer = try integer(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "an unsigned integer")
        }
        guard !integer.isNegative else {
            throw Self.outOfRange(at: start, "\(Int64(bitPattern: integer.bits)) is negative, expected an unsigned integer")
        }
        try countValue(at: start)
        position = start + integer.size
        return integer.bits
    }

    /// Reads a float32 or float64 as a double; integers are not accepted.
    ///
    /// - Returns: The number (a float32 widened exactly).
    /// - Throws: ``WireError/Code/wrongType`` if the next value is not a float;
    ///   ``WireError/Code/truncated``; ``WireError/Code/invalidFormat`` for `0xc1`;
    ///   ``WireError/Code/limitExceeded`` past `maxTotalValues`.
    public mutating func readDouble() throws(WireError) -> Double {
        let start = position
        let format = try formatByte(at: start, expected: "a float")
        guard let (number, size) = try float(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "a float")
        }
        try countValue(at: start)
        position = start + size
        return number
    }

    /// Reads a string, validating its UTF-8.
    ///
    /// - Returns: The string, with its bytes exactly as encoded (not normalized).
    /// - Throws: ``WireError/Code/invalidUTF8`` if its bytes are not well-formed UTF-8;
    ///   ``WireError/Code/wrongType`` if the next value is not a string;
    ///   ``WireError/Code/truncated`` if it is longer than the input;
    ///   ``WireError/Code/invalidFormat`` for `0xc1`; ``WireError/Code/limitExceeded`` past
    ///   `maxTotalValues`.
    public mutating func readString() throws(WireError) -> String {
        let start = position
        let format = try formatByte(at: start, expected: "a string")
        guard let (length, headerSize) = try stringHeader(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "a string")
        }
        let string = try decodeString(format, at: start, headerSize: headerSize, length: length)
        try countValue(at: start)
        position = start + headerSize + length
        return string
    }

    /// Reads a string and returns where its UTF-8 bytes are, without making a `String`: for map
    /// keys that are only compared. Validates exactly as ``readString()`` does.
    mutating func readStringRange() throws(WireError) -> Range<Int> {
        let start = position
        let format = try formatByte(at: start, expected: "a string")
        guard let (length, headerSize) = try stringHeader(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "a string")
        }
        try checkPayload(format, at: start, headerSize: headerSize, length: length)
        let from = start + headerSize
        guard isASCII(from: from, length: length) || Self.isValidUTF8(bytes[from..<from + length]) else {
            throw invalidUTF8(format, at: start, from: from, length: length)
        }
        try countValue(at: start)
        position = from + length
        return from..<from + length
    }

    /// Reads a map key as ``readStringRange()`` does (the same checks, the same errors) and,
    /// when it is at most 7 bytes, packs it as ``packedShortString(_:)`` does: the envelope's
    /// keys. A fixstr of ASCII, which every envelope key is, takes one pass over its bytes.
    /// - Returns: where the key's bytes are, and the packed key (`nil` if longer than 7 bytes).
    mutating func readKey() throws(WireError) -> (range: Range<Int>, packed: UInt64?) {
        let start = position
        guard let packed = packedASCIIFixstr(at: start) else {
            let range = try readStringRange()
            return (range, packedShortString(range))
        }
        try countValue(at: start)
        let length = Int(packed & 0xff)
        position = start + 1 + length
        return (start + 1..<start + 1 + length, packed)
    }

    /// The fixstr of at most 7 ASCII bytes at `start`, packed as ``packedShortString(_:)`` packs
    /// it; `nil` for anything else (another format, a longer or non-ASCII string, too few bytes).
    ///
    /// Not `mutating`: read from inside the mutating `readKey()`, the buffer cost about 90 more
    /// instructions per decoded bench event (`profile.sh mesh_receive_bench_event`).
    private func packedASCIIFixstr(at start: Int) -> UInt64? {
        bytes.withUnsafeBufferPointer { buffer in
            guard start < buffer.count else { return nil }
            let format = buffer[start]
            let length = Int(format & 0x1f)
            guard format & 0xe0 == 0xa0, length <= 7, length < buffer.count - start else { return nil }
            var packed = UInt64(length)
            var high: UInt8 = 0
            var shift: UInt64 = 56
            for index in start + 1..<start + 1 + length {
                high |= buffer[index]
                packed |= UInt64(buffer[index]) &<< shift
                shift &-= 8
            }
            return high < 0x80 ? packed : nil
        }
    }

    /// Reads the next value if it is a string of exactly `string`'s UTF-8 bytes, with the checks
    /// of ``readStringRange()``.
    /// - Returns: `true` if it was, the reader then after it; `false` otherwise (an error
    ///   included), the reader then unchanged, for the caller to read the value another way.
    mutating func skip(string: String) -> Bool {
        // Only the position and the count change (a copy of the reader would retain the frame).
        let (start, countBefore) = (position, valueCount)
        guard let range = try? readStringRange(), bytes(in: range, equal: string) else {
            (position, valueCount) = (start, countBefore)
            return false
        }
        return true
    }

    /// Reads the next value if it is an array of strings of exactly `strings`' UTF-8 bytes,
    /// with the checks of ``readArrayHeader()`` and ``readStringRange()``.
    /// - Returns: as ``skip(string:)``.
    mutating func skip(stringArray strings: [String]) -> Bool {
        let (start, countBefore) = (position, valueCount)
        guard let count = try? readArrayHeader(), count == strings.count else {
            (position, valueCount) = (start, countBefore)
            return false
        }
        for string in strings {
            guard skip(string: string) else {
                (position, valueCount) = (start, countBefore)
                return false
            }
        }
        return true
    }

    /// Reads a binary value and returns where its bytes are, without copying them.
    mutating func readBinaryRange() throws(WireError) -> Range<Int> {
        let start = position
        let format = try formatByte(at: start, expected: "binary")
        guard let (length, headerSize) = try binaryHeader(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "binary")
        }
        try checkPayload(format, at: start, headerSize: headerSize, length: length)
        try countValue(at: start)
        let from = start + headerSize
        position = from + length
        return from..<from + length
    }

    /// The frame's bytes in `range` (a range this reader returned).
    func slice(_ range: Range<Int>) -> ArraySlice<UInt8> {
        bytes[range]
    }

    /// Whether the bytes in `range` are the UTF-8 of `name`, compared in place (no slice, no
    /// copy of either).
    func bytes(in range: Range<Int>, equal name: String) -> Bool {
        let utf8 = name.utf8
        guard utf8.count == range.count else { return false }
        guard !range.isEmpty else { return true }
        return bytes.withUnsafeBufferPointer { buffer in
            utf8.withContiguousStorageIfAvailable { name in
                memcmp(buffer.baseAddress! + range.lowerBound, name.baseAddress!, range.count) == 0
            } ?? utf8.elementsEqual(buffer[range])
        }
    }

    /// A short byte string in one integer: for `range` of at most 7 bytes, its bytes
    /// big-endian from the most significant byte down, zero-padded, with the length in the
    /// least significant byte (so no two byte strings share a value); `nil` for a longer range.
    func packedShortString(_ range: Range<Int>) -> UInt64? {
        guard range.count <= 7 else { return nil }
        var packed = UInt64(range.count)
        var shift: UInt64 = 56
        for index in range {
            packed |= UInt64(bytes[index]) << shift
            shift &-= 8
        }
        return packed
    }

    /// `key` packed as ``packedShortString(_:)`` packs a key read from the input (`nil` if it
    /// has more than 7 bytes), and whether it is all ASCII.
    static func packedShortString(_ key: String) -> (packed: UInt64?, isASCII: Bool) {
        // Over the contiguous bytes: iterating `key.utf8` cost about 130 instructions for a
        // 1-byte key. A string without them (bridged) takes the iterator.
        key.utf8.withContiguousStorageIfAvailable(packedShortString) ?? packedShortString(key.utf8)
    }

    private static func packedShortString(_ utf8: some Sequence<UInt8>) -> (packed: UInt64?, isASCII: Bool) {
        var packed: UInt64 = 0
        var high: UInt8 = 0
        var length: UInt64 = 0
        for byte in utf8 {
            high |= byte
            if length < 7 { packed |= UInt64(byte) &<< (56 &- 8 &* length) }
            length += 1
        }
        return (length <= 7 ? packed | length : nil, high < 0x80)
    }

    /// Whether `bytes` are well-formed UTF-8.
    @inline(__always)
    static func isValidUTF8(_ bytes: ArraySlice<UInt8>) -> Bool {
        if bytes.allSatisfy({ $0 < 0x80 }) { return true }
        return bytes.withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) } != nil
    }

    /// Reads a binary value.
    ///
    /// - Returns: A copy of its bytes.
    /// - Throws: ``WireError/Code/wrongType`` if the next value is not binary (strings
    ///   included); ``WireError/Code/truncated`` if it is longer than the input;
    ///   ``WireError/Code/invalidFormat`` for `0xc1`; ``WireError/Code/limitExceeded`` past
    ///   `maxTotalValues`.
    public mutating func readBinary() throws(WireError) -> [UInt8] {
        let start = position
        let format = try formatByte(at: start, expected: "binary")
        guard let (length, headerSize) = try binaryHeader(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "binary")
        }
        try checkPayload(format, at: start, headerSize: headerSize, length: length)
        try countValue(at: start)
        let from = start + headerSize
        position = from + length
        return Array(bytes[from..<from + length])
    }

    /// Reads an array header; the caller then reads that many elements.
    ///
    /// The header counts as one value towards `maxTotalValues`. Nesting depth is not tracked
    /// across typed reads: a caller that recurses bounds its own depth.
    ///
    /// - Returns: The element count, at most `maxCollectionCount` and at most the bytes that
    ///   remain after the header.
    /// - Throws: ``WireError/Code/truncated`` if the count exceeds the bytes that remain;
    ///   ``WireError/Code/limitExceeded`` if it exceeds `maxCollectionCount` (or past
    ///   `maxTotalValues`); ``WireError/Code/wrongType`` if the next value is not an array;
    ///   ``WireError/Code/invalidFormat`` for `0xc1`.
    public mutating func readArrayHeader() throws(WireError) -> Int {
        let start = position
        let format = try formatByte(at: start, expected: "an array")
        guard let (count, headerSize) = try arrayHeader(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "an array")
        }
        try countValue(at: start)
        position = start + headerSize
        return count
    }

    /// Reads a map header; the caller then reads that many key-value pairs.
    ///
    /// The header counts as one value towards `maxTotalValues`. Nesting depth is not tracked
    /// across typed reads: a caller that recurses bounds its own depth.
    ///
    /// - Returns: The entry count, at most `maxCollectionCount` and at most half the bytes
    ///   that remain after the header.
    /// - Throws: ``WireError/Code/truncated`` if the entries cannot fit in the bytes that
    ///   remain; ``WireError/Code/limitExceeded`` if the count exceeds `maxCollectionCount`
    ///   (or past `maxTotalValues`); ``WireError/Code/wrongType`` if the next value is not a
    ///   map; ``WireError/Code/invalidFormat`` for `0xc1`.
    public mutating func readMapHeader() throws(WireError) -> Int {
        let start = position
        let format = try formatByte(at: start, expected: "a map")
        guard let (count, headerSize) = try mapHeader(format, at: start) else {
            throw Self.unexpected(format, at: start, expected: "a map")
        }
        try countValue(at: start)
        position = start + headerSize
        return count
    }

    // MARK: - Whole values

    /// Skips the next value, whatever it is, including ext values and everything nested in it.
    ///
    /// Skipping checks structure only: it does not validate UTF-8, map key types or duplicate
    /// keys, but it enforces every ``WireLimits`` bound (depth, collection count, total
    /// values). It is iterative, so it needs no stack beyond one integer per nesting level.
    ///
    /// - Throws: ``WireError/Code/truncated`` if the value runs past the input;
    ///   ``WireError/Code/invalidFormat`` for `0xc1`; ``WireError/Code/limitExceeded`` past a
    ///   limit.
    public mutating func skipValue() throws(WireError) {
        // Values still to skip at the current level, and those of the enclosing levels.
        var pending = 1
        var enclosing: [Int] = []
        while true {
            if pending == 0 {
                guard let outer = enclosing.popLast() else { return }
                pending = outer
                continue
            }
            pending -= 1
            let start = position
            let format = try formatByte(at: start, expected: "a value")
            try countValue(at: start)
            var children = 0
            switch format {
            case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3:
                position = start + 1
            case 0xcc...0xd3:
                guard let integer = try integer(format, at: start) else { throw Self.invalidFormat(at: start) }
                position = start + integer.size
            case 0xca, 0xcb:
                guard let (_, size) = try float(format, at: start) else { throw Self.invalidFormat(at: start) }
                position = start + size
            case 0xa0...0xbf, 0xd9...0xdb:
                guard let (length, headerSize) = try stringHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
                try checkPayload(format, at: start, headerSize: headerSize, length: length)
                position = start + headerSize + length
            case 0xc4...0xc6:
                guard let (length, headerSize) = try binaryHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
                try checkPayload(format, at: start, headerSize: headerSize, length: length)
                position = start + headerSize + length
            case 0xc7...0xc9, 0xd4...0xd8:
                let (length, headerSize) = try extHeader(format, at: start)
                try checkPayload(format, at: start, headerSize: headerSize, length: length)
                position = start + headerSize + length
            case 0x90...0x9f, 0xdc, 0xdd:
                try checkDepth(enclosing.count + 1, at: start)
                guard let (count, headerSize) = try arrayHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
                position = start + headerSize
                children = count
            case 0x80...0x8f, 0xde, 0xdf:
                try checkDepth(enclosing.count + 1, at: start)
                guard let (count, headerSize) = try mapHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
                position = start + headerSize
                children = 2 * count
            default:
                throw Self.invalidFormat(at: start)
            }
            if children > 0 {
                enclosing.append(pending)
                pending = children
            }
        }
    }

    /// Decodes the next value, whatever it is, into an `EventValue`.
    ///
    /// nil, booleans, strings, binary, arrays and maps map to the matching case; every integer
    /// format to `.int`; float32 (widened exactly) and float64 to `.double`.
    ///
    /// - Returns: The decoded value.
    /// - Throws: ``WireError/Code/truncated`` if the value runs past the input;
    ///   ``WireError/Code/invalidFormat`` for `0xc1`; ``WireError/Code/unsupportedFormat`` for
    ///   ext, fixext and timestamps; ``WireError/Code/integerOutOfRange`` for a uint64 above
    ///   `Int64.max`; ``WireError/Code/invalidUTF8`` for a string or key that is not UTF-8;
    ///   ``WireError/Code/wrongType`` for a map key that is not a string;
    ///   ``WireError/Code/duplicateKey`` for a key seen twice in one map (keys that differ
    ///   in bytes but are canonically equivalent Unicode count as the same key, as they do in
    ///   a Swift dictionary); ``WireError/Code/limitExceeded`` for nesting deeper than
    ///   `maxDepth`, a collection larger than `maxCollectionCount`, or more than
    ///   `maxTotalValues` values in this reader.
    public mutating func readValue() throws(WireError) -> EventValue {
        try readValue(depth: 1)
    }

    /// Decodes the next value; a container read here sits at nesting level `depth`.
    private mutating func readValue(depth: Int) throws(WireError) -> EventValue {
        let start = position
        let format = try formatByte(at: start, expected: "a value")
        try countValue(at: start)
        switch format {
        case 0x00...0x7f:
            position = start + 1
            return .int(Int64(format))
        case 0xe0...0xff:
            position = start + 1
            return .int(Int64(Int8(bitPattern: format)))
        case 0xc0:
            position = start + 1
            return .null
        case 0xc2, 0xc3:
            position = start + 1
            return .bool(format == 0xc3)
        case 0xcc...0xd3:
            guard let integer = try integer(format, at: start) else { throw Self.invalidFormat(at: start) }
            guard integer.isNegative || integer.bits <= UInt64(Int64.max) else {
                throw Self.outOfRange(at: start, "uint64 \(integer.bits) does not fit a signed 64-bit integer")
            }
            position = start + integer.size
            return .int(Int64(bitPattern: integer.bits))
        case 0xca, 0xcb:
            guard let (number, size) = try float(format, at: start) else { throw Self.invalidFormat(at: start) }
            position = start + size
            return .double(number)
        case 0xa0...0xbf, 0xd9...0xdb:
            guard let (length, headerSize) = try stringHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
            let string = try decodeString(format, at: start, headerSize: headerSize, length: length)
            position = start + headerSize + length
            return .string(string)
        case 0xc4...0xc6:
            guard let (length, headerSize) = try binaryHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
            try checkPayload(format, at: start, headerSize: headerSize, length: length)
            let from = start + headerSize
            position = from + length
            return .bytes(Array(bytes[from..<from + length]))
        case 0x90...0x9f, 0xdc, 0xdd:
            try checkDepth(depth, at: start)
            guard let (count, headerSize) = try arrayHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
            position = start + headerSize
            var elements: [EventValue] = []
            // The count is already bounded by the input; cap the up-front reservation anyway so
            // that nested declarations cannot reserve far more than the frame holds.
            elements.reserveCapacity(Swift.min(count, Self.reservationCap))
            for _ in 0..<count {
                elements.append(try readValue(depth: depth + 1))
            }
            return .array(elements)
        case 0x80...0x8f, 0xde, 0xdf:
            try checkDepth(depth, at: start)
            guard let (count, headerSize) = try mapHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
            position = start + headerSize
            var entries = EventMap(minimumCapacity: Swift.min(count, Self.reservationCap))
            // Keys in EventWire's order are appended as they come; from the first key that is
            // not (out of order, or not ASCII), duplicates are found with a set and the entries
            // sorted once at the end, so any map decodes in O(n log n).
            var unordered: ContiguousArray<EventMap.Element>?
            var seen = Set<String>()
            for _ in 0..<count {
                let keyStart = position
                let keyFormat = try formatByte(at: keyStart, expected: "a map key")
                guard let (length, keyHeaderSize) = try stringHeader(keyFormat, at: keyStart) else {
                    throw Self.unexpected(keyFormat, at: keyStart, expected: "a string map key")
                }
                try countValue(at: keyStart)
                let key = try decodeString(keyFormat, at: keyStart, headerSize: keyHeaderSize, length: length)
                position = keyStart + keyHeaderSize + length
                let value = try readValue(depth: depth + 1)
                if unordered == nil {
                    if entries.appendInOrder(value, forKey: key) { continue }
                    unordered = ContiguousArray(entries)
                    seen = Set(entries.keys)
                }
                guard seen.insert(key).inserted else {
                    throw WireError(
                        .duplicateKey, offset: keyStart,
                        message: "duplicate key at offset \(keyStart): \(Self.quoted(key)) appears twice in the map at offset \(start)")
                }
                unordered!.append((key, value))
            }
            if let unordered { entries = EventMap(uniqueEntries: unordered) }
            return .map(entries)
        case 0xc7...0xc9, 0xd4...0xd8:
            throw unsupported(format, at: start)
        default:
            throw Self.invalidFormat(at: start)
        }
    }

    /// Decodes one entry of the map that is the next value: the value under the key that equals
    /// `key` (as `String`s compare), without building the map or the other entries' values,
    /// which are skipped. For a value ``validateValue()`` accepted (no duplicate keys, every
    /// key a string) this returns what `readValue()[key]` returns; it is not a validation.
    /// - Parameter key: the key to look for.
    /// - Returns: the entry's value, or `nil` when the next value is not a map or has no such
    ///   key.
    /// - Throws: what ``readValue()`` and ``skipValue()`` throw for bytes that were not
    ///   validated.
    mutating func readValue(forKey key: String) throws(WireError) -> EventValue? {
        let start = position
        let format = try formatByte(at: start, expected: "a value")
        guard let (count, headerSize) = try mapHeader(format, at: start) else { return nil }
        try countValue(at: start)
        position = start + headerSize
        let (wanted, wantedIsASCII) = Self.packedShortString(key)
        for _ in 0..<count {
            let (range, packed) = try readKey()
            // Equal bytes are equal keys; different bytes can still be equal `String`s
            // (canonical equivalence), but only when one of them is not ASCII.
            if wanted != nil ? packed == wanted : bytes(in: range, equal: key) {
                return try readValue(depth: 2)
            }
            if !(wantedIsASCII && isASCII(from: range.lowerBound, length: range.count)),
                String(decoding: bytes[range], as: UTF8.self) == key
            {
                return try readValue(depth: 2)
            }
            try skipValue()
        }
        return nil
    }

    /// Checks the next value exactly as ``readValue()`` decodes it, without building it, and
    /// says whether it is canonical.
    ///
    /// Accepts exactly the values ``readValue()`` accepts and fails with the same error (code,
    /// offset and message) on the others, counting values towards `maxTotalValues` the same
    /// way, so a value that validates always decodes. No `String` is made unless a map's keys
    /// are out of order or not ASCII (duplicate keys are then found with a set; see below).
    ///
    /// A value is *canonical* when ``MessagePackWriter/write(_:)`` of its decoded form gives
    /// back the same bytes: every integer, string, binary, array and map header in its smallest
    /// form (non-negative integers in the unsigned formats), floats as float64, and map keys in
    /// strictly ascending order of their UTF-8 bytes. A canonical value can be copied as it is
    /// instead of being decoded and re-encoded.
    ///
    /// Duplicate keys are found as ``readValue()`` finds them, through Swift `String`
    /// equality (canonical equivalence): while a map's keys are ASCII and ascending, no two can
    /// be equal and nothing is stored; otherwise the keys go into a set, of byte strings while
    /// they are all ASCII (where byte equality is `String` equality), of `String`s once one is
    /// not (where it is not: "\u{212A}", KELVIN SIGN, equals "K").
    ///
    /// - Returns: Whether the value is canonical.
    /// - Throws: what ``readValue()`` throws for the same input.
    mutating func validateValue() throws(WireError) -> Bool {
        try validateValue(depth: 1)
    }

    /// Validates the next value; a container read here sits at nesting level `depth`.
    private mutating func validateValue(depth: Int) throws(WireError) -> Bool {
        let start = position
        let format = try formatByte(at: start, expected: "a value")
        try countValue(at: start)
        switch format {
        case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3:
            position = start + 1
            return true
        case 0xcc...0xd3:
            guard let integer = try integer(format, at: start) else { throw Self.invalidFormat(at: start) }
            guard integer.isNegative || integer.bits <= UInt64(Int64.max) else {
                throw Self.outOfRange(at: start, "uint64 \(integer.bits) does not fit a signed 64-bit integer")
            }
            position = start + integer.size
            return format == Self.smallestIntegerFormat(Int64(bitPattern: integer.bits))
        case 0xca, 0xcb:
            guard let (_, size) = try float(format, at: start) else { throw Self.invalidFormat(at: start) }
            position = start + size
            return format == 0xcb
        case 0xa0...0xbf, 0xd9...0xdb:
            guard let (length, headerSize) = try stringHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
            _ = try validateString(format, at: start, headerSize: headerSize, length: length)
            position = start + headerSize + length
            return headerSize == Self.smallestStringHeader(length)
        case 0xc4...0xc6:
            guard let (length, headerSize) = try binaryHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
            try checkPayload(format, at: start, headerSize: headerSize, length: length)
            position = start + headerSize + length
            return headerSize == (length <= 0xff ? 2 : length <= 0xffff ? 3 : 5)
        case 0x90...0x9f, 0xdc, 0xdd:
            try checkDepth(depth, at: start)
            guard let (count, headerSize) = try arrayHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
            position = start + headerSize
            var canonical = headerSize == Self.smallestCollectionHeader(count)
            for _ in 0..<count {
                if try !validateValue(depth: depth + 1) { canonical = false }
            }
            return canonical
        case 0x80...0x8f, 0xde, 0xdf:
            try checkDepth(depth, at: start)
            guard let (count, headerSize) = try mapHeader(format, at: start) else { throw Self.invalidFormat(at: start) }
            position = start + headerSize
            let firstKey = position
            var canonical = headerSize == Self.smallestCollectionHeader(count)
            var keys = SeenMapKeys()
            for index in 0..<count {
                let keyStart = position
                let keyFormat = try formatByte(at: keyStart, expected: "a map key")
                guard let (length, keyHeaderSize) = try stringHeader(keyFormat, at: keyStart) else {
                    throw Self.unexpected(keyFormat, at: keyStart, expected: "a string map key")
                }
                try countValue(at: keyStart)
                let isASCII = try validateString(keyFormat, at: keyStart, headerSize: keyHeaderSize, length: length)
                let key = keyStart + keyHeaderSize..<keyStart + keyHeaderSize + length
                position = key.upperBound
                if keyHeaderSize != Self.smallestStringHeader(length) { canonical = false }
                if try !validateValue(depth: depth + 1) { canonical = false }
                // Checked after the value, as readValue() does.
                let isNew = keys.insert(key, isASCII: isASCII, index: index, firstKey: firstKey, in: bytes)
                if !keys.isAscending { canonical = false }
                guard isNew else {
                    let name = String(decoding: bytes[key], as: UTF8.self)
                    throw WireError(
                        .duplicateKey, offset: keyStart,
                        message: "duplicate key at offset \(keyStart): \(Self.quoted(name)) appears twice in the map at offset \(start)")
                }
            }
            return canonical
        case 0xc7...0xc9, 0xd4...0xd8:
            throw unsupported(format, at: start)
        default:
            throw Self.invalidFormat(at: start)
        }
    }

    /// Checks a string's length against the input and its bytes for well-formed UTF-8, as
    /// `decodeString` does, without making a `String`; returns whether the bytes are all ASCII.
    @inline(__always)
    private func validateString(_ format: UInt8, at start: Int, headerSize: Int, length: Int) throws(WireError) -> Bool {
        try checkPayload(format, at: start, headerSize: headerSize, length: length)
        let from = start + headerSize
        if isASCII(from: from, length: length) { return true }
        if #available(macOS 26, iOS 26, tvOS 26, watchOS 26, visionOS 26, *) {
            do {
                _ = try UTF8Span(validating: bytes.span.extracting(from..<from + length))
                return false
            } catch {
                throw invalidUTF8(format, at: start, from: from, length: length)
            }
        }
        guard Self.portableString(validating: bytes[from..<from + length]) != nil else {
            throw invalidUTF8(format, at: start, from: from, length: length)
        }
        return false
    }

    /// Whether the `length` bytes at `from` (which the caller has checked are in the frame)
    /// are all ASCII: 8 bytes at a time, much cheaper than full validation for the common case.
    @inline(__always)
    private func isASCII(from: Int, length: Int) -> Bool {
        guard length > 0 else { return true }
        return bytes.withUnsafeBytes { buffer in
            precondition(from >= 0 && from + length <= buffer.count, "a string outside its frame")
            let start = buffer.baseAddress! + from
            var bits: UInt64 = 0
            var index = 0
            while index + 8 <= length {
                bits |= start.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                index += 8
            }
            while index < length {
                bits |= UInt64(start.load(fromByteOffset: index, as: UInt8.self))
                index += 1
            }
            return bits & 0x8080_8080_8080_8080 == 0
        }
    }

    /// The format byte ``MessagePackWriter/writeInt(_:)`` uses for `value` when it needs more
    /// than the format byte itself (fixints are always smallest).
    @inline(__always)
    static func smallestIntegerFormat(_ value: Int64) -> UInt8 {
        if value >= 0 {
            return value < 0x80 ? UInt8(value) : value <= 0xff ? 0xcc : value <= 0xffff ? 0xcd : value <= 0xffff_ffff ? 0xce : 0xcf
        }
        return value >= -32 ? UInt8(truncatingIfNeeded: value)
            : value >= Int64(Int8.min) ? 0xd0 : value >= Int64(Int16.min) ? 0xd1 : value >= Int64(Int32.min) ? 0xd2 : 0xd3
    }

    /// The header size ``MessagePackWriter/writeString(_:)`` uses for `length` bytes.
    @inline(__always)
    static func smallestStringHeader(_ length: Int) -> Int {
        length < 32 ? 1 : length <= 0xff ? 2 : length <= 0xffff ? 3 : 5
    }

    /// The header size the writer uses for an array or map of `count` entries.
    @inline(__always)
    static func smallestCollectionHeader(_ count: Int) -> Int {
        count < 16 ? 1 : count <= 0xffff ? 3 : 5
    }

    // MARK: - Format decoding (no side effects; each checks the bytes it reads)

    /// The most elements a collection reserves room for before its elements are decoded.
    private static let reservationCap = 1024

    /// The format byte at `start`, or a truncation error at the end of the input.
    @inline(__always)
    private func formatByte(at start: Int, expected: @autoclosure () -> String) throws(WireError) -> UInt8 {
        guard start < bytes.count else { throw Self.endOfInput(at: start, expected: expected()) }
        return bytes[start]
    }

    /// Checks that `count` bytes, starting at the value's first byte `start`, are present.
    @inline(__always)
    private func need(_ count: Int, at start: Int) throws(WireError) {
        guard bytes.count - start >= count else {
            throw Self.truncatedHeader(bytes[start], at: start, needed: count, remaining: bytes.count - start)
        }
    }

    /// The big-endian integer of type `T` at `index`; the caller has checked the bytes exist.
    @inline(__always)
    func load<T: FixedWidthInteger>(_: T.Type, at index: Int) -> T {
        bytes.withUnsafeBytes { T(bigEndian: $0.loadUnaligned(fromByteOffset: index, as: T.self)) }
    }

    /// The 8-, 16- or 32-bit length that follows the format byte at `start`.
    @inline(__always)
    private func declaredLength(at start: Int, width: Int) throws(WireError) -> Int {
        try need(1 + width, at: start)
        let length: UInt32
        switch width {
        case 1: length = UInt32(bytes[start + 1])
        case 2: length = UInt32(load(UInt16.self, at: start + 1))
        default: length = load(UInt32.self, at: start + 1)
        }
        // Where Int is 32 bits wide, a length above Int.max can never fit the input anyway.
        return Int(exactly: length) ?? Int.max
    }

    /// An integer's two's-complement bits, sign and encoded size, or nil if `format` is not an integer.
    @inline(__always)
    private func integer(_ format: UInt8, at start: Int) throws(WireError) -> (bits: UInt64, isNegative: Bool, size: Int)? {
        switch format {
        case 0x00...0x7f:
            return (UInt64(format), false, 1)
        case 0xe0...0xff:
            return (UInt64(bitPattern: Int64(Int8(bitPattern: format))), true, 1)
        case 0xcc:
            try need(2, at: start)
            return (UInt64(bytes[start + 1]), false, 2)
        case 0xcd:
            try need(3, at: start)
            return (UInt64(load(UInt16.self, at: start + 1)), false, 3)
        case 0xce:
            try need(5, at: start)
            return (UInt64(load(UInt32.self, at: start + 1)), false, 5)
        case 0xcf:
            try need(9, at: start)
            return (load(UInt64.self, at: start + 1), false, 9)
        case 0xd0:
            try need(2, at: start)
            let value = Int64(Int8(bitPattern: bytes[start + 1]))
            return (UInt64(bitPattern: value), value < 0, 2)
        case 0xd1:
            try need(3, at: start)
            let value = Int64(load(Int16.self, at: start + 1))
            return (UInt64(bitPattern: value), value < 0, 3)
        case 0xd2:
            try need(5, at: start)
            let value = Int64(load(Int32.self, at: start + 1))
            return (UInt64(bitPattern: value), value < 0, 5)
        case 0xd3:
            try need(9, at: start)
            let value = load(Int64.self, at: start + 1)
            return (UInt64(bitPattern: value), value < 0, 9)
        default:
            return nil
        }
    }

    /// A float's value and encoded size, or nil if `format` is not float32 or float64.
    @inline(__always)
    private func float(_ format: UInt8, at start: Int) throws(WireError) -> (Double, Int)? {
        switch format {
        case 0xca:
            try need(5, at: start)
            return (Double(Float(bitPattern: load(UInt32.self, at: start + 1))), 5)
        case 0xcb:
            try need(9, at: start)
            return (Double(bitPattern: load(UInt64.self, at: start + 1)), 9)
        default:
            return nil
        }
    }

    /// A string's byte length and header size, or nil if `format` is not a string format.
    @inline(__always)
    private func stringHeader(_ format: UInt8, at start: Int) throws(WireError) -> (length: Int, headerSize: Int)? {
        switch format {
        case 0xa0...0xbf: return (Int(format & 0x1f), 1)
        case 0xd9: return (try declaredLength(at: start, width: 1), 2)
        case 0xda: return (try declaredLength(at: start, width: 2), 3)
        case 0xdb: return (try declaredLength(at: start, width: 4), 5)
        default: return nil
        }
    }

    /// A binary's byte length and header size, or nil if `format` is not a binary format.
    @inline(__always)
    private func binaryHeader(_ format: UInt8, at start: Int) throws(WireError) -> (length: Int, headerSize: Int)? {
        switch format {
        case 0xc4: return (try declaredLength(at: start, width: 1), 2)
        case 0xc5: return (try declaredLength(at: start, width: 2), 3)
        case 0xc6: return (try declaredLength(at: start, width: 4), 5)
        default: return nil
        }
    }

    /// An ext value's data length and header size (format, length and type bytes); `format` is
    /// one of the ext or fixext formats.
    private func extHeader(_ format: UInt8, at start: Int) throws(WireError) -> (length: Int, headerSize: Int) {
        switch format {
        case 0xd4...0xd8:
            try need(2, at: start)
            return (1 << Int(format - 0xd4), 2)
        case 0xc7:
            try need(3, at: start)
            return (try declaredLength(at: start, width: 1), 3)
        case 0xc8:
            try need(4, at: start)
            return (try declaredLength(at: start, width: 2), 4)
        default:
            try need(6, at: start)
            return (try declaredLength(at: start, width: 4), 6)
        }
    }

    /// An array's element count and header size, checked against the input and the limits, or
    /// nil if `format` is not an array format.
    @inline(__always)
    private func arrayHeader(_ format: UInt8, at start: Int) throws(WireError) -> (count: Int, headerSize: Int)? {
        let header: (count: Int, headerSize: Int)
        switch format {
        case 0x90...0x9f: header = (Int(format & 0x0f), 1)
        case 0xdc: header = (try declaredLength(at: start, width: 2), 3)
        case 0xdd: header = (try declaredLength(at: start, width: 4), 5)
        default: return nil
        }
        try checkCollection(format, at: start, header: header, bytesPerEntry: 1)
        return header
    }

    /// A map's entry count and header size, checked against the input and the limits, or nil
    /// if `format` is not a map format.
    @inline(__always)
    private func mapHeader(_ format: UInt8, at start: Int) throws(WireError) -> (count: Int, headerSize: Int)? {
        let header: (count: Int, headerSize: Int)
        switch format {
        case 0x80...0x8f: header = (Int(format & 0x0f), 1)
        case 0xde: header = (try declaredLength(at: start, width: 2), 3)
        case 0xdf: header = (try declaredLength(at: start, width: 4), 5)
        default: return nil
        }
        try checkCollection(format, at: start, header: header, bytesPerEntry: 2)
        return header
    }

    /// Checks a declared collection count against the bytes that remain (each entry takes at
    /// least `bytesPerEntry`), then against `maxCollectionCount`.
    @inline(__always)
    private func checkCollection(_ format: UInt8, at start: Int, header: (count: Int, headerSize: Int), bytesPerEntry: Int) throws(WireError) {
        let remaining = bytes.count - start - header.headerSize
        guard header.count <= remaining / bytesPerEntry else {
            throw Self.truncatedCollection(format, at: start, count: header.count, remaining: remaining, bytesPerEntry: bytesPerEntry)
        }
        guard header.count <= limits.maxCollectionCount else {
            throw Self.tooLarge(format, at: start, count: header.count, limit: limits.maxCollectionCount)
        }
    }

    /// Checks that a declared payload of `length` bytes after a `headerSize`-byte header fits in the input.
    @inline(__always)
    private func checkPayload(_ format: UInt8, at start: Int, headerSize: Int, length: Int) throws(WireError) {
        let remaining = bytes.count - start - headerSize
        guard length <= remaining else {
            throw Self.truncatedPayload(format, at: start, length: length, remaining: remaining)
        }
    }

    /// Checks a string's length against the input and decodes its validated UTF-8.
    @inline(__always)
    private func decodeString(_ format: UInt8, at start: Int, headerSize: Int, length: Int) throws(WireError) -> String {
        try checkPayload(format, at: start, headerSize: headerSize, length: length)
        let from = start + headerSize
        if #available(macOS 26, iOS 26, tvOS 26, watchOS 26, visionOS 26, *) {
            if isASCII(from: from, length: length) {
                // ASCII is valid UTF-8: copy it without a validating pass.
                return String(copying: unsafe UTF8Span(unchecked: bytes.span.extracting(from..<from + length), isKnownASCII: true))
            }
            // One validating pass and one copy, with no generic dispatch (the fast path on Linux).
            do {
                let utf8 = try UTF8Span(validating: bytes.span.extracting(from..<from + length))
                return String(copying: utf8)
            } catch {
                throw invalidUTF8(format, at: start, from: from, length: length)
            }
        }
        guard let string = Self.portableString(validating: bytes[from..<from + length]) else {
            throw invalidUTF8(format, at: start, from: from, length: length)
        }
        return string
    }

    /// The string `bytes` hold if they are well-formed UTF-8: the path for Apple platforms
    /// older than `UTF8Span`.
    static func portableString(validating bytes: ArraySlice<UInt8>) -> String? {
        bytes.withUnsafeBufferPointer { String(validating: $0, as: UTF8.self) }
    }

    /// Checks that a container at nesting level `depth` is within `maxDepth`.
    @inline(__always)
    private func checkDepth(_ depth: Int, at start: Int) throws(WireError) {
        guard depth <= limits.maxDepth else {
            throw WireError(
                .limitExceeded, offset: start,
                message: "nesting too deep at offset \(start): a container at depth \(depth), the limit is \(limits.maxDepth)")
        }
    }

    /// Counts one more decoded value against `maxTotalValues`.
    @inline(__always)
    private mutating func countValue(at start: Int) throws(WireError) {
        guard valueCount < limits.maxTotalValues else {
            throw WireError(
                .limitExceeded, offset: start,
                message: "too many values at offset \(start): the limit is \(limits.maxTotalValues) values per reader")
        }
        valueCount += 1
    }

    // MARK: - Errors (built only on failure, kept out of line)

    @inline(never)
    private static func endOfInput(at offset: Int, expected: String) -> WireError {
        WireError(.truncated, offset: offset, message: "truncated at offset \(offset): expected \(expected), the input ends")
    }

    @inline(never)
    private static func truncatedHeader(_ format: UInt8, at start: Int, needed: Int, remaining: Int) -> WireError {
        WireError(
            .truncated, offset: start,
            message: "truncated at offset \(start): \(formatName(format)) needs \(needed) header bytes, \(remaining) remain")
    }

    @inline(never)
    private static func truncatedPayload(_ format: UInt8, at start: Int, length: Int, remaining: Int) -> WireError {
        WireError(
            .truncated, offset: start,
            message: "truncated at offset \(start): \(formatName(format)) declares \(length) bytes, \(remaining) remain")
    }

    @inline(never)
    private static func truncatedCollection(_ format: UInt8, at start: Int, count: Int, remaining: Int, bytesPerEntry: Int) -> WireError {
        let unit = bytesPerEntry == 1 ? "elements" : "entries"
        return WireError(
            .truncated, offset: start,
            message: "truncated at offset \(start): \(formatName(format)) declares \(count) \(unit), which need at least \(bytesPerEntry) byte(s) each, \(remaining) bytes remain")
    }

    @inline(never)
    private static func tooLarge(_ format: UInt8, at start: Int, count: Int, limit: Int) -> WireError {
        WireError(
            .limitExceeded, offset: start,
            message: "collection too large at offset \(start): \(formatName(format)) declares \(count), the limit is \(limit)")
    }

    @inline(never)
    private static func invalidFormat(at start: Int) -> WireError {
        WireError(.invalidFormat, offset: start, message: "invalid format byte 0xc1 at offset \(start): MessagePack never uses it")
    }

    @inline(never)
    private static func unexpected(_ format: UInt8, at start: Int, expected: String) -> WireError {
        if format == 0xc1 { return invalidFormat(at: start) }
        return WireError(.wrongType, offset: start, message: "wrong type at offset \(start): expected \(expected), found \(formatName(format))")
    }

    @inline(never)
    private static func outOfRange(at start: Int, _ detail: String) -> WireError {
        WireError(.integerOutOfRange, offset: start, message: "integer out of range at offset \(start): \(detail)")
    }

    @inline(never)
    private func unsupported(_ format: UInt8, at start: Int) -> WireError {
        let typeOffset = format >= 0xd4 ? start + 1 : start + 1 + (format == 0xc7 ? 1 : format == 0xc8 ? 2 : 4)
        let type = typeOffset < bytes.count ? " (ext type \(Int8(bitPattern: bytes[typeOffset])))" : ""
        return WireError(
            .unsupportedFormat, offset: start,
            message: "unsupported format at offset \(start): \(Self.formatName(format))\(type); EventWire does not decode MessagePack extensions")
    }

    @inline(never)
    private func invalidUTF8(_ format: UInt8, at start: Int, from: Int, length: Int) -> WireError {
        // Find the first byte that does not start a well-formed sequence, for the message.
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes[from..<from + length].makeIterator()
        var consumed = 0
        loop: while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): consumed += scalar.count
            case .error, .emptyInput: break loop
            }
        }
        return WireError(
            .invalidUTF8, offset: start,
            message: "invalid UTF-8 at offset \(start): \(Self.formatName(format)) of \(length) bytes has a malformed sequence at byte \(consumed) (offset \(from + consumed))")
    }

    private static func quoted(_ key: String) -> String {
        let prefix = key.unicodeScalars.prefix(64).map { $0.escaped(asASCII: true) }.joined()
        return "\"" + prefix + (key.unicodeScalars.count > 64 ? "…\"" : "\"")
    }

    /// The MessagePack spec's name for a format byte, for messages.
    static func formatName(_ format: UInt8) -> String {
        switch format {
        case 0x00...0x7f: "positive fixint"
        case 0x80...0x8f: "fixmap"
        case 0x90...0x9f: "fixarray"
        case 0xa0...0xbf: "fixstr"
        case 0xc0: "nil"
        case 0xc1: "0xc1 (never used)"
        case 0xc2: "false"
        case 0xc3: "true"
        case 0xc4: "bin8"
        case 0xc5: "bin16"
        case 0xc6: "bin32"
        case 0xc7: "ext8"
        case 0xc8: "ext16"
        case 0xc9: "ext32"
        case 0xca: "float32"
        case 0xcb: "float64"
        case 0xcc: "uint8"
        case 0xcd: "uint16"
        case 0xce: "uint32"
        case 0xcf: "uint64"
        case 0xd0: "int8"
        case 0xd1: "int16"
        case 0xd2: "int32"
        case 0xd3: "int64"
        case 0xd4: "fixext1"
        case 0xd5: "fixext2"
        case 0xd6: "fixext4"
        case 0xd7: "fixext8"
        case 0xd8: "fixext16"
        case 0xd9: "str8"
        case 0xda: "str16"
        case 0xdb: "str32"
        case 0xdc: "array16"
        case 0xdd: "array32"
        case 0xde: "map16"
        case 0xdf: "map32"
        default: "negative fixint"
        }
    }
}

/// The keys of one map that ``MessagePackReader/validateValue()`` has seen so far: finds a
/// duplicate as a Swift dictionary would (by canonical equivalence), and tracks whether the
/// keys ascend by their UTF-8 bytes.
///
/// While every key is ASCII and greater than the one before, no two keys can be equal and
/// nothing is stored. Past that, the keys seen so far are collected (by reading them again from
/// the map, whose earlier entries are validated) into a set: of byte strings while every key is
/// ASCII, where byte equality is `String` equality; of `String`s once one is not.
struct SeenMapKeys {
    private enum Keys {
        /// Every key so far is ASCII and ascending: no set needed.
        case ascendingASCII
        case ascii(Set<ArraySlice<UInt8>>)
        case unicode(Set<String>)
    }

    private var keys = Keys.ascendingASCII
    /// The previous key, while the keys ascend.
    private var last: Range<Int>?
    /// Whether every key so far is greater than the one before it (by unsigned UTF-8 bytes).
    private(set) var isAscending = true

    /// Records the key at `key` in `bytes`, the `index`th of the map whose first key starts
    /// at `firstKey`.
    /// - Returns: `false` if an equal key was seen before.
    @inline(__always)
    mutating func insert(_ key: Range<Int>, isASCII: Bool, index: Int, firstKey: Int, in bytes: [UInt8]) -> Bool {
        // The common case, in line: ASCII keys in ascending order.
        if isAscending, isASCII, case .ascendingASCII = keys, last.map({ Self.precedes($0, key, in: bytes) }) ?? true {
            last = key
            return true
        }
        return insertSlowly(key, isASCII: isASCII, index: index, firstKey: firstKey, in: bytes)
    }

    @inline(never)
    private mutating func insertSlowly(_ key: Range<Int>, isASCII: Bool, index: Int, firstKey: Int, in bytes: [UInt8]) -> Bool {
        if isAscending {
            if let last, !Self.precedes(last, key, in: bytes) { isAscending = false }
            last = isAscending ? key : nil
        }
        switch keys {
        case .ascendingASCII:
            if isAscending && isASCII { return true }
            let earlier = Self.keys(of: index, entriesFrom: firstKey, in: bytes)
            if isASCII {
                var set = Set(earlier.map { bytes[$0] })
                defer { keys = .ascii(set) }
                return set.insert(bytes[key]).inserted
            }
            var set = Set(earlier.map { String(decoding: bytes[$0], as: UTF8.self) })
            defer { keys = .unicode(set) }
            return set.insert(String(decoding: bytes[key], as: UTF8.self)).inserted
        case .ascii(var set):
            if isASCII {
                keys = .ascendingASCII  // drop the enum's reference so the set is uniquely held
                defer { keys = .ascii(set) }
                return set.insert(bytes[key]).inserted
            }
            var strings = Set(set.map { String(decoding: $0, as: UTF8.self) })
            defer { keys = .unicode(strings) }
            return strings.insert(String(decoding: bytes[key], as: UTF8.self)).inserted
        case .unicode(var set):
            keys = .ascendingASCII
            defer { keys = .unicode(set) }
            return set.insert(String(decoding: bytes[key], as: UTF8.self)).inserted
        }
    }

    /// Whether the bytes in `left` sort strictly before those in `right` (unsigned,
    /// lexicographic, a prefix first), the order ``MessagePackWriter`` writes keys in.
    private static func precedes(_ left: Range<Int>, _ right: Range<Int>, in bytes: [UInt8]) -> Bool {
        let common = Swift.min(left.count, right.count)
        var index = 0
        while index < common {
            let a = bytes[left.lowerBound + index]
            let b = bytes[right.lowerBound + index]
            if a != b { return a < b }
            index += 1
        }
        return left.count < right.count
    }

    /// Where the first `count` keys of a map are, read again from its (validated) entries.
    private static func keys(of count: Int, entriesFrom firstKey: Int, in bytes: [UInt8]) -> [Range<Int>] {
        let frame = ValidatedMessagePack(bytes: bytes)
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(count)
        var position = firstKey
        for _ in 0..<count {
            let key = frame.stringRange(at: position)
            ranges.append(key)
            position = frame.end(ofValueAt: key.upperBound)
        }
        return ranges
    }
}
