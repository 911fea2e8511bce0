import Synchronization

/// The token returned by `subscribe`: ``cancel()`` ends the subscription.
///
/// Discarding the token does **not** cancel: a subscription lives until ``cancel()`` is called,
/// until its owner is deallocated (for subscriptions bound to an owner), or until the bus goes
/// away. `cancel()` is idempotent and never blocks, and no event whose `publish` begins after
/// `cancel()` returned reaches the handler. An event already being delivered on another thread
/// when `cancel()` is called may still reach it.
public final class Subscription: Sendable, Hashable, CustomStringConvertible {
    /// The subscription's id, unique within its bus (it appears in `handler.error` reports).
    public let id: UInt64
    /// The pattern the subscription matches.
    public let pattern: EventPattern
    private weak let bus: EventBus?
    /// Shared with the bus's record. The token holds no reference to the record itself, so a
    /// cancelled record (with its handler and what the handler captured) is released as soon
    /// as no delivery uses it.
    private let liveness: SubscriberLiveness

    init(subscriber: Subscriber, bus: EventBus) {
        self.id = subscriber.id
        self.pattern = subscriber.pattern
        self.liveness = subscriber.liveness
        self.bus = bus
    }

    /// Ends the subscription. Idempotent and non-blocking.
    public func cancel() {
        liveness.deactivate()
        bus?.removeSubscriber(id: id)
    }

    /// Whether the subscription still receives events.
    public var isActive: Bool {
        liveness.isActive && !liveness.ownerIsGone && bus != nil
    }

    public var description: String { "Subscription(\(id), \(pattern))" }

    public static func == (lhs: Subscription, rhs: Subscription) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// Whether a subscription is still live: shared by its token and the bus's record.
final class SubscriberLiveness: Sendable {
    private let active = Atomic<Bool>(true)
    /// For owner-bound subscriptions: the owner, held weakly.
    private weak let owner: (any AnyObject & Sendable)?
    private let isOwnerBound: Bool

    init(owner: (any AnyObject & Sendable)?) {
        self.owner = owner
        self.isOwnerBound = owner != nil
    }

    var isActive: Bool { active.load(ordering: .acquiring) }

    func deactivate() { active.store(false, ordering: .releasing) }

    /// Whether the owner this subscription was bound to has been deallocated.
    var ownerIsGone: Bool { isOwnerBound && owner == nil }
}

/// A bus's record of one subscription.
///
/// The handler is held only here and by in-flight deliveries; cancelling removes the record
/// from the bus, so the handler (and what it captured) is released once no delivery uses it.
/// Nothing holds a weak reference to a record, so retaining one stays on the runtime's fast path.
final class Subscriber: Sendable {
    let id: UInt64
    let pattern: EventPattern
    let liveness: SubscriberLiveness
    private let handler: @Sendable (Event) throws -> Void
    /// Called when the bus is deinitialised (async streams finish then).
    let onBusGone: (@Sendable () -> Void)?

    init(
        id: UInt64,
        pattern: EventPattern,
        owner: (any AnyObject & Sendable)?,
        onBusGone: (@Sendable () -> Void)? = nil,
        handler: @escaping @Sendable (Event) throws -> Void
    ) {
        self.id = id
        self.pattern = pattern
        self.liveness = SubscriberLiveness(owner: owner)
        self.onBusGone = onBusGone
        self.handler = handler
    }

    var isActive: Bool { liveness.isActive }

    func deactivate() { liveness.deactivate() }

    var ownerIsGone: Bool { liveness.ownerIsGone }

    func invoke(_ event: Event) throws {
        try handler(event)
    }
}
