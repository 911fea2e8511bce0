import EventBus

/// An event's payload as it arrived on the wire: validated when the frame was decoded, turned
/// into an `EventValue` or a `Decodable` type only when a subscriber asks (through the bus,
/// which caches each conversion per event and type).
///
/// It holds the whole frame, shared with the decoder's input and never copied, and where the
/// payload lies in it. ``EventCodec/decode(_:frameType:)`` builds one only after
/// ``MessagePackReader/validateValue()`` accepted the payload, so ``decodeValue()`` cannot fail
/// and ``decode(_:)`` fails only with a `DecodingError` (the payload does not fit the type).
///
/// It fits an existential's inline buffer (three words), so an event holding one as `any
/// EncodedPayload` makes no allocation for it.
struct WirePayload: EncodedPayload {
    /// The frame the payload is part of.
    let frame: [UInt8]
    /// Where the payload's MessagePack value starts in ``frame``.
    private let start: Int
    /// Where it ends, shifted left by one, with ``isCanonical`` in the lowest bit.
    private let endAndCanonical: Int

    /// - Parameters:
    ///   - frame: the whole frame.
    ///   - range: where the payload's MessagePack value lies in `frame`.
    ///   - isCanonical: whether those bytes are exactly what `MessagePackWriter.write(_:)` makes
    ///     of their decoded value (see ``MessagePackReader/validateValue()``), so that
    ///     re-encoding the event may copy them as they are.
    init(frame: [UInt8], range: Range<Int>, isCanonical: Bool) {
        self.frame = frame
        start = range.lowerBound
        endAndCanonical = range.upperBound << 1 | (isCanonical ? 1 : 0)
    }

    /// Where the payload's MessagePack value lies in ``frame``.
    var range: Range<Int> { start..<(endAndCanonical >> 1) }

    /// Whether the payload's bytes are canonical (see ``init(frame:range:isCanonical:)``).
    var isCanonical: Bool { endAndCanonical & 1 != 0 }

    /// The payload's encoded bytes.
    var bytes: ArraySlice<UInt8> { frame[range] }

    /// Whether the payload is MessagePack nil (an event without payload).
    var isNil: Bool { Self.isNil(range, in: frame) }

    /// Whether the value at `range` of `frame` is MessagePack nil.
    static func isNil(_ range: Range<Int>, in frame: [UInt8]) -> Bool {
        range.count == 1 && frame[range.lowerBound] == 0xc0
    }

    /// Decodes the payload into its dynamic form, with ``MessagePackReader/readValue()``.
    /// - Returns: the payload as an `EventValue`.
    /// - Throws: a ``WireError`` only if the bytes were not validated (never for a payload made
    ///   by ``EventCodec``).
    func decodeValue() throws(WireError) -> EventValue {
        // The limits were enforced when the frame was validated, on a count that started at the
        // envelope: this read of the payload alone stays within them.
        var reader = MessagePackReader(bytes: frame, at: start, limits: .validated)
        return try reader.readValue()
    }

    /// Decodes one field of a map payload, skipping the others' values: what
    /// `decodeValue()[key]` returns, without building the map.
    /// - Parameter key: the field's key.
    /// - Returns: the field's value, or `nil` when the payload is not a map or has no such key.
    /// - Throws: a ``WireError`` only if the bytes were not validated (never for a payload made
    ///   by ``EventCodec``).
    func decodeValue(forKey key: String) throws(WireError) -> EventValue? {
        switch scalarField(forKey: key) {
        case .found(let value): return value
        case .absent: return nil
        case .unknown:
            var reader = MessagePackReader(bytes: frame, at: start, limits: .validated)
            return try reader.readValue(forKey: key)
        }
    }

    /// What ``scalarField(forKey:)`` learned.
    enum FieldLookup: Equatable {
        /// The key's value, a scalar read in place.
        case found(EventValue)
        /// The payload is a map without the key.
        case absent
        /// The lookup met something it leaves to `MessagePackReader` (see below).
        case unknown
    }

