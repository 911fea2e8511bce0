#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging

/// The two endpoints of a broker: where nodes publish (its XSUB side) and where they subscribe
/// (its XPUB side).
public struct BrokerAddress: Sendable, Hashable, CustomStringConvertible {
    /// Where nodes connect their outbound (PUB) socket.
    public var publishEndpoint: String
    /// Where nodes connect their inbound (SUB) socket.
    public var subscribeEndpoint: String

    /// Makes a broker address.
    /// - Parameters:
    ///   - publishEndpoint: the broker's XSUB endpoint.
    ///   - subscribeEndpoint: the broker's XPUB endpoint.
    public init(publishEndpoint: String, subscribeEndpoint: String) {
        self.publishEndpoint = publishEndpoint
        self.subscribeEndpoint = subscribeEndpoint
    }

    /// Parses `PUBLISH_ENDPOINT,SUBSCRIBE_ENDPOINT`, e.g.
    /// `tcp://127.0.0.1:5555,tcp://127.0.0.1:5556`.
    /// - Parameter text: the two endpoints separated by a comma.
    /// - Returns: the address, or `nil` if `text` is not two non-empty endpoints.
    public init?(_ text: String) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace() }
        guard parts.count == 2, parts.allSatisfy({ $0.contains("://") && !$0.hasSuffix("://") }) else { return nil }
        self.init(publishEndpoint: parts[0], subscribeEndpoint: parts[1])
    }

    /// `PUBLISH_ENDPOINT,SUBSCRIBE_ENDPOINT`, as ``init(_:)`` parses it.
    public var description: String { "\(publishEndpoint),\(subscribeEndpoint)" }
}

/// What a node does when a subscriber cannot keep up and its queue (the high-water mark) is full.
public enum OverflowPolicy: Sendable, Hashable {
    /// ZeroMQ's PUB behaviour: the slow subscriber misses events (and counts them lost, by
    /// their sequence numbers); every other subscriber still gets them, and publishing never
    /// waits. If the bridge's own outbox fills up, further events are dropped and counted as
    /// `queueDrops`.
    case dropForSlowSubscribers
    /// Nothing is dropped (the outbound socket is an XPUB with `ZMQ_XPUB_NODROP`): when a
    /// subscriber's queue is full, sending pauses for everyone, the outbox fills, and
    /// publishing waits up to the timeout for room; then ``MeshNode/publish(_:data:source:metadata:)``
    /// throws ``MeshError/Code/queueFull`` (an event published on the bus directly is dropped
    /// and counted as a queue drop).
    case block(timeoutMilliseconds: Int)
}

