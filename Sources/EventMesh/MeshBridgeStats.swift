/// What a bridge has done: the figures `mesh stats` prints and tests read.
///
/// `delivered`, `duplicates`, `tooOld` and `lost` are over every origin, tracked or retired.
/// `lost` includes events still missing inside a dedup window (they stop counting as lost if
/// they arrive late), so at any quiet moment `delivered + lost` is what the origins published
/// of the types this node hears, counted from its first contact with each.
public struct MeshBridgeStats: Sendable, Codable, Hashable {
    /// Loss and dedup counts of one origin.
    public struct Origin: Sendable, Codable, Hashable {
        /// The origin's node id.
        public var node: String
        /// The origin's incarnation.
        public var incarnation: UInt64
        /// Its counts.
        public var counts: DeliveryCounts
    }

    /// This node's id.
    public var nodeID = ""
    /// This bridge's incarnation.
    public var incarnation: UInt64 = 0
    /// Whether the node's subscriptions are live on every broker.
    public var ready = false
    /// Events handed to the bridge to send.
    public var published: UInt64 = 0
    /// Events written to the outbound socket, counted once per batch after it is written: a
    /// receiver may already have an event that is not counted here yet.
    public var sent: UInt64 = 0
    /// Events re-published for a relay (``MeshBridge/forward(_:hopLimit:)``).
    public var forwarded: UInt64 = 0
    /// Events a relay did not re-publish because they had travelled the hop limit.
    public var hopLimitDrops: UInt64 = 0
    /// Events dropped because the outbox was full.
    public var queueDrops: UInt64 = 0
    /// Publishes that failed with `queueFull` (the block policy).
    public var publishTimeouts: UInt64 = 0
    /// Times sending paused because a subscriber's queue was full (the block policy).
    public var sendPauses: UInt64 = 0
    /// Send passes that found at least ``MeshConfiguration/batchingThreshold`` events, after
    /// which the I/O thread waited the batching interval instead of being woken per event.
    public var batchedSends: UInt64 = 0
    /// Times a publisher woke the batching I/O thread because the outbox held 16 ×
    /// ``MeshConfiguration/batchingThreshold`` events before the batching interval brought the
    /// thread back: at very high rates, or when its timer fired late.
    public var batchWakeups: UInt64 = 0
    /// Events that could not be encoded (e.g. larger than the frame limit).
    public var encodeErrors: UInt64 = 0
    /// Events handed to the bridge after it stopped, dropped.
    public var droppedAfterStop: UInt64 = 0
    /// Events waiting for the I/O thread now.
    public var outboxSize = 0
    /// Event messages received (before dedup; malformed ones included).
    public var received: UInt64 = 0
    /// Events that matched a subscribed prefix but none of the node's patterns, dropped.
    public var filtered: UInt64 = 0
    /// The prefixes the node's inbound socket subscribes to now (`""` is everything).
    public var subscribedPrefixes: [String] = []
    /// This node's own events echoed back by a broker, dropped.
    public var ownEchoes: UInt64 = 0
    /// Events delivered to the node bus.
    public var delivered: UInt64 = 0
    /// Copies dropped as duplicates (with dedup off: delivered, and still counted here).
    public var duplicates: UInt64 = 0
    /// Events older than the dedup window, dropped.
    public var tooOld: UInt64 = 0
    /// Events never received (see the type's description).
    public var lost: UInt64 = 0
    /// Malformed messages by error class (a ``EventWire/WireError/Code`` name, or `frameCount`).
    public var malformed: [String: UInt64] = [:]
    /// Mesh control messages received (heartbeats, probes, node-left).
    public var controlReceived: UInt64 = 0
    /// Heartbeats sent.
    public var heartbeatsSent: UInt64 = 0
    /// Per-origin counts of the origins tracked now.
    public var origins: [Origin] = []
    /// Origins tracked by dedup now.
    public var trackedOrigins = 0
    /// (origin, type) sequence windows tracked now.
    public var trackedWindows = 0
    /// Ids of unsequenced events remembered now.
    public var trackedUnsequencedIDs = 0
    /// Origins forgotten because the origin cap was reached.
    public var originsEvicted: UInt64 = 0
    /// Origins forgotten after being idle.
    public var originsExpired: UInt64 = 0
    /// Connections up now, as the socket monitors report them (outbound + inbound).
    public var connections = 0

    /// Empty stats.
    public init() {}
}
