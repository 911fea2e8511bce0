public import EventBus

/// Encodes events to the envelope of docs/WIRE.md (frame 2 of a mesh message) and decodes them
/// back.
///
/// Encoding is deterministic: the same event always yields the same bytes (keys in a fixed
/// order, optional fields omitted when empty, smallest integer widths, payload map keys sorted).
/// Decoding is total: any byte string yields an ``Event`` or a ``WireError`` that says what was
/// wrong and where, within ``WireLimits``.
///
/// The whole frame is validated when it is decoded, payload included, so a frame that decodes
/// holds no malformed byte anywhere. The payload is then kept in its encoded form
/// (``Event/Payload/encoded(_:)``) and converted only when a subscriber reads it: to an
/// ``EventValue`` for ``Event/data``, or straight from the bytes into a `Decodable` type for
/// ``Event/payload(as:)``, once per event and type (the bus caches each conversion).
///
/// ```swift
/// let codec = EventCodec()
/// let bytes = try codec.encode(event)
/// let copy = try codec.decode(bytes, frameType: event.type.name)
/// ```
public struct EventCodec: Sendable {
    /// The format version this codec writes and the only one it reads.
    public static let version: Int64 = 1

    /// The limits enforced when decoding, and the frame size enforced when encoding.
    public var limits: WireLimits

    /// Makes a codec.
    /// - Parameter limits: size, depth and count limits (default: ``WireLimits/default``).
    public init(limits: WireLimits = .default) {
        self.limits = limits
    }

    // MARK: Encoding

    /// Encodes an event's envelope.
    ///
    /// The payload's bytes are the same whatever form it is held in: a typed payload encodes
    /// as its `EventValueEncoder` form would. A typed payload is encoded straight to
    /// MessagePack when it can be (``MessagePackEncoder``), through its `EventValue` form
    /// otherwise. A payload still encoded as this codec decoded it is copied as it is when it
    /// is canonical (exactly the bytes encoding its decoded value would give: smallest formats,
    /// sorted keys; see ``MessagePackReader/validateValue()``), so forwarding an event costs no
    /// payload decoding and stays deterministic; a payload that arrived in another valid
    /// encoding (for example with unsorted keys or a float32) is decoded and re-encoded.
    /// - Parameter event: the event; its payload may be dynamic, typed or still encoded.
    /// - Returns: the envelope bytes (frame 2).
    /// - Throws: ``WireError`` with code `invalidField` if a typed payload cannot be encoded, or
    ///   `limitExceeded` if the envelope would be larger than ``WireLimits/maxFrameBytes``.
    public func encode(_ event: Event) throws(WireError) -> [UInt8] {
        try encode(event, origin: event.origin)
    }

    /// Encodes an event as if its origin were `origin`: the same bytes as ``encode(_:)`` of a
    /// copy of `event` with that origin, without making the copy (a bridge stamps every event
    /// it sends with its node's origin and sequence number).
    /// - Parameters:
    ///   - event: the event; its own origin is ignored.
    ///   - origin: the origin to write, or nil for none.
    /// - Returns: the envelope bytes (frame 2).
    /// - Throws: as ``encode(_:)``.
    public func encode(_ event: Event, origin: EventOrigin?) throws(WireError) -> [UInt8] {
        try encode(event, origin: origin, into: MessagePackWriter(reservingCapacity: 512))
    }

    /// ``encode(_:origin:)`` into the memory of `buffer`, an array an earlier encoding returned
    /// and nothing else uses any more: a bridge recycles the frames it has sent, so that
    /// encoding allocates nothing (see ``MessagePackWriter/init(reusing:minimumCapacity:)``).
    /// - Parameters:
    ///   - event: the event; its own origin is ignored.
    ///   - origin: the origin to write, or nil for none.
    ///   - buffer: the array to write into (its contents are overwritten).
    /// - Returns: the envelope bytes (frame 2), in `buffer`'s memory.
    /// - Throws: as ``encode(_:)``.
    package func encode(_ event: Event, origin: EventOrigin?, reusing buffer: consuming [UInt8]) throws(WireError) -> [UInt8] {
        try encode(event, origin: origin, into: MessagePackWriter(reusing: buffer))
    }

