public import EventBus
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// The buffer: `storage[..<count]` is written, the rest is room to write into (zeroed, or
    /// left over from ``truncate(to:)`` or from a recycled buffer), so that writing copies into
    /// place instead of appending element by element.
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
        let size = Swift.max(16, reservingCapacity)
        // Sizes up to 512 bytes share one zeroed buffer, copied on the first write. That copy
        // takes the array's specialized path; making a new zeroed array (with
        // `Array(repeating:count:)` or `unsafeUninitializedCapacity`) calls the standard
        // library's generic allocation, which looks up the storage's type metadata each time
        // (about 300 instructions more per writer: Benchmarks/Profiling/allocation-probe.sh).
        storage = size <= Self.sharedZeros.count ? Self.sharedZeros : [UInt8](repeating: 0, count: size)
    }

    /// Creates an empty writer that writes into `buffer`'s memory, whatever it holds: for a
    /// caller that recycles the arrays ``takeBytes()`` returned, so that a writer needs no new
    /// allocation (one that is shared is copied on the first write, as any array is). A buffer
    /// with less capacity than `minimumCapacity` is not used: the writer starts as
    /// ``init(reservingCapacity:)`` does.
    /// - Parameters:
    ///   - buffer: an array to write into; its elements are overwritten.
    ///   - minimumCapacity: the least room worth reusing.
    package init(reusing buffer: consuming [UInt8], minimumCapacity: Int = 512) {
        var storage = buffer
        guard storage.capacity >= minimumCapacity else {
            self.init(reservingCapacity: minimumCapacity)
            return
        }
        // The whole capacity becomes room: copied from the shared zeros, read in place (a slice
        // of them would cost a retain and a release), without allocating.
        Self.sharedZeros.withUnsafeBufferPointer { zeros in
            while storage.count < storage.capacity {
                storage.append(contentsOf: UnsafeBufferPointer(rebasing: zeros[..<Swift.min(zeros.count, storage.capacity - storage.count)]))
            }
        }
        self.init(storage: storage)
    }

    /// 512 zero bytes: the initial buffer of every writer that reserves no more, and what a
    /// recycled array's room is filled from.
    private static let sharedZeros = [UInt8](repeating: 0, count: 512)

    /// A writer with no buffer yet, to swap another writer's buffer into.
    static var unallocated: MessagePackWriter { MessagePackWriter(storage: []) }

    private init(storage: [UInt8]) {
        self.storage = storage
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
        // One allocation, one copy and one zero fill (not an element-by-element append,
        // which is very slow in unoptimized builds).
        let old = storage
        storage = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            old.withUnsafeBytes { raw.copyMemory(from: $0) }
            memset(raw.baseAddress! + old.count, 0, size - old.count)
            initialized = size
        }
    }

    /// Appends `size` bytes that `body` writes, given where they go: one capacity check and
    /// one uniqueness check for the whole write.
    @inline(__always)
    private mutating func append(_ size: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Void) {
        reserve(size)
        let at = count
        storage.withUnsafeMutableBufferPointer { buffer in body(buffer.baseAddress! + at) }
        count = at + size
    }

    /// Appends one byte.
    @inline(__always)
    private mutating func put(_ byte: UInt8) {
        append(1) { $0.pointee = byte }
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
            append(0xd0, bigEndian: Int8(truncatingIfNeeded: value))
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
            append(0xcc, bigEndian: UInt8(truncatingIfNeeded: value))
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
        // Native strings, small (inline) ones included, lend their UTF-8 bytes in place.
        if value.utf8.withContiguousStorageIfAvailable({ writeString(utf8: $0) }) != nil { return }
        var value = value
        value.withUTF8 { writeString(utf8: $0) }
    }

    /// Writes a string of at most 7 bytes given packed as `MessagePackReader.packedShortString`
    /// packs one (the bytes from the most significant byte down, the length in the lowest): a
    /// constant key costs a few stores instead of a `String`'s UTF-8 access.
    @inline(__always)
    mutating func writePackedString(_ packed: UInt64) {
        let length = Int(packed & 0xff)
        precondition(length <= 7, "a packed string has at most 7 bytes")
        append(1 + length) { target in
            target.pointee = 0xa0 | UInt8(truncatingIfNeeded: length)
            var shift: UInt64 = 56
            for index in 0..<length {
                target[1 + index] = UInt8(truncatingIfNeeded: packed &>> shift)
                shift &-= 8
            }
        }
    }

    /// Writes a string given as its UTF-8 bytes.
    @inline(__always)
    private mutating func writeString(utf8: UnsafeBufferPointer<UInt8>) {
        let length = utf8.count
        guard length < 32 else {
            writeLengthHeader(length, kind: "string", tag8: 0xd9, tag16: 0xda, tag32: 0xdb)
            put(UnsafeRawBufferPointer(utf8))
            return
        }
        // A fixstr: header and bytes in one write.
        append(1 + length) { target in
            target.pointee = 0xa0 | UInt8(truncatingIfNeeded: length)
            if length > 0 { (target + 1).update(from: utf8.baseAddress!, count: length) }
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
    /// ascending order of their UTF-8 bytes (the order an ``EventMap`` keeps), so the same value
    /// always encodes to the same bytes.
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
            // An EventMap is already in the wire's key order.
            writeMapHeader(entries.count)
            entries.forEachEntry { key, entry in
                writeString(key)
                write(entry)
            }
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
                order.initializeElement(at: count, to: (KeyProbe(entries[index].key).prefix, index))
                count += 1
            }
            order.sort { left, right in
                left.prefix != right.prefix
                    ? left.prefix < right.prefix
                    : EventMap.compareUTF8(entries[left.index].key, entries[right.index].key) < 0
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
        append(18) { target in
            target[0] = 0xc4
            target[1] = 16
            UnsafeMutableRawPointer(target + 2).storeBytes(of: high.bigEndian, as: UInt64.self)
            UnsafeMutableRawPointer(target + 10).storeBytes(of: low.bigEndian, as: UInt64.self)
        }
    }

    /// Writes the smallest of the 8-, 16- and 32-bit length headers for `count`.
    private mutating func writeLengthHeader(_ count: Int, kind: StaticString, tag8: UInt8?, tag16: UInt8, tag32: UInt8) {
        precondition(count >= 0 && UInt64(count) <= UInt64(UInt32.max), "MessagePack cannot encode a \(kind) of length \(count); the most is 2^32 - 1")
        if let tag8, count <= Int(UInt8.max) {
            append(tag8, bigEndian: UInt8(truncatingIfNeeded: count))
        } else if count <= Int(UInt16.max) {
            append(tag16, bigEndian: UInt16(truncatingIfNeeded: count))
        } else {
            append(tag32, bigEndian: UInt32(truncatingIfNeeded: count))
        }
    }

    /// Appends a format byte followed by `value` in big-endian byte order.
    @inline(__always)
    private mutating func append<T: FixedWidthInteger>(_ tag: UInt8, bigEndian value: T) {
        append(1 + MemoryLayout<T>.size) { target in
            target.pointee = tag
            UnsafeMutableRawPointer(target + 1).storeBytes(of: value.bigEndian, as: T.self)
        }
    }
}