    /// The common case of ``decodeValue(forKey:)``, read in place, with no reader (which holds a
    /// reference to the frame): a map whose keys are ASCII strings of at most 31 bytes (fixstr),
    /// the key such a string, the value found a nil, boolean, integer or float64, the values
    /// skipped on the way scalars, strings or binaries. Anything else answers `.unknown`: a
    /// non-ASCII key (which can equal an ASCII one as a `String`), a container, an extension, a
    /// float32, a uint64 above `Int64.max`. The bytes were validated when the frame was decoded;
    /// every read is still checked against the payload's end, and a check that fails answers
    /// `.unknown` too, so that the reader reports it.
    func scalarField(forKey key: String) -> FieldLookup {
        // The key's bytes, read where they are; a string without contiguous UTF-8 storage is
        // left to the reader.
        return key.utf8.withContiguousStorageIfAvailable { wanted -> FieldLookup in
            guard wanted.count < 32, !wanted.contains(where: { $0 >= 0x80 }) else { return .unknown }
            return frame.withUnsafeBufferPointer { buffer -> FieldLookup in
                let end = Swift.min(endAndCanonical >> 1, buffer.count)
                var position = start
                guard position < end else { return .unknown }
                let count: Int
                switch buffer[position] {
                case 0x80...0x8f:
                    count = Int(buffer[position] & 0x0f)
                    position += 1
                case 0xde, 0xdf:
                    let width = buffer[position] == 0xde ? 2 : 4
                    guard position + width < end else { return .unknown }
                    var value = 0
                    for index in position + 1...position + width { value = value << 8 | Int(buffer[index]) }
                    count = value
                    position += 1 + width
                default:
                    return .unknown
                }
                for _ in 0..<count {
                    // The key: a fixstr of ASCII bytes.
                    guard position < end, buffer[position] & 0xe0 == 0xa0 else { return .unknown }
                    let length = Int(buffer[position] & 0x1f)
                    let keyStart = position + 1
                    guard keyStart + length < end else { return .unknown }
                    var matches = length == wanted.count
                    for offset in 0..<length {
                        let byte = buffer[keyStart + offset]
                        if byte >= 0x80 { return .unknown }
                        if matches && byte != wanted[offset] { matches = false }
                    }
                    position = keyStart + length
                    let format = buffer[position]
                    if matches { return Self.scalar(format, at: position, in: buffer, end: end).map { .found($0) } ?? .unknown }
                    guard let size = Self.scalarSize(format, at: position, in: buffer, end: end) else { return .unknown }
                    position += size
                }
                return .absent
            }
        } ?? .unknown
    }

    /// The scalar value at `position` (`format` is its first byte), if it is one
    /// ``scalarField(forKey:)`` reads and lies before `end`.
    private static func scalar(_ format: UInt8, at position: Int, in buffer: UnsafeBufferPointer<UInt8>, end: Int) -> EventValue? {
        switch format {
        case 0x00...0x7f: return .int(Int64(format))
        case 0xe0...0xff: return .int(Int64(Int8(bitPattern: format)))
        case 0xc0: return .null
        case 0xc2, 0xc3: return .bool(format == 0xc3)
        case 0xcc...0xd3, 0xcb:
            let size = 1 << (format & 0x03)
            guard position + 1 + size <= end else { return nil }
            var bits: UInt64 = 0
            for index in position + 1...position + size { bits = bits << 8 | UInt64(buffer[index]) }
            switch format {
            case 0xcb: return .double(Double(bitPattern: bits))
            case 0xcc...0xcf: return bits <= UInt64(Int64.max) ? .int(Int64(bits)) : nil
            default:
                // int8...int64: sign-extend from the value's width.
                let shift = UInt64(64 - 8 * size)
                return .int(Int64(bitPattern: bits << shift) >> shift)
            }
        default: return nil
        }
    }

    /// The size in bytes of the value at `position`, if it is a scalar, a string or a binary
    /// that lies before `end`; `nil` otherwise.
    private static func scalarSize(_ format: UInt8, at position: Int, in buffer: UnsafeBufferPointer<UInt8>, end: Int) -> Int? {
        func length(_ width: Int) -> Int? {
            guard position + width < end else { return nil }
            var value = 0
            for index in position + 1...position + width { value = value << 8 | Int(buffer[index]) }
            return value
        }
        let size: Int
        switch format {
        case 0x00...0x7f, 0xe0...0xff, 0xc0, 0xc2, 0xc3: size = 1
        case 0xcc...0xd3: size = 1 + (1 << (format & 0x03))
        case 0xca: size = 5
        case 0xcb: size = 9
        case 0xa0...0xbf: size = 1 + Int(format & 0x1f)
        case 0xd9, 0xc4: guard let count = length(1) else { return nil }; size = 2 + count
        case 0xda, 0xc5: guard let count = length(2) else { return nil }; size = 3 + count
        case 0xdb, 0xc6: guard let count = length(4) else { return nil }; size = 5 + count
        default: return nil
        }
        return position + size <= end ? size : nil
    }

    /// Decodes the payload straight from its bytes into `type`, with the same mapping and the
    /// same errors as decoding ``decodeValue()``'s result with `EventValueDecoder`, but without
    /// building the `EventValue`.
    /// - Parameter type: the type to decode.
    /// - Returns: the decoded value.
    /// - Throws: `DecodingError` when the payload does not fit `type`, or any error `type`'s
    ///   own `init(from:)` throws.
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try MessagePackDecoder.decode(type, from: ValidatedMessagePack(bytes: frame), at: range.lowerBound)
    }
}