    private func encode(_ event: Event, origin: EventOrigin?, into writer: consuming MessagePackWriter) throws(WireError) -> [UInt8] {
        var writer = writer
        // Each field is read once: every read of an event's field retains what it returns.
        let source = event.source
        let metadata = event.metadata
        let scope = event.scope
        var count = 5  // v, id, t, ts, and p unless nil (adjusted below)
        if !source.isEmpty { count += 1 }
        if !metadata.isEmpty { count += 1 }
        if !scope.isEmpty { count += 1 }
        if let origin {
            count += 2
            if origin.sequence != nil { count += 1 }
            if origin.hops != 0 { count += 1 }
        }
        let payload = try encodablePayload(of: event)
        if case .none = payload { count -= 1 }

        writer.writeMapHeader(count)
        writer.writePackedString(EnvelopeKey.Known.version.packed)
        writer.writeInt(EventCodec.version)
        writer.writePackedString(EnvelopeKey.Known.id.packed)
        writer.writeBinary16(high: event.id.high, low: event.id.low)
        writer.writePackedString(EnvelopeKey.Known.type.packed)
        writer.writeString(event.type.name)
        writer.writePackedString(EnvelopeKey.Known.timestamp.packed)
        writer.writeInt(event.timestamp.nanosecondsSinceEpoch)
        if !source.isEmpty {
            writer.writePackedString(EnvelopeKey.Known.source.packed)
            writer.writeString(source)
        }
        if !metadata.isEmpty {
            writer.writePackedString(EnvelopeKey.Known.metadata.packed)
            writer.writeSortedMap(metadata) { writer, value in writer.writeString(value) }
        }
        if !scope.isEmpty {
            writer.writePackedString(EnvelopeKey.Known.scope.packed)
            writer.writeArrayHeader(scope.count)
            for name in scope { writer.writeString(name) }
        }
        if let origin {
            writer.writePackedString(EnvelopeKey.Known.originNode.packed)
            writer.writeString(origin.node)
            writer.writePackedString(EnvelopeKey.Known.originIncarnation.packed)
            writer.writeUInt(origin.incarnation)
            if let sequence = origin.sequence {
                writer.writePackedString(EnvelopeKey.Known.sequence.packed)
                writer.writeUInt(sequence)
            }
            if origin.hops != 0 {
                writer.writePackedString(EnvelopeKey.Known.hops.packed)
                writer.writeUInt(UInt64(clamping: origin.hops))
            }
        }
        switch consume payload {
        case .none:
            break
        case .value(let value):
            writer.writePackedString(EnvelopeKey.Known.payload.packed)
            writer.write(value)
        case .canonical(let bytes):
            writer.writePackedString(EnvelopeKey.Known.payload.packed)
            writer.writeRaw(bytes)
        case .typed(let typed):
            let keyStart = writer.count
            writer.writePackedString(EnvelopeKey.Known.payload.packed)
            let valueStart = writer.count
            if !MessagePackEncoder.encode(typed, into: &writer) {
                // Beyond the direct encoder: through the EventValue form (same bytes, or its error).
                writer.truncate(to: valueStart)
                writer.write(try payloadValue(of: event))
            }
            if writer.count == valueStart + 1 && writer.byte(at: valueStart) == 0xc0 {
                // A typed payload that encodes as nil: no payload, as for a nil value.
                writer.truncate(to: keyStart)
                writer.setByte(0x80 | UInt8(count - 1), at: 0)  // the envelope's header, a fixmap
            }
        }
        let bytes = writer.takeBytes()
        if bytes.count > limits.maxFrameBytes {
            throw WireError(
                .limitExceeded, offset: nil, field: EnvelopeKey.Known.payload.rawValue,
                message: "the encoded event is \(bytes.count) bytes, more than the frame limit of \(limits.maxFrameBytes)")
        }
        return bytes
    }

    /// How an event's payload is written.
    private enum EncodablePayload {
        /// No payload (nil): the key is omitted.
        case none
        /// A value to encode.
        case value(EventValue)
        /// Canonical MessagePack bytes to copy.
        case canonical(ArraySlice<UInt8>)
        /// A typed payload to encode (it may still turn out to be nil).
        case typed(any EventPayload)
    }

    private func encodablePayload(of event: Event) throws(WireError) -> EncodablePayload {
        switch event.payload {
        case .value(let value):
            return value.isNull ? .none : .value(value)
        case .typed(let typed):
            return .typed(typed)
        case .encoded(let encoded):
            if let wire = encoded as? WirePayload, wire.isCanonical {
                return wire.isNil ? .none : .canonical(wire.bytes)
            }
            let value = try payloadValue(of: event)
            return value.isNull ? .none : .value(value)
        }
    }

    /// The payload as an `EventValue` (converted by the event, which caches it).
    private func payloadValue(of event: Event) throws(WireError) -> EventValue {
        do {
            return try event.payloadValue()
        } catch {
            throw WireError(
                .invalidField, offset: nil, field: EnvelopeKey.Known.payload.rawValue,
                message: "the payload of \(event.type) cannot be encoded: \(error)")
        }
    }

