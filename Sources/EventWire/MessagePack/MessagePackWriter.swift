public import EventBus

/// Encodes values as MessagePack into a growing byte buffer, always in the smallest format.
///
/// The encoding is deterministic: the same value always produces the same bytes, because every
/// integer, string, binary, array and map header takes its smallest MessagePack form, doubles
/// are always float64, and map keys are written in ascending order of their UTF-8 bytes
/// (unsigned, lexicographic). That makes encoded events comparable byte for byte and golden
/// test vectors stable.
///
/// ```swift
/// var writer = MessagePackWriter()
/// writer.write(["tokens": 42, "provider": "anthropic"])
/// send(writer.bytes)
/// ```
///
/// MessagePack cannot express a string, binary, array or map longer than 2^32 - 1 bytes or
/// elements; writing one is a programming error and traps.
public struct MessagePackWriter: Sendable {
    /// The buffer: `storage[..<count]` is written, the rest is zeroed room to write into (so
    /// that writing copies into place instead of appending element by element).
    private var storage: [UInt8]
    /// How many bytes have been written.
    public private(set) var count = 0

    /// The bytes written so far (a copy).
    public var bytes: [UInt8] { Array(storage[..<count]) }

    /// Creates an empty writer.
    ///
    /// - Parameters:
    ///   - reservingCapacity: How many bytes to reserve up front; the buffer grows as needed.
    public init(reservingCapacity: Int = 256) {
        storage = [UInt8](repeating: 0, count: Swift.max(16, reservingCapacity))
    }