// MARK: - Editing written bytes (for EventCodec and MessagePackEncoder)

extension MessagePackWriter {
    /// The written byte at `offset`.
    func byte(at offset: Int) -> UInt8 {
        precondition(offset >= 0 && offset < count, "offset \(offset) outside the \(count) bytes written")
        return storage[offset]
    }

    /// Overwrites the written byte at `offset`.
    mutating func setByte(_ byte: UInt8, at offset: Int) {
        precondition(offset >= 0 && offset < count, "offset \(offset) outside the \(count) bytes written")
        storage[offset] = byte
    }

    /// Forgets every byte written after the first `newCount`.
    mutating func truncate(to newCount: Int) {
        precondition(newCount >= 0 && newCount <= count, "cannot truncate \(count) bytes to \(newCount)")
        count = newCount
    }

    /// Writes a one-byte placeholder for the header of an array or map whose size is not known
    /// yet; ``finishArray(headerAt:count:)`` or ``finishMap(headerAt:count:)`` replaces it.
    /// - Returns: the placeholder's offset.
    mutating func writeHeaderPlaceholder() -> Int {
        let offset = count
        put(0x90)
        return offset
    }

    /// Completes an array started with ``writeHeaderPlaceholder()``, whose `elementCount`
    /// elements run from the placeholder to the end: writes its smallest header, moving the
    /// elements if the header needs more than the placeholder's byte.
    mutating func finishArray(headerAt start: Int, count elementCount: Int) {
        if elementCount < 16 {
            storage[start] = 0x90 | UInt8(truncatingIfNeeded: elementCount)
            return
        }
        precondition(UInt64(elementCount) <= UInt64(UInt32.max), "MessagePack cannot encode an array of \(elementCount) elements")
        let wide = elementCount > Int(UInt16.max)
        insertHeader(at: start, tag: wide ? 0xdd : 0xdc, count: elementCount, width: wide ? 4 : 2)
    }

