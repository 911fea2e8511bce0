public import EventWire

/// The mesh's own traffic, sent with a frame 1 in the reserved `_mesh.` namespace (docs/WIRE.md,
/// "Mesh control messages"); never delivered to user subscribers.
///
/// Frame 2 is a MessagePack map with the sender's origin (`on`, `oi`) and, by kind, its latest
/// sequence numbers per event type (`seq`, heartbeat) or a nonce (`n`, probe).
public enum MeshControlMessage: Sendable, Equatable {
    /// "I am alive, and these are my latest sequence numbers": lets receivers count loss at the
    /// tail of a burst. Frame 1 `_mesh.hb`.
    case heartbeat(OriginID, latest: [String: UInt64])
    /// A readiness probe: the sender waits for its own probe to come back through every broker.
    /// Frame 1 `_mesh.probe`.
    case probe(OriginID, nonce: UInt64)
    /// A node announces that it is stopping. Frame 1 `_mesh.node.left`.
    case nodeLeft(OriginID)
    /// A peer's answer to a subscription it received: the subscription is live at the sender.
    /// Sent with frame 1 `PREFIX NUL _mesh.hello` (see ``readinessFrame(prefix:kind:)``).
    case hello(OriginID)

    /// The prefix of every control frame 1.
    public static let prefix = "_mesh."
    static let heartbeatFrame = "_mesh.hb"
    static let probeFrame = "_mesh.probe"
    static let nodeLeftFrame = "_mesh.node.left"
    static let helloFrame = "_mesh.hello"

    /// The sender.
    public var origin: OriginID {
        switch self {
        case .heartbeat(let origin, _), .probe(let origin, _), .nodeLeft(let origin), .hello(let origin): origin
        }
    }

    /// Frame 1 of the message.
    public var frameType: String {
        switch self {
        case .heartbeat: Self.heartbeatFrame
        case .probe: Self.probeFrame
        case .nodeLeft: Self.nodeLeftFrame
        case .hello: Self.helloFrame
        }
    }

    /// Frame 1 of a readiness message for one subscribed prefix: the prefix, a NUL byte (which
    /// no event type contains), then the kind (`_mesh.probe` or `_mesh.hello`). It matches the
    /// prefix's subscription and nothing else of the node's, so its arrival proves that very
    /// subscription live.
    static func readinessFrame(prefix: String, kind: String) -> [UInt8] {
        Array(prefix.utf8) + [0] + Array(kind.utf8)
    }

    /// Splits a readiness frame 1 into its prefix and kind; `nil` if it has no NUL byte.
    static func splitReadinessFrame(_ frame: [UInt8]) -> (prefix: String, kind: String)? {
        guard let separator = frame.firstIndex(of: 0) else { return nil }
        return (String(decoding: frame[..<separator], as: UTF8.self), String(decoding: frame[(separator + 1)...], as: UTF8.self))
    }

    /// Frame 2 of the message.
    public func encode() -> [UInt8] {
        var writer = MessagePackWriter(reservingCapacity: 64)
        switch self {
        case .heartbeat(let origin, let latest):
            writer.writeMapHeader(3)
            Self.writeOrigin(origin, to: &writer)
            writer.writeString("seq")
            writer.writeMapHeader(latest.count)
            for (type, sequence) in latest.sorted(by: { $0.key < $1.key }) {
                writer.writeString(type)
                writer.writeUInt(sequence)
            }
        case .probe(let origin, let nonce):
            writer.writeMapHeader(3)
            Self.writeOrigin(origin, to: &writer)
            writer.writeString("n")
            writer.writeUInt(nonce)
        case .nodeLeft(let origin), .hello(let origin):
            writer.writeMapHeader(2)
            Self.writeOrigin(origin, to: &writer)
        }
        return writer.takeBytes()
    }

    private static func writeOrigin(_ origin: OriginID, to writer: inout MessagePackWriter) {
        writer.writeString("on")
        writer.writeString(origin.node)
        writer.writeString("oi")
        writer.writeUInt(origin.incarnation)
    }

    /// Decodes a control message.
    /// - Parameters:
    ///   - frameType: frame 1 (it starts with `_mesh.`).
    ///   - body: frame 2.
    ///   - limits: the decoding limits.
    /// - Returns: the message, or `nil` for a control kind this version does not know (skipped,
    ///   so that newer nodes can add kinds).
    /// - Throws: ``WireError`` if frame 2 is malformed.
    public static func decode(frameType: String, body: [UInt8], limits: WireLimits = .default) throws(WireError) -> MeshControlMessage? {
        guard [heartbeatFrame, probeFrame, nodeLeftFrame, helloFrame].contains(frameType) else { return nil }
        try MessagePackReader.checkFrameSize(body.count, limits: limits)
        var reader = MessagePackReader(bytes: body, limits: limits)
        var node: String?
        var incarnation: UInt64?
        var latest: [String: UInt64] = [:]
        var nonce: UInt64?
        let count = try reader.readMapHeader()
        for _ in 0..<count {
            let key = try reader.readString()
            switch key {
            case "on": node = try reader.readString()
            case "oi": incarnation = try reader.readUInt64()
            case "n": nonce = try reader.readUInt64()
            case "seq":
                let entries = try reader.readMapHeader()
                for _ in 0..<entries {
                    let type = try reader.readString()
                    latest[type] = try reader.readUInt64()
                }
            default: try reader.skipValue()
            }
        }
        if !reader.isAtEnd {
            throw WireError(.trailingBytes, offset: reader.offset, field: nil, message: "bytes after the \(frameType) message")
        }
        guard let node, let incarnation else {
            throw WireError(.missingField, offset: 0, field: node == nil ? "on" : "oi", message: "a \(frameType) message needs \"on\" and \"oi\"")
        }
        let origin = OriginID(node: node, incarnation: incarnation)
        switch frameType {
        case heartbeatFrame: return .heartbeat(origin, latest: latest)
        case probeFrame:
            guard let nonce else { throw WireError(.missingField, offset: 0, field: "n", message: "a probe needs \"n\"") }
            return .probe(origin, nonce: nonce)
        case helloFrame: return .hello(origin)
        default: return .nodeLeft(origin)
        }
    }
}
