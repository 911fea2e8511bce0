public import Logging

/// A bus with a scope name and an optional parent: events published here are delivered here
/// first, then handed — the same event, with the same id — to the parent, which delivers them
/// and hands them up again, to any depth. Events published in a parent do not flow down.
///
/// The scope path (the names from the outermost scoped bus down to this one) is recorded on
/// each event published here, in ``Event/scope``.
///
/// ```swift
/// let app = EventBus()
/// let agents = ScopedEventBus(scope: "agents", parent: app)
/// let agent1 = agents.child("agent-1")
/// agent1.publish(.agentStarted)   // delivered on agent1, agents, then app; scope ["agents", "agent-1"]
/// ```
///
/// A node of the mesh is a `ScopedEventBus` whose parent is the network bridge.
public final class ScopedEventBus: EventBus, @unchecked Sendable {
    // @unchecked: adds only immutable state to EventBus (see there).

    /// This bus's scope name.
    public let scope: String

    /// Makes a scoped bus.
    /// - Parameters:
    ///   - scope: the scope's name (appended to the parent's scope path, if the parent is scoped).
    ///   - parent: where events go after local delivery: another bus, a bridge, or `nil`.
    ///   - historyCapacity: how many recent events history keeps (default 1000; 0 disables it).
    ///   - logger: the bus's logger.
    public init(
        scope: String,
        parent: (any EventSink)? = nil,
        historyCapacity: Int = 1000,
        logger: Logger = Logger(label: "EventBus")
    ) {
        self.scope = scope
        let parentPath = (parent as? EventBus)?.scopePath ?? []
        super.init(parent: parent, scopePath: parentPath + [scope], historyCapacity: historyCapacity, logger: logger)
    }

    /// The scope path recorded on events published here, outermost first.
    public var path: [String] { scopePath }

    /// Makes a child bus whose parent is this bus.
    /// - Parameters:
    ///   - scope: the child's scope name.
    ///   - historyCapacity: the child's history capacity.
    /// - Returns: the child.
    public func child(_ scope: String, historyCapacity: Int = 1000) -> ScopedEventBus {
        ScopedEventBus(scope: scope, parent: self, historyCapacity: historyCapacity, logger: logger)
    }
}

extension EventBus {
    /// Makes a child bus whose parent is this bus.
    /// - Parameters:
    ///   - scope: the child's scope name.
    ///   - historyCapacity: the child's history capacity.
    /// - Returns: the child.
    public func scoped(_ scope: String, historyCapacity: Int = 1000) -> ScopedEventBus {
        ScopedEventBus(scope: scope, parent: self, historyCapacity: historyCapacity, logger: logger)
    }
}