    // MARK: Decoding

    /// Decodes an envelope.
    /// - Parameters:
    ///   - bytes: the envelope (frame 2).
    ///   - frameType: frame 1 of the message, if the caller has it; it must equal the envelope's type.
    /// - Returns: the event, with the id, timestamp, origin and payload it was sent with.
    /// - Throws: ``WireError`` naming what is wrong and where.
    public func decode(_ bytes: [UInt8], frameType: String? = nil) throws(WireError) -> Event {
        var unused = RecentFields()
        return try decode(bytes, frameType: frameType, expected: nil, recent: &unused, reuse: false)
    }

    /// Decodes an envelope whose type the caller already knows and validated (frame 1 of the
    /// message, as a receiver that sees the same type again and again keeps it): when the
    /// envelope's type is exactly that name, the event shares `type` instead of validating and
    /// copying the name again. The result, and any error, are those of
    /// ``decode(_:frameType:)`` with `frameType: type.name`.
    /// - Parameters:
    ///   - bytes: the envelope (frame 2).
    ///   - type: frame 1 of the message, a valid type name; it must equal the envelope's type.
    /// - Returns: the event, with the id, timestamp, origin and payload it was sent with.
    /// - Throws: ``WireError`` naming what is wrong and where.
    public func decode(_ bytes: [UInt8], expecting type: EventType) throws(WireError) -> Event {
        var unused = RecentFields()
        return try decode(bytes, frameType: type.name, expected: type, recent: &unused, reuse: false)
    }

    /// Decodes an envelope as ``decode(_:expecting:)`` does, and shares the origin node and
    /// scope path of the events decoded before it with `recent`: where the envelope's are the
    /// same bytes, the event gets `recent`'s strings and array instead of new ones (a receiver
    /// reading one link sees the same node and scope again and again); where they differ, the
    /// envelope's are read and kept in `recent` for the next event. The result, and any error,
    /// are those of ``decode(_:frameType:)`` with `frameType: type.name`.
    /// - Parameters:
    ///   - bytes: the envelope (frame 2).
    ///   - type: frame 1 of the message, a valid type name; it must equal the envelope's type.
    ///   - recent: what the same receiver decoded before; start with `RecentFields()`.
    /// - Returns: the event, with the id, timestamp, origin and payload it was sent with.
    /// - Throws: ``WireError`` naming what is wrong and where; `recent` is then unchanged.
    public func decode(_ bytes: [UInt8], expecting type: EventType, reusing recent: inout RecentFields) throws(WireError) -> Event {
        try decode(bytes, frameType: type.name, expected: type, recent: &recent, reuse: true)
    }

    /// The origin node and scope path of the last event a receiver decoded, for
    /// ``decode(_:expecting:reusing:)``.
    public struct RecentFields: Sendable {
        var originNode: String?
        var scope: [String] = []

        /// Nothing decoded yet.
        public init() {}
    }

