/// One MessagePack value of a validated frame, seen without decoding it: scalars carry their
/// value, strings and binaries where their bytes are, arrays and maps their count and where
/// their first element (or key) starts.
///
/// The cases mirror `EventValue`'s, so that a decoder can map bytes to Swift types exactly as
/// `EventValueDecoder` maps an `EventValue`: every integer format is ``int(_:)``, float32 and
/// float64 are ``double(_:)``.
enum MessagePackElement {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(Range<Int>)
    case binary(Range<Int>)
    case array(count: Int, first: Int)
    case map(count: Int, first: Int)
}

/// Reads values out of a frame that ``MessagePackReader/validateValue()`` has accepted, without
/// checking them again.
///
/// Only offsets of validated values may be passed in (the start of a value that was validated,
/// or of a key or element inside it): this type relies on the validation for every length, on
/// every integer fitting `Int64`, on well-formed UTF-8 and on the absence of ext values. It
/// never reads outside `bytes` (the array's bounds checks stay on), so a broken invariant traps
/// instead of reading stray memory.
struct ValidatedMessagePack: Sendable {
    /// The whole frame.
    let bytes: [UInt8]

    /// The value that starts at `offset`.
    @inline(__always)
    func element(at offset: Int) -> MessagePackElement {
        bytes.withUnsafeBufferPointer { Self.element(at: offset, in: $0) }
    }

    /// The value that starts at `offset` in `buffer`, which must be well-formed MessagePack
    /// without ext values (validated, or written by ``MessagePackWriter``).
    @inline(__always)
    static func element(at offset: Int, in buffer: UnsafeBufferPointer<UInt8>) -> MessagePackElement {
        let format = byte(at: offset, in: buffer)
        switch format {
        case 0x00...0x7f: return .int(Int64(format))
        case 0xe0...0xff: return .int(Int64(Int8(bitPattern: format)))
        case 0xc0: return .null
        case 0xc2: return .bool(false)
        case 0xc3: return .bool(true)
        case 0xcc: return .int(Int64(byte(at: offset + 1, in: buffer)))
        case 0xcd: return .int(Int64(load(UInt16.self, at: offset + 1, in: buffer)))
        case 0xce: return .int(Int64(load(UInt32.self, at: offset + 1, in: buffer)))
        // Validation rejected a uint64 above Int64.max.
        case 0xcf: return .int(Int64(bitPattern: load(UInt64.self, at: offset + 1, in: buffer)))
        case 0xd0: return .int(Int64(Int8(bitPattern: byte(at: offset + 1, in: buffer))))
        case 0xd1: return .int(Int64(load(Int16.self, at: offset + 1, in: buffer)))
        case 0xd2: return .int(Int64(load(Int32.self, at: offset + 1, in: buffer)))
        case 0xd3: return .int(load(Int64.self, at: offset + 1, in: buffer))
        case 0xca: return .double(Double(Float(bitPattern: load(UInt32.self, at: offset + 1, in: buffer))))
        case 0xcb: return .double(Double(bitPattern: load(UInt64.self, at: offset + 1, in: buffer)))
        case 0xa0...0xbf, 0xd9...0xdb: return .string(stringRange(at: offset, in: buffer))
        case 0xc4:
            let from = offset + 2
            return .binary(from..<from + Int(byte(at: offset + 1, in: buffer)))
        case 0xc5:
            let from = offset + 3
            return .binary(from..<from + Int(load(UInt16.self, at: offset + 1, in: buffer)))
        case 0xc6:
            let from = offset + 5
            return .binary(from..<from + Int(load(UInt32.self, at: offset + 1, in: buffer)))
        case 0x90...0x9f: return .array(count: Int(format & 0x0f), first: offset + 1)
        case 0xdc: return .array(count: Int(load(UInt16.self, at: offset + 1, in: buffer)), first: offset + 3)
        case 0xdd: return .array(count: Int(load(UInt32.self, at: offset + 1, in: buffer)), first: offset + 5)
        case 0x80...0x8f: return .map(count: Int(format & 0x0f), first: offset + 1)
        case 0xde: return .map(count: Int(load(UInt16.self, at: offset + 1, in: buffer)), first: offset + 3)
        case 0xdf: return .map(count: Int(load(UInt32.self, at: offset + 1, in: buffer)), first: offset + 5)
        default: notValidated(format, at: offset)
        }
    }

    /// Where the UTF-8 bytes of the string that starts at `offset` are.
    @inline(__always)
    func stringRange(at offset: Int) -> Range<Int> {
        bytes.withUnsafeBufferPointer { Self.stringRange(at: offset, in: $0) }
    }

    /// The offset just past the value that starts at `offset`, with everything nested in it.
    @inline(__always)
    func end(ofValueAt offset: Int) -> Int {
        bytes.withUnsafeBufferPointer { Self.end(ofValueAt: offset, in: $0) }
    }

