/// Where a bus hands the events published on it (and on its children) once they have been
/// delivered locally: a parent bus, or a network bridge.
///
/// `accept(_:)` is called on the publishing thread, after the child's own subscribers have run,
/// and must not block: a bridge queues the event for its I/O thread. The event keeps its id.
/// Local events (``Event/isLocal``) are never handed to a sink.
public protocol EventSink: AnyObject, Sendable {
    /// Takes an event from a child bus.
    /// - Parameter event: the event, with the id, timestamp and scope path it was published with.
    func accept(_ event: Event)
}
