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
    /// Held weakly: the bus's registry (and in-flight deliveries) keep the subscriber alive, so
    /// once it is cancelled, its handler and what the handler captured are released.
    private weak let subscriber: Subscriber?

    init(subscriber: Subscriber, bus: EventBus) {
        self.id = subscriber.id
        self.pattern = subscriber.pattern
        self.subscriber = subscriber
        self.bus = bus
    }

    /// Ends the subscription. Idempotent and non-blocking.
    public func cancel() {
        subscriber?.deactivate()
        bus?.removeSubscriber(id: id)
    }

    /// Whether the subscription still receives events.
    public var isActive: Bool {
        (subscriber?.isActive ?? false) && bus != nil
    }

    public var description: String { "Subscription(\(id), \(pattern))" }

    public static func == (lhs: Subscription, rhs: Subscription) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// A bus's record of one subscription.
///
/// The handler is held only here and by in-flight deliveries; cancelling removes the record
/// from the bus, so the handler (and what it captured) is released once no delivery uses it.
final class Subscriber: Sendable {
    let id: UInt64
    let pattern: EventPattern
    private let handler: @Sendable (Event) throws -> Void
    /// For owner-bound subscriptions: the owner, held weakly.
    private weak let owner: (any AnyObject & Sendable)?
    private let isOwnerBound: Bool
    /// Called when the bus is deinitialised (async streams finish then).
    let onBusGone: (@Sendable () -> Void)?
    private let active = Atomic<Bool>(true)

    init(
        id: UInt64,
        pattern: EventPattern,
        owner: (any AnyObject & Sendable)?,
        onBusGone: (@Sendable () -> Void)? = nil,
        handler: @escaping @Sendable (Event) throws -> Void
    ) {
        self.id = id
        self.pattern = pattern
        self.owner = owner
        self.isOwnerBound = owner != nil
        self.onBusGone = onBusGone
        self.handler = handler
    }

    var isActive: Bool { active.load(ordering: .acquiring) }

    func deactivate() { active.store(false, ordering: .releasing) }

    /// Whether the owner this subscription was bound to has been deallocated.
    var ownerIsGone: Bool { isOwnerBound && owner == nil }

    func invoke(_ event: Event) throws {
        try handler(event)
    }
}