    /// Where the UTF-8 bytes of the string that starts at `offset` in `buffer` are; the string
    /// must be well-formed MessagePack (validated, or written by ``MessagePackWriter``).
    @inline(__always)
    static func stringRange(at offset: Int, in buffer: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        let format = byte(at: offset, in: buffer)
        let from: Int
        let length: Int
        switch format {
        case 0xa0...0xbf:
            from = offset + 1
            length = Int(format & 0x1f)
        case 0xd9:
            from = offset + 2
            length = Int(byte(at: offset + 1, in: buffer))
        case 0xda:
            from = offset + 3
            length = Int(load(UInt16.self, at: offset + 1, in: buffer))
        case 0xdb:
            from = offset + 5
            length = Int(load(UInt32.self, at: offset + 1, in: buffer))
        default:
            notValidated(format, at: offset)
        }
        precondition(from + length <= buffer.count, "a string past the end of a validated frame")
        return from..<from + length
    }

    /// The offset just past the value that starts at `offset` in `buffer`, with everything
    /// nested in it; the value must be well-formed MessagePack without ext values (validated,
    /// or written by ``MessagePackWriter``).
    ///
    /// Iterative and allocation-free: skipping needs only the number of values still to skip.
    /// Every read is checked against the buffer's end, so a broken invariant traps.
    static func end(ofValueAt offset: Int, in buffer: UnsafeBufferPointer<UInt8>) -> Int {
        var position = offset
        var pending = 1
        while pending > 0 {
            pending -= 1
            let format = byte(at: position, in: buffer)
            switch format {
            case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3: position += 1
            case 0xcc, 0xd0: position += 2
            case 0xcd, 0xd1: position += 3
            case 0xca, 0xce, 0xd2: position += 5
            case 0xcb, 0xcf, 0xd3: position += 9
            case 0xa0...0xbf, 0xd9...0xdb: position = stringRange(at: position, in: buffer).upperBound
            case 0xc4: position += 2 + Int(byte(at: position + 1, in: buffer))
            case 0xc5: position += 3 + Int(load(UInt16.self, at: position + 1, in: buffer))
            case 0xc6: position += 5 + Int(load(UInt32.self, at: position + 1, in: buffer))
            case 0x90...0x9f:
                pending += Int(format & 0x0f)
                position += 1
            case 0xdc:
                pending += Int(load(UInt16.self, at: position + 1, in: buffer))
                position += 3
            case 0xdd:
                pending += Int(load(UInt32.self, at: position + 1, in: buffer))
                position += 5
            case 0x80...0x8f:
                pending += 2 * Int(format & 0x0f)
                position += 1
            case 0xde:
                pending += 2 * Int(load(UInt16.self, at: position + 1, in: buffer))
                position += 3
            case 0xdf:
                pending += 2 * Int(load(UInt32.self, at: position + 1, in: buffer))
                position += 5
            default:
                notValidated(format, at: position)
            }
        }
        precondition(position <= buffer.count, "a value past the end of a validated frame")
        return position
    }

    /// The byte at `offset` in `buffer`, bounds-checked.
    @inline(__always)
    private static func byte(at offset: Int, in buffer: UnsafeBufferPointer<UInt8>) -> UInt8 {
        precondition(offset >= 0 && offset < buffer.count, "read past a validated frame")
        return buffer[offset]
    }

    /// The big-endian integer of type `T` at `index` in `buffer`, bounds-checked.
    @inline(__always)
    private static func load<T: FixedWidthInteger>(_: T.Type, at index: Int, in buffer: UnsafeBufferPointer<UInt8>) -> T {
        precondition(index >= 0 && index <= buffer.count - MemoryLayout<T>.size, "read past a validated frame")
        return T(bigEndian: UnsafeRawBufferPointer(buffer).loadUnaligned(fromByteOffset: index, as: T.self))
    }

    /// The string made of the (validated) UTF-8 bytes in `range`.
    @inline(__always)
    func string(_ range: Range<Int>) -> String {
        if #available(macOS 26, iOS 26, tvOS 26, watchOS 26, visionOS 26, *) {
            // Validation already checked these bytes: copy them without a second pass.
            let utf8 = unsafe UTF8Span(unchecked: bytes.span.extracting(range))
            return String(copying: utf8)
        }
        return String(decoding: bytes[range], as: UTF8.self)
    }

    /// Whether the bytes in `range` equal `other`'s.
    @inline(__always)
    func bytes(_ range: Range<Int>, equal other: UnsafeBufferPointer<UInt8>) -> Bool {
        guard range.count == other.count else { return false }
        if other.isEmpty { return true }
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "a range outside its frame")
        return bytes.withUnsafeBufferPointer { buffer in
            let mine = buffer.baseAddress! + range.lowerBound
            let theirs = other.baseAddress!
            for index in 0..<other.count where mine[index] != theirs[index] { return false }
            return true
        }
    }

    @inline(never)
    private static func notValidated(_ format: UInt8, at offset: Int) -> Never {
        preconditionFailure("format \(MessagePackReader.formatName(format)) at offset \(offset) in a frame read as validated")
    }
}