    /// Returns the bytes written and leaves the writer empty, without copying them.
    public mutating func takeBytes() -> [UInt8] {
        var taken: [UInt8] = []
        swap(&taken, &storage)
        taken.removeSubrange(count...)
        count = 0
        return taken
    }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        if storage.count - count < extra { grow(extra) }
    }

    @inline(never)
    private mutating func grow(_ extra: Int) {
        let needed = count + extra
        var size = Swift.max(storage.count * 2, 64)
        while size < needed { size *= 2 }
        storage.append(contentsOf: repeatElement(0, count: size - storage.count))
    }

    /// Appends one byte.
    @inline(__always)
    private mutating func put(_ byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    /// Appends the bytes of `source`.
    @inline(__always)
    private mutating func put(_ source: UnsafeRawBufferPointer) {
        guard !source.isEmpty else { return }
        reserve(source.count)
        let at = count
        storage.withUnsafeMutableBytes { target in
            target.baseAddress!.advanced(by: at).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        count += source.count
    }

    /// Appends the bytes of any collection (contiguous ones are copied at once).
    private mutating func putCollection(_ source: some Collection<UInt8>) {
        if source.withContiguousStorageIfAvailable({ put(UnsafeRawBufferPointer($0)) }) != nil { return }
        reserve(source.count)
        for byte in source { put(byte) }
    }

    /// Writes `nil` (`0xc0`).
    public mutating func writeNil() {
        put(0xc0)
    }

    /// Writes a boolean (`0xc2` false, `0xc3` true).
    ///
    /// - Parameters:
    ///   - value: The boolean to write.
    public mutating func writeBool(_ value: Bool) {
        put(value ? 0xc3 : 0xc2)
    }

    /// Writes a signed integer in its smallest MessagePack form.
    ///
    /// Non-negative values take the unsigned forms (positive fixint, uint8/16/32/64), as the
    /// MessagePack spec recommends and as other implementations do; negative values take
    /// negative fixint or int8/16/32/64.
    ///
    /// - Parameters:
    ///   - value: The integer to write.
    public mutating func writeInt(_ value: Int64) {
        if value >= 0 {
            writeUInt(UInt64(value))
        } else if value >= -32 {
            put(UInt8(truncatingIfNeeded: value))
        } else if value >= Int64(Int8.min) {
            put(0xd0)
            put(UInt8(truncatingIfNeeded: value))
        } else if value >= Int64(Int16.min) {
            append(0xd1, bigEndian: Int16(truncatingIfNeeded: value))
        } else if value >= Int64(Int32.min) {
            append(0xd2, bigEndian: Int32(truncatingIfNeeded: value))
        } else {
            append(0xd3, bigEndian: value)
        }
    }

    /// Writes an unsigned integer in its smallest MessagePack form (positive fixint, uint8/16/32/64).
    ///
    /// - Parameters:
    ///   - value: The integer to write.
    public mutating func writeUInt(_ value: UInt64) {
        if value < 0x80 {
            put(UInt8(truncatingIfNeeded: value))
        } else if value <= UInt64(UInt8.max) {
            put(0xcc)
            put(UInt8(truncatingIfNeeded: value))
        } else if value <= UInt64(UInt16.max) {
            append(0xcd, bigEndian: UInt16(truncatingIfNeeded: value))
        } else if value <= UInt64(UInt32.max) {
            append(0xce, bigEndian: UInt32(truncatingIfNeeded: value))
        } else {
            append(0xcf, bigEndian: value)
        }
    }

    /// Writes a double as float64 (`0xcb`), always, so no precision is lost and the encoding
    /// does not depend on the value.
    ///
    /// - Parameters:
    ///   - value: The double to write; NaN keeps its bit pattern.
    public mutating func writeDouble(_ value: Double) {
        append(0xcb, bigEndian: value.bitPattern)
    }

    /// Writes a string as its UTF-8 bytes in the smallest of fixstr, str8, str16 and str32.
    ///
    /// The bytes are written as stored; the string is not normalized.
    ///
    /// - Parameters:
    ///   - value: The string to write; at most 2^32 - 1 bytes of UTF-8.
    public mutating func writeString(_ value: String) {
        // withUTF8 gives contiguous bytes for every string, small (inline) ones included.
        var value = value
        value.withUTF8 { utf8 in
            let count = utf8.count
            if count < 32 {
                put(0xa0 | UInt8(truncatingIfNeeded: count))
            } else {
                writeLengthHeader(count, kind: "string", tag8: 0xd9, tag16: 0xda, tag32: 0xdb)
            }
            put(UnsafeRawBufferPointer(utf8))
        }
    }

    /// Writes bytes as MessagePack binary in the smallest of bin8, bin16 and bin32.
    ///
    /// - Parameters:
    ///   - value: The bytes to write; at most 2^32 - 1 of them.
    public mutating func writeBinary(_ value: some Collection<UInt8>) {
        writeLengthHeader(value.count, kind: "binary", tag8: 0xc4, tag16: 0xc5, tag32: 0xc6)
        putCollection(value)
    }

    /// Writes the header of an array of `count` elements (fixarray, array16 or array32); the
    /// caller writes the elements after it.
    ///
    /// - Parameters:
    ///   - count: The number of elements that follow, from 0 to 2^32 - 1.
    public mutating func writeArrayHeader(_ count: Int) {
        if count >= 0 && count < 16 {
            put(0x90 | UInt8(truncatingIfNeeded: count))
        } else {
            writeLengthHeader(count, kind: "array", tag8: nil, tag16: 0xdc, tag32: 0xdd)
        }
    }

    /// Writes the header of a map of `count` entries (fixmap, map16 or map32); the caller writes
    /// each key followed by its value after it.
    ///
    /// - Parameters:
    ///   - count: The number of key-value entries that follow, from 0 to 2^32 - 1.
    public mutating func writeMapHeader(_ count: Int) {
        if count >= 0 && count < 16 {
            put(0x80 | UInt8(truncatingIfNeeded: count))
        } else {
            writeLengthHeader(count, kind: "map", tag8: nil, tag16: 0xde, tag32: 0xdf)
        }
    }

    /// Appends pre-encoded MessagePack bytes as they are.
    ///
    /// The writer does not check them: the caller vouches that they are one or more complete
    /// values (for example a payload encoded once and sent many times).
    ///
    /// - Parameters:
    ///   - bytes: The encoded bytes to append.
    public mutating func writeRaw(_ bytes: some Collection<UInt8>) {
        putCollection(bytes)
    }

    /// Writes a whole `EventValue` tree deterministically.
    ///
    /// `.null` is nil, `.int` the smallest integer form, `.double` float64, `.string` str,
    /// `.bytes` bin, `.array` array and `.map` a map whose keys (strings) are written in
    /// ascending order of their UTF-8 bytes, so the same value always encodes to the same bytes
    /// whatever the dictionary's iteration order.
    ///
    /// - Parameters:
    ///   - value: The value to write.
    public mutating func write(_ value: EventValue) {
        switch value {
        case .null:
            writeNil()
        case .bool(let flag):
            writeBool(flag)
        case .int(let integer):
            writeInt(integer)
        case .double(let number):
            writeDouble(number)
        case .string(let string):
            writeString(string)
        case .bytes(let data):
            writeBinary(data)
        case .array(let elements):
            writeArrayHeader(elements.count)
            for element in elements {
                write(element)
            }
        case .map(let entries):
            writeSortedMap(entries) { writer, entry in writer.write(entry) }
        }
    }

    /// Writes a map of string keys in ascending order of their UTF-8 bytes, each value with
    /// `writeValue`.
    @inline(__always)
    mutating func writeSortedMap<Value>(_ entries: [String: Value], writeValue: (inout Self, Value) -> Void) {
        writeMapHeader(entries.count)
        if entries.count <= 1 {
            for (key, entry) in entries {
                writeString(key)
                writeValue(&self, entry)
            }
            return
        }
        // Sort positions, not entries, in scratch space that is on the stack for small maps;
        // each position carries its key's first 8 bytes, so most comparisons are one integer
        // comparison.
        typealias Slot = (prefix: UInt64, index: Dictionary<String, Value>.Index)
        withUnsafeTemporaryAllocation(of: Slot.self, capacity: entries.count) { scratch in
            var order = scratch
            var count = 0
            for index in entries.indices {
                order.initializeElement(at: count, to: (Self.utf8Prefix(entries[index].key), index))
                count += 1
            }
            order.sort { left, right in
                left.prefix != right.prefix
                    ? left.prefix < right.prefix
                    : Self.utf8Precedes(entries[left.index].key, entries[right.index].key)
            }
            for slot in order {
                let (key, entry) = entries[slot.index]
                writeString(key)
                writeValue(&self, entry)
            }
            _ = order.deinitialize()
        }
    }

    /// Writes 16 bytes as bin8, from two big-endian halves (an event id) without an array.
    mutating func writeBinary16(high: UInt64, low: UInt64) {
        put(0xc4)
        put(16)
        withUnsafeBytes(of: high.bigEndian) { put($0) }
        withUnsafeBytes(of: low.bigEndian) { put($0) }
    }

    /// Writes the smallest of the 8-, 16- and 32-bit length headers for `count`.
    private mutating func writeLengthHeader(_ count: Int, kind: StaticString, tag8: UInt8?, tag16: UInt8, tag32: UInt8) {
        precondition(count >= 0 && UInt64(count) <= UInt64(UInt32.max), "MessagePack cannot encode a \(kind) of length \(count); the most is 2^32 - 1")
        if let tag8, count <= Int(UInt8.max) {
            put(tag8)
            put(UInt8(truncatingIfNeeded: count))
        } else if count <= Int(UInt16.max) {
            append(tag16, bigEndian: UInt16(truncatingIfNeeded: count))
        } else {
            append(tag32, bigEndian: UInt32(truncatingIfNeeded: count))
        }
    }

    /// Appends a format byte followed by `value` in big-endian byte order.
    @inline(__always)
    private mutating func append<T: FixedWidthInteger>(_ tag: UInt8, bigEndian value: T) {
        put(tag)
        withUnsafeBytes(of: value.bigEndian) { put($0) }
    }
}

extension MessagePackWriter {
    /// The first 8 UTF-8 bytes of `string` as a big-endian integer, zero-padded.
    ///
    /// When two strings' prefixes differ, they order the strings as ``utf8Precedes(_:_:)`` does
    /// (a zero pad sorts first, like the end of a shorter string); when they are equal, compare the
    /// whole strings.
    @inline(__always)
    static func utf8Prefix(_ string: String) -> UInt64 {
        func pack(_ bytes: some Collection<UInt8>) -> UInt64 {
            var prefix: UInt64 = 0
            var shift: UInt64 = 56
            for byte in bytes.prefix(8) {
                prefix |= UInt64(byte) << shift
                shift &-= 8
            }
            return prefix
        }
        return string.utf8.withContiguousStorageIfAvailable(pack) ?? pack(string.utf8)
    }

    /// Whether `lhs` sorts before `rhs` by their UTF-8 bytes, compared as unsigned bytes.
    ///
    /// Unlike `String.<`, which compares canonically equivalent forms, this is the order other
    /// MessagePack implementations get from sorting keys as byte strings.
    static func utf8Precedes(_ lhs: String, _ rhs: String) -> Bool {
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                let common = Swift.min(left.count, right.count)
                var index = 0
                while index < common {
                    let a = left[index]
                    let b = right[index]
                    if a != b { return a < b }
                    index += 1
                }
                return left.count < right.count
            }
        }
    }
}
