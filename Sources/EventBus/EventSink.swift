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

    /// Tells the sink that the set of patterns subscribed on `bus`, a bus whose parent is this
    /// sink, has changed (see ``EventBus/subscribedPatterns``). Called on the thread that
    /// subscribed or cancelled, outside the bus's lock. A network bridge uses it to receive only
    /// the events its node listens to. The default does nothing.
    /// - Parameter bus: the child bus whose subscriptions changed.
    func subscriptionsChanged(on bus: EventBus)
}

extension EventSink {
    /// Does nothing: most sinks (a parent bus) receive whatever their children hand up.
    public func subscriptionsChanged(on bus: EventBus) {}
}
