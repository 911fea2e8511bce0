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
    ///   by ``EventCodec``; the part read in place, ``scalarField(forKey:)``, relies on that
    ///   validation as ``ValidatedMessagePack`` does).
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

    /// The common case of ``decodeValue(forKey:)``, read in place with ``ValidatedMessagePack``
    /// (the payload was validated with its frame), without a `MessagePackReader`, which holds a
    /// reference to the frame: the key ASCII, every key of the map ASCII, the value found a nil,
    /// boolean, number. Anything else answers `.unknown`, for the reader: a non-ASCII key (which
    /// can equal an ASCII one as a `String`), a string, binary or container value.
    func scalarField(forKey key: String) -> FieldLookup {
        // The key's bytes, read where they are; a string without contiguous UTF-8 storage is
        // left to the reader.
        return key.utf8.withContiguousStorageIfAvailable { wanted -> FieldLookup in
            guard !wanted.contains(where: { $0 >= 0x80 }) else { return .unknown }
            return frame.withUnsafeBufferPointer { buffer -> FieldLookup in
                // Not a map: no field, as the reader finds.
                guard case .map(let count, var position) = ValidatedMessagePack.element(at: start, in: buffer) else { return .absent }
                for _ in 0..<count {
                    let keyRange = ValidatedMessagePack.stringRange(at: position, in: buffer)
                    // One pass: whether the key is ASCII, and whether it is the one wanted.
                    var matches = keyRange.count == wanted.count
                    for offset in 0..<keyRange.count {
                        let byte = buffer[keyRange.lowerBound + offset]
                        if byte >= 0x80 { return .unknown }
                        if matches && byte != wanted[offset] { matches = false }
                    }
                    position = keyRange.upperBound
                    if matches {
                        switch ValidatedMessagePack.element(at: position, in: buffer) {
                        case .null: return .found(.null)
                        case .bool(let flag): return .found(.bool(flag))
                        case .int(let integer): return .found(.int(integer))
                        case .double(let number): return .found(.double(number))
                        case .string, .binary, .array, .map: return .unknown
                        }
                    }
                    position = ValidatedMessagePack.end(ofValueAt: position, in: buffer)
                }
                return .absent
            }
        } ?? .unknown
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
