import EventBus
public import ServiceLifecycle

/// Joins several networks (each a set of brokers or peers) by re-publishing what arrives on one
/// onto all the others — never back onto the network it came from — with the event's id,
/// origin and sequence number kept and its hop count raised by one.
///
/// Rings terminate: the relay re-publishes each event only the first time it sees it, on
/// whichever network (its own dedup, across networks), and nodes drop the copies that reach
/// them on several paths. An event that has travelled ``hopLimit`` hops is not re-published
/// (counted in each bridge's ``MeshBridgeStats/hopLimitDrops``).
///
/// ```swift
/// let relay = try MeshRelay(networks: [
///     MeshConfiguration(nodeID: "relay-ab", brokers: [brokerA]),
///     MeshConfiguration(nodeID: "relay-ab", brokers: [brokerB]),
/// ])
/// try relay.start()
/// await relay.ready()
/// ```
public final class MeshRelay: Service, Sendable {
    /// One node per network; each receives everything (``MeshConfiguration/receiveAll``).
    public let nodes: [MeshNode]
    /// The most hops an event may travel (default 8).
    public let hopLimit: Int
    private let seen: LockedValueBox<DedupWindow>
    private let counts = LockedValueBox<RelayStats>(RelayStats())

    /// What a relay has done.
    public struct RelayStats: Sendable, Codable, Hashable {
        /// Events re-published, counted once per event (whatever the number of networks).
        public var relayed: UInt64 = 0
        /// Events seen again on another network (or echoed back), not re-published.
        public var alreadyRelayed: UInt64 = 0
        /// Events without an origin, which a relay cannot deduplicate across networks: not relayed.
        public var unrelayable: UInt64 = 0
    }

    /// Makes a relay; nothing connects until ``start()``.
    /// - Parameters:
    ///   - networks: one configuration per network (at least two); `receiveAll` is set on each.
    ///   - hopLimit: the most hops an event may travel (default 8).
    /// - Throws: ``MeshError`` if fewer than two networks are given or a node cannot be made.
    public init(networks: [MeshConfiguration], hopLimit: Int = 8) throws(MeshError) {
        guard networks.count >= 2 else {
            throw MeshError(.invalidConfiguration, "a relay joins at least two networks, \(networks.count) given")
        }
        guard hopLimit >= 1 else { throw MeshError(.invalidConfiguration, "the hop limit must be at least 1") }
        var nodes: [MeshNode] = []
        for var configuration in networks {
            configuration.receiveAll = true
            nodes.append(try MeshNode(configuration: configuration))
        }
        self.nodes = nodes
        self.hopLimit = hopLimit
        self.seen = LockedValueBox(DedupWindow())
        for (index, node) in nodes.enumerated() {
            node.bus.subscribe(EventPattern.all) { [weak self] event in
                self?.relay(event, from: index)
            }
        }
    }

    private func relay(_ event: Event, from network: Int) {
        guard let origin = event.origin else {
            counts.withLockedValue { $0.unrelayable += 1 }
            return
        }
        let now = monotonicNanoseconds()
        let verdict = seen.withLockedValue {
            $0.admit(id: event.id, type: event.type.name, origin: OriginID(node: origin.node, incarnation: origin.incarnation),
                     sequence: origin.sequence, now: now)
        }
        guard verdict == .deliver else {
            counts.withLockedValue { $0.alreadyRelayed += 1 }
            return
        }
        counts.withLockedValue { $0.relayed += 1 }
        for (index, node) in nodes.enumerated() where index != network {
            node.bridge.forward(event, hopLimit: hopLimit)
        }
    }

    /// Connects every network.
    /// - Throws: ``MeshError`` if a node cannot start.
    public func start() throws(MeshError) {
        for node in nodes { try node.start() }
    }

    /// Waits until every network's node is ready.
    public func ready() async {
        for node in nodes { await node.ready() }
    }

    /// Stops every network's node.
    public func stop() {
        for node in nodes { node.stop() }
    }

    /// What the relay has done.
    public var stats: RelayStats { counts.withLockedValue { $0 } }

    /// Runs the relay until graceful shutdown or cancellation, then stops it.
    /// - Throws: ``MeshError`` if a node cannot start.
    public func run() async throws {
        try start()
        try? await gracefulShutdown()
        stop()
    }
}