/// How a node joins the mesh.
public struct MeshConfiguration: Sendable {
    /// This node's id, carried in every event it sends and shown in stats and logs (default:
    /// the host name, or `node` if it has none). Give nodes distinct ids to tell them apart;
    /// two processes with the same id are still distinct origins, since each draws its own
    /// random incarnation (so a restarted node is a new origin too).
    public var nodeID: String
    /// The brokers to connect to; a node connects to all of them, and dedup hides the copies.
    public var brokers: [BrokerAddress]
    /// Where this node binds its outbound socket for peers to connect to (a peer mesh), e.g.
    /// `tcp://0.0.0.0:5600`; `nil` (the default) for none.
    public var bindEndpoint: String?
    /// The outbound endpoints of the peers whose events this node receives directly (each
    /// peer's ``bindEndpoint``); `ready` waits until this node's subscriptions are live on
    /// every one of them.
    public var peers: [String] = []
    /// The outbound socket's high-water mark, in messages per broker (default 10 000).
    public var sendHighWaterMark: Int = 10_000
    /// The inbound socket's high-water mark, in messages per broker (default 10 000).
    public var receiveHighWaterMark: Int = 10_000
    /// Whether the node receives every event, or (the default, `false`) only those matching
    /// the node bus's subscriptions: its inbound socket then subscribes to the patterns'
    /// prefixes, so unwanted events never cross its link. A history-only or relay node sets it.
    public var receiveAll: Bool = false
    /// How many recent events the node bus's history keeps (default 1000; 0 turns it off).
    public var historyCapacity: Int = 1000
    /// Whether duplicates are dropped (default `true`); off is for diagnosis only.
    public var dedupEnabled: Bool = true
    /// Memory bounds of dedup and loss accounting.
    public var dedupLimits = DedupWindow.Limits()
    /// Milliseconds between heartbeats (default 1000). It also sets how fast a dead
    /// connection is found: TCP keepalive probes a connection that has received nothing for
    /// three intervals (at least 1 s), once a second, and gives it up after 3 unanswered
    /// probes (see ``keepalive``): with the default, a silent peer is dropped after about 6 s.
    public var heartbeatIntervalMilliseconds: Int = 1000
    /// How long stopping waits to flush unsent events, in milliseconds (default 1000).
    public var lingerMilliseconds: Int = 1000
    /// The kernel socket buffer size, in bytes, of the node's TCP connections (send and
    /// receive); `nil` (the default) keeps the OS's, which grow to megabytes.
    public var socketBufferBytes: Int?
    /// The most events waiting for the I/O thread (default 100 000); what happens beyond it
    /// is the ``overflow`` policy's choice.
    public var outboxCapacity: Int = 100_000
    /// How many events one send pass of the I/O thread must find queued to batch the next
    /// (default 64; 0 or less turns batching off). Below it, each event queued while the I/O
    /// thread waits wakes it at once. At or above it, publishers stop waking the thread: it
    /// comes back after ``batchingIntervalMilliseconds`` and sends what collected meanwhile in
    /// one pass, and keeps doing so while each pass finds at least this many. Should its timer
    /// fire late (on a virtual machine whose virtual CPU the hypervisor paused, for instance),
    /// the publisher that finds 16 times this many events queued wakes it. Under load that
    /// trades up to one interval of latency for far fewer thread wakeups and context switches
    /// per event; at a steady rate below this many events per interval, batching ends at the
    /// first pass after a burst.
    public var batchingThreshold: Int = MeshConfiguration.defaultBatchingThreshold
    /// The default ``batchingThreshold``.
    public static let defaultBatchingThreshold = 64
    /// How long the I/O thread lets events collect while batching, in milliseconds (default 1,
    /// at least 1). See ``batchingThreshold``.
    public var batchingIntervalMilliseconds: Int = 1
    /// What happens when a subscriber's queue is full (default
    /// ``OverflowPolicy/dropForSlowSubscribers``).
    public var overflow = OverflowPolicy.dropForSlowSubscribers
    /// The largest frame accepted from the network and sent to it (default 1 MiB).
    public var maxFrameBytes: Int = 1 << 20
    /// Where the node answers `stats`, `health` and `history` requests (a REP socket, e.g.
    /// `tcp://127.0.0.1:*`); `nil` (the default) for none.
    public var controlEndpoint: String?
    /// Where the node logs.
    public var logger: Logger

    /// The TCP keepalive of the node's connections, from ``heartbeatIntervalMilliseconds``:
    /// probes start after `idle` seconds without anything received, come every `interval`
    /// seconds, and `count` unanswered ones drop the connection (libzmq then reconnects).
    public var keepalive: (idle: Int, interval: Int, count: Int) {
        (idle: max(1, (3 * heartbeatIntervalMilliseconds + 999) / 1000), interval: 1, count: 3)
    }

    /// Makes a configuration.
    /// - Parameters:
    ///   - nodeID: the node's id (default: ``MeshConfiguration/defaultNodeID``).
    ///   - brokers: the brokers to connect to.
    ///   - bindEndpoint: where to bind the outbound socket for peers (peer mesh).
    ///   - peers: the peers' outbound endpoints to receive from.
    ///   - logger: where the node logs.
    public init(
        nodeID: String = MeshConfiguration.defaultNodeID,
        brokers: [BrokerAddress] = [],
        bindEndpoint: String? = nil,
        peers: [String] = [],
        logger: Logger = Logger(label: "EventMesh")
    ) {
        self.nodeID = nodeID
        self.brokers = brokers
        self.bindEndpoint = bindEndpoint
        self.peers = peers
        self.logger = logger
    }

    /// The host name, or `node` if there is none. In a container scaled by Compose each replica
    /// has its own host name (its container id), so scaled nodes get distinct ids.
    public static var defaultNodeID: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "node" }
        let name = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "node" : name
    }
}

extension String {
    func trimmingWhitespace() -> String {
        String(self.drop(while: { $0.isWhitespace }).reversed().drop(while: { $0.isWhitespace }).reversed())
    }
}
