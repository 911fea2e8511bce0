/// Where an event entered the mesh: the publishing node's identity and its place in that node's
/// stream of events. The local bus leaves it `nil`; the mesh fills it in when an event leaves a node.
public struct EventOrigin: Hashable, Sendable {
    /// The publishing node's id (by default derived from its host name).
    public var node: String
    /// A random number drawn when the node's process started, so a restarted node with the same
    /// id is a new origin.
    public var incarnation: UInt64
    /// The event's sequence number per (origin, event type), if the publisher numbers its events.
    public var sequence: UInt64?
    /// How many relays have re-published the event.
    public var hops: Int

    /// Makes an origin.
    /// - Parameters:
    ///   - node: the node id.
    ///   - incarnation: the node process's random incarnation number.
    ///   - sequence: the per-(origin, type) sequence number, if any.
    ///   - hops: the relay hop count.
    public init(node: String, incarnation: UInt64, sequence: UInt64? = nil, hops: Int = 0) {
        self.node = node
        self.incarnation = incarnation
        self.sequence = sequence
        self.hops = hops
    }
}
