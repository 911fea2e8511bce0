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
        var reader = MessagePackReader(bytes: frame, at: start, limits: .validated)
        return try reader.readValue(forKey: key)
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