    private func decode(
        _ bytes: [UInt8], frameType: String?, expected: EventType?, recent: inout RecentFields, reuse: Bool
    ) throws(WireError) -> Event {
        try MessagePackReader.checkFrameSize(bytes.count, limits: limits)
        var reader = MessagePackReader(bytes: bytes, limits: limits)
        let envelopeOffset = reader.offset
        let count: Int
        do throws(WireError) {
            count = try reader.readMapHeader()
        } catch {
            throw error.inField("envelope")
        }

        var seen = EnvelopeKey.Seen()
        var version: Int64?
        var id: EventID?
        var type: EventType?
        var timestamp: Int64?
        var source = ""
        var metadata: [String: String] = [:]
        var scope: [String] = []
        var originNode: String?
        var originIncarnation: UInt64?
        var sequence: UInt64?
        var hops = 0
        // Where the payload is, if it is not nil; the event's payload is made at the end, as a
        // temporary the event takes over (an `Event.Payload` variable would be copied into it).
        var payloadRange: Range<Int>?
        var payloadIsCanonical = false
        // Whether the scope and the origin node were read rather than shared with `recent`.
        var scopeIsNew = false
        var originNodeIsNew = false

        for _ in 0..<count {
            let keyOffset = reader.offset
            let keyRange: Range<Int>
            let packed: UInt64?
            do throws(WireError) { (keyRange, packed) = try reader.readKey() } catch { throw error.inField("envelope key") }
            // Keys are matched as bytes, so a known key costs no String.
            guard let packed, let known = EnvelopeKey.Known(packed: packed) else {
                let key = String(decoding: reader.slice(keyRange), as: UTF8.self)
                do throws(WireError) { try reader.skipValue() } catch { throw error.inField(key) }
                continue
            }
            let key = known.rawValue
            guard seen.insert(known) else {
                throw WireError(.duplicateKey, offset: keyOffset, field: key, message: "envelope key \"\(key)\" appears twice (offset \(keyOffset))")
            }
            let valueOffset = reader.offset
            do throws(WireError) {
                switch known {
                case .version:
                    version = try reader.readInt()
                case .id:
                    let raw = try reader.readBinaryRange()
                    guard raw.count == 16 else {
                        throw WireError(.invalidField, offset: valueOffset, field: key, message: "id must be exactly 16 bytes, found \(raw.count) (offset \(valueOffset))")
                    }
                    id = EventID(high: reader.load(UInt64.self, at: raw.lowerBound), low: reader.load(UInt64.self, at: raw.lowerBound + 8))
                case .type:
                    let name: String
                    if let expected {
                        let range = try reader.readStringRange()
                        if reader.bytes(in: range, equal: expected.name) {
                            type = expected
                            break
                        }
                        name = String(decoding: reader.slice(range), as: UTF8.self)  // validated UTF-8
                    } else {
                        name = try reader.readString()
                    }
                    do {
                        type = try EventType(validating: name)
                    } catch {
                        throw WireError(.invalidField, offset: valueOffset, field: key, message: "\(error.description) (offset \(valueOffset))")
                    }
                case .timestamp:
                    timestamp = try reader.readInt()
                case .source:
                    source = try reader.readString()
                case .metadata:
                    let entries = try reader.readMapHeader()
                    metadata = Dictionary(minimumCapacity: entries)
                    for _ in 0..<entries {
                        let entryOffset = reader.offset
                        let name = try reader.readString()
                        let value = try reader.readString()
                        if metadata.updateValue(value, forKey: name) != nil {
                            throw WireError(.duplicateKey, offset: entryOffset, field: "md.\(name)", message: "metadata key \"\(name)\" appears twice (offset \(entryOffset))")
                        }
                    }
                case .scope:
                    if reuse && !recent.scope.isEmpty && reader.skip(stringArray: recent.scope) {
                        scope = recent.scope
                        break
                    }
                    let names = try reader.readArrayHeader()
                    scope.reserveCapacity(names)
                    for _ in 0..<names { scope.append(try reader.readString()) }
                    scopeIsNew = true
                case .originNode:
                    if reuse, let node = recent.originNode, reader.skip(string: node) {
                        originNode = node
                        break
                    }
                    originNode = try reader.readString()
                    originNodeIsNew = true
                case .originIncarnation:
                    originIncarnation = try reader.readUInt64()
                case .sequence:
                    sequence = try reader.readUInt64()
                case .hops:
                    let value = try reader.readUInt64()
                    guard value <= UInt64(Int32.max) else {
                        throw WireError(.integerOutOfRange, offset: valueOffset, field: key, message: "hop count \(value) is out of range (offset \(valueOffset))")
                    }
                    hops = Int(value)
                case .payload:
                    // Validated now, so decoding stays total; decoded when a subscriber asks.
                    let isCanonical = try reader.validateValue()
                    let range = valueOffset..<reader.offset
                    if !WirePayload.isNil(range, in: bytes) { (payloadRange, payloadIsCanonical) = (range, isCanonical) }
                }
            } catch {
                throw error.inField(key)
            }
        }
        if !reader.isAtEnd {
            throw WireError(.trailingBytes, offset: reader.offset, field: nil, message: "\(bytes.count - reader.offset) bytes after the envelope (offset \(reader.offset))")
        }

        guard let version else { throw missing(.version, at: envelopeOffset) }
        guard version == EventCodec.version else {
            throw WireError(.unsupportedVersion, offset: nil, field: EnvelopeKey.Known.version.rawValue, message: "format version \(version) is not supported (this reader knows version \(EventCodec.version))")
        }
        guard let id else { throw missing(.id, at: envelopeOffset) }
        guard let type else { throw missing(.type, at: envelopeOffset) }
        guard let timestamp else { throw missing(.timestamp, at: envelopeOffset) }
        if let frameType, frameType != type.name {
            throw WireError(.typeMismatch, offset: nil, field: EnvelopeKey.Known.type.rawValue, message: "frame 1 says \"\(frameType)\" but the envelope's type is \"\(type.name)\"")
        }
        var origin: EventOrigin?
        switch (originNode, originIncarnation) {
        case (let node?, let incarnation?):
            origin = EventOrigin(node: node, incarnation: incarnation, sequence: sequence, hops: hops)
        case (nil, nil):
            if sequence != nil || hops != 0 {
                throw WireError(.invalidField, offset: nil, field: sequence != nil ? EnvelopeKey.Known.sequence.rawValue : EnvelopeKey.Known.hops.rawValue, message: "\"seq\" and \"hop\" need an origin (\"on\" and \"oi\")")
            }
        default:
            throw WireError(.invalidField, offset: nil, field: originNode == nil ? EnvelopeKey.Known.originNode.rawValue : EnvelopeKey.Known.originIncarnation.rawValue, message: "an origin needs both \"on\" and \"oi\"")
        }
        if reuse {
            if scopeIsNew { recent.scope = scope }
            if originNodeIsNew { recent.originNode = originNode }
        }
        return Event(
            id: id, type: type,
            payload: payloadRange.map { .encoded(WirePayload(frame: bytes, range: $0, isCanonical: payloadIsCanonical)) } ?? .value(.null),
            timestamp: Timestamp(nanosecondsSinceEpoch: timestamp),
            source: source, metadata: metadata, scope: scope, origin: origin)
    }

