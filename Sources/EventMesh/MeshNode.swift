public import EventBus
public import ServiceLifecycle

/// A node of the mesh: its bus, the bridge that is the bus's parent, and their lifecycle.
///
/// ```swift
/// let node = try MeshNode(configuration: MeshConfiguration(nodeID: "agents", brokers: [broker]))
/// node.bus.subscribe("provider.>") { event in print(event) }     // local and remote events
/// try node.start()
/// await node.ready()
/// try node.publish(.agentStarted, data: ["agent": "planner"])
/// node.stop()
/// ```
///
/// As a swift-service-lifecycle `Service`, ``run()`` starts the node, waits for graceful
/// shutdown (or cancellation) and stops it; signal handling belongs to the executable's
/// `ServiceGroup`.
public final class MeshNode: Service, Sendable {
    /// The node's configuration.
    public let configuration: MeshConfiguration
    /// The node bus: publish and subscribe here; its parent is ``bridge``.
    public let bus: ScopedEventBus
    /// The bridge to the mesh.
    public let bridge: MeshBridge

    /// Makes a node; nothing connects until ``start()``.
    /// - Parameter configuration: the node's configuration.
    /// - Throws: ``MeshError`` if the configuration cannot work or sockets cannot be made.
    public init(configuration: MeshConfiguration) throws(MeshError) {
        do {
            _ = try EventType(validating: configuration.nodeID.replacingDots())
        } catch {
            throw MeshError(.invalidConfiguration, "node id \"\(configuration.nodeID)\" is not usable: \(error.description)")
        }
        self.configuration = configuration
        do {
            bridge = try MeshBridge(configuration: configuration)
        } catch {
            throw MeshError(.socket, "cannot make the node's bridge", cause: error)
        }
        bus = ScopedEventBus(
            scope: configuration.nodeID, parent: bridge, historyCapacity: configuration.historyCapacity,
            logger: configuration.logger)
    }

    /// Connects to the brokers.
    /// - Throws: ``MeshError`` if already started or a socket cannot connect.
    public func start() throws(MeshError) {
        try bridge.start(delivering: bus)
    }

    /// Waits until the node's subscriptions are live on every broker (see ``MeshBridge/ready()``).
    public func ready() async {
        await bridge.ready()
    }

    /// Publishes an event on the node bus: local subscribers first, then the mesh.
    /// - Parameters:
    ///   - type: what happened.
    ///   - data: the payload.
    ///   - source: who published it.
    ///   - metadata: string annotations.
    /// - Returns: the event's id.
    /// - Throws: ``MeshError`` with code `stopped` once the node has stopped, or `queueFull`
    ///   when the ``OverflowPolicy/block(timeoutMilliseconds:)`` timeout passes without room.
    @discardableResult
    public func publish(_ type: EventType, data: EventValue = nil, source: String = "", metadata: [String: String] = [:]) throws(MeshError) -> EventID {
        guard !bridge.isStopped else { throw MeshError(.stopped, "node \(configuration.nodeID) has stopped") }
        try bridge.reserveRoom()
        return bus.publish(type, data: data, source: source, metadata: metadata)
    }

    /// Publishes a typed payload on the node bus.
    /// - Parameters:
    ///   - payload: the payload; its type names the event type.
    ///   - source: who published it.
    ///   - metadata: string annotations.
    /// - Returns: the event's id.
    /// - Throws: ``MeshError`` with code `stopped` once the node has stopped, or `queueFull`
    ///   when the ``OverflowPolicy/block(timeoutMilliseconds:)`` timeout passes without room.
    @discardableResult
    public func publish<P: EventPayload>(_ payload: P, source: String = "", metadata: [String: String] = [:]) throws(MeshError) -> EventID {
        guard !bridge.isStopped else { throw MeshError(.stopped, "node \(configuration.nodeID) has stopped") }
        try bridge.reserveRoom()
        return bus.publish(payload, source: source, metadata: metadata)
    }

    /// Announces `_mesh.node.left`, flushes for at most the linger period and disconnects.
    public func stop() {
        bridge.stop()
    }

    /// Runs the node until graceful shutdown or cancellation, then stops it.
    /// - Throws: ``MeshError`` if the node cannot start.
    public func run() async throws {
        try start()
        // Returns when graceful shutdown is triggered or the task is cancelled.
        try? await gracefulShutdown()
        stop()
    }

    /// The bridge's figures and the history's size.
    public var stats: MeshNodeStats {
        MeshNodeStats(bridge: bridge.stats, historySize: bus.stats.historyCount)
    }
}

/// A node's figures, as `mesh stats` prints them.
public struct MeshNodeStats: Sendable, Codable, Hashable {
    /// The bridge's figures.
    public var bridge: MeshBridgeStats
    /// Events in the node's history now.
    public var historySize: Int
}

extension String {
    /// The id with dots and wildcards replaced, to validate it with the event-name rules
    /// (printable, no whitespace, at most 255 bytes).
    func replacingDots() -> String {
        String(map { $0 == "." || $0 == "*" || $0 == ">" ? "-" : $0 })
    }
}