    /// Completes a map started with ``writeHeaderPlaceholder()``, whose `entryCount` entries
    /// (each a string key written by ``writeString(_:)`` and a value written by this writer)
    /// run from the placeholder to the end: puts the entries in ascending order of their keys'
    /// UTF-8 bytes, as ``write(_:)`` writes a map, and writes the smallest header.
    ///
    /// - Returns: `false`, leaving the bytes unspecified, if two keys are equal or a key is not
    ///   ASCII: the caller then encodes the map another way (for non-ASCII keys, because
    ///   canonically equivalent keys are one key in an `EventValue` map).
    mutating func finishMap(headerAt start: Int, count entryCount: Int) -> Bool {
        guard entryCount > 1 else {
            if entryCount == 1 {
                let isASCII = storage.withUnsafeBufferPointer { buffer in
                    ValidatedMessagePack.stringRange(at: start + 1, in: buffer).allSatisfy { buffer[$0] < 0x80 }
                }
                guard isASCII else { return false }
            }
            storage[start] = 0x80 | UInt8(truncatingIfNeeded: entryCount)
            return true
        }
        precondition(UInt64(entryCount) <= UInt64(UInt32.max), "MessagePack cannot encode a map of \(entryCount) entries")
        typealias Entry = (prefix: UInt64, key: Range<Int>, entry: Range<Int>)
        let end = count
        let sorted: Bool? = withUnsafeTemporaryAllocation(of: Entry.self, capacity: entryCount) { scratch -> Bool? in
            var entries = scratch
            let outcome: Bool? = storage.withUnsafeBufferPointer { buffer in
                // Where each entry and its key are; whether they are already in order.
                var inOrder = true
                var position = start + 1
                for index in 0..<entryCount {
                    let key = ValidatedMessagePack.stringRange(at: position, in: buffer)
                    var bits: UInt8 = 0
                    for offset in key { bits |= buffer[offset] }
                    guard bits < 0x80 else { return nil }
                    let entryEnd = ValidatedMessagePack.end(ofValueAt: key.upperBound, in: buffer)
                    let prefix = KeyProbe.prefix(of: UnsafeBufferPointer(rebasing: buffer[key]))
                    entries.initializeElement(at: index, to: (prefix, key, position..<entryEnd))
                    if index > 0 && !Self.precedes(entries[index - 1], entries[index], in: buffer) { inOrder = false }
                    position = entryEnd
                }
                precondition(position == end, "map entries do not end where the writer does")
                if inOrder { return true }
                if entryCount <= 16 {
                    // A struct's handful of keys: an insertion sort, with no closure through
                    // the standard library's sort (about 900 instructions for 5 keys).
                    for index in 1..<entryCount {
                        let entry = entries[index]
                        var position = index
                        while position > 0 && Self.precedes(entry, entries[position - 1], in: buffer) {
                            entries[position] = entries[position - 1]
                            position -= 1
                        }
                        entries[position] = entry
                    }
                } else {
                    entries.sort { Self.precedes($0, $1, in: buffer) }
                }
                for index in 1..<entryCount where !Self.precedes(entries[index - 1], entries[index], in: buffer) {
                    return nil  // two equal keys
                }
                return false
            }
            guard let inOrder = outcome else {
                _ = entries.deinitialize()
                return nil
            }
            if !inOrder {
                // Rewrite the entries in key order, through a copy of their bytes.
                let bodyStart = start + 1
                let bodyCount = end - bodyStart
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bodyCount) { copy in
                    storage.withUnsafeMutableBufferPointer { buffer in
                        _ = copy.initialize(fromContentsOf: buffer[bodyStart..<end])
                        var target = bodyStart
                        for entry in entries {
                            let length = entry.entry.count
                            let source = copy.baseAddress! + (entry.entry.lowerBound - bodyStart)
                            (buffer.baseAddress! + target).update(from: source, count: length)
                            target += length
                        }
                    }
                }
            }
            _ = entries.deinitialize()
            return inOrder
        }
        guard sorted != nil else { return false }
        if entryCount < 16 {
            storage[start] = 0x80 | UInt8(truncatingIfNeeded: entryCount)
        } else {
            let wide = entryCount > Int(UInt16.max)
            insertHeader(at: start, tag: wide ? 0xdf : 0xde, count: entryCount, width: wide ? 4 : 2)
        }
        return true
    }

    /// Replaces the one-byte placeholder at `start` by `tag` and a `width`-byte big-endian
    /// count, moving what follows it.
    private mutating func insertHeader(at start: Int, tag: UInt8, count elementCount: Int, width: Int) {
        let extra = width
        reserve(extra)
        let end = count
        storage.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            (base + start + 1 + extra).update(from: base + start + 1, count: end - start - 1)
            base[start] = tag
            var value = UInt32(elementCount)
            for index in stride(from: width - 1, through: 0, by: -1) {
                base[start + 1 + index] = UInt8(truncatingIfNeeded: value)
                value >>= 8
            }
        }
        count += extra
    }

    /// Whether the key of `left` sorts strictly before that of `right` by unsigned UTF-8 bytes.
    @inline(__always)
    private static func precedes(
        _ left: (prefix: UInt64, key: Range<Int>, entry: Range<Int>),
        _ right: (prefix: UInt64, key: Range<Int>, entry: Range<Int>),
        in buffer: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        if left.prefix != right.prefix { return left.prefix < right.prefix }
        let common = Swift.min(left.key.count, right.key.count)
        var index = 8
        while index < common {
            let a = buffer[left.key.lowerBound + index]
            let b = buffer[right.key.lowerBound + index]
            if a != b { return a < b }
            index += 1
        }
        return left.key.count < right.key.count
    }
}