    private func missing(_ key: EnvelopeKey.Known, at offset: Int) -> WireError {
        WireError(.missingField, offset: offset, field: key.rawValue, message: "the envelope has no \"\(key.rawValue)\" field")
    }
}

/// The envelope's keys (docs/WIRE.md).
enum EnvelopeKey {
    enum Known: String, CaseIterable {
        case version = "v", id, type = "t", timestamp = "ts", source = "src", metadata = "md", scope = "sc"
        case originNode = "on", originIncarnation = "oi", sequence = "seq", hops = "hop", payload = "p"

        /// The key whose UTF-8 bytes, packed with their length, are `packed`
        /// (``MessagePackReader/packedShortString(_:)``); `nil` for any other key.
        init?(packed: UInt64) {
            // Expression patterns on the constants of `packed`, which the compiler folds.
            switch packed {
            case Known.version.packed: self = .version
            case Known.id.packed: self = .id
            case Known.type.packed: self = .type
            case Known.timestamp.packed: self = .timestamp
            case Known.source.packed: self = .source
            case Known.metadata.packed: self = .metadata
            case Known.scope.packed: self = .scope
            case Known.originNode.packed: self = .originNode
            case Known.originIncarnation.packed: self = .originIncarnation
            case Known.sequence.packed: self = .sequence
            case Known.hops.packed: self = .hops
            case Known.payload.packed: self = .payload
            default: return nil
            }
        }

        /// The key's UTF-8 bytes packed with their length, as ``init(packed:)`` reads them and
        /// `MessagePackWriter.writePackedString(_:)` writes them.
        var packed: UInt64 {
            switch self {
            case .version: 0x7600_0000_0000_0001  // "v"
            case .id: 0x6964_0000_0000_0002  // "id"
            case .type: 0x7400_0000_0000_0001  // "t"
            case .timestamp: 0x7473_0000_0000_0002  // "ts"
            case .source: 0x7372_6300_0000_0003  // "src"
            case .metadata: 0x6d64_0000_0000_0002  // "md"
            case .scope: 0x7363_0000_0000_0002  // "sc"
            case .originNode: 0x6f6e_0000_0000_0002  // "on"
            case .originIncarnation: 0x6f69_0000_0000_0002  // "oi"
            case .sequence: 0x7365_7100_0000_0003  // "seq"
            case .hops: 0x686f_7000_0000_0003  // "hop"
            case .payload: 0x7000_0000_0000_0001  // "p"
            }
        }

        /// A distinct bit per key, for ``Seen``.
        var bit: UInt16 {
            switch self {
            case .version: 1 << 0
            case .id: 1 << 1
            case .type: 1 << 2
            case .timestamp: 1 << 3
            case .source: 1 << 4
            case .metadata: 1 << 5
            case .scope: 1 << 6
            case .originNode: 1 << 7
            case .originIncarnation: 1 << 8
            case .sequence: 1 << 9
            case .hops: 1 << 10
            case .payload: 1 << 11
            }
        }
    }

    /// Which known keys a decoder has seen.
    struct Seen {
        private var bits: UInt16 = 0

        /// Records `key`; returns `false` if it was already seen.
        mutating func insert(_ key: Known) -> Bool {
            defer { bits |= key.bit }
            return bits & key.bit == 0
        }
    }
}

extension WireError {
    /// The same error with `field` filled in, if it had none.
    func inField(_ name: String) -> WireError {
        guard field == nil else { return self }
        return WireError(code, offset: offset, field: name, message: message)
    }
}
