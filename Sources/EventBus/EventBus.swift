public import Logging
import Synchronization

/// An in-process publish/subscribe event bus.
///
/// ## Delivery contract
/// - Handlers run synchronously on the publishing thread, in subscription order.
/// - An event published from inside a handler (on any bus) is delivered after the current event
///   has reached all its subscribers: each thread keeps a queue, so every subscriber sees the
///   events published from one thread in one order, and the stack depth stays bounded however
///   deeply handlers publish. `publish` from inside a handler therefore returns before the event
///   is delivered. Events published concurrently from different threads are delivered
///   concurrently, each on its own thread.
/// - Every event whose `publish` begins after `subscribe` returned, and ends before `cancel()`
///   is called, reaches the handler exactly once. No event whose `publish` ended before
///   `subscribe` was called, or began after `cancel()` returned, reaches it.
/// - A handler that throws never stops delivery to the others: the bus publishes a local
///   `handler.error` event (see ``EventType/handlerError``). An error thrown while handling a
///   `handler.error` report is logged, never re-published.
/// - Pipeline per event: middleware, then history, then subscribers, then the parent (if any and
///   the event is not local).
///
/// ## Thread safety
/// Every method may be called from any thread at any time. The bus's state sits behind one
/// small lock that is never held while user code (handlers, middleware) runs.
///
/// ```swift
/// let bus = EventBus()
/// let subscription = bus.subscribe("provider.*") { event in
///     print(event.type, event.data["provider"] ?? "?")
/// }
/// bus.publish(.providerConnected, data: ["provider": "anthropic"])
/// subscription.cancel()
/// ```
public class EventBus: EventSink, @unchecked Sendable {
    // @unchecked: mutable state lives in `state`, touched only under `lock`; the rest is
    // immutable or atomic. (Not final so that ScopedEventBus can add a scope and a parent.)

    /// The bus's logger (errors inside `handler.error` handlers are logged here).
    public let logger: Logger
    /// The parent that events go to after local delivery, if any.
    let parent: (any EventSink)?
    /// The scope path recorded on events published here (outermost first).
    let scopePath: [String]

    private let lock = Lock()
    /// Guarded by `lock`, which already makes every access exclusive; the unchecked attribute
    /// drops the redundant dynamic exclusivity check from the publish path.
    @exclusivity(unchecked) private var state: State
    private let lastSubscriberID = Atomic<UInt64>(0)
    private let middlewareCount = Atomic<Int>(0)
    /// Handler calls counted at dispatch but skipped (cancelled meanwhile, owner gone, …).
    private let skippedDeliveries = Atomic<Int>(0)
    private let handlerErrorCount = Atomic<Int>(0)

    /// Makes a root bus.
    /// - Parameters:
    ///   - historyCapacity: how many recent events history keeps (default 1000; 0 disables it).
    ///   - logger: where the bus logs what it cannot report as an event.
    public convenience init(historyCapacity: Int = 1000, logger: Logger = Logger(label: "EventBus")) {
        self.init(parent: nil, scopePath: [], historyCapacity: historyCapacity, logger: logger)
    }

    init(parent: (any EventSink)?, scopePath: [String], historyCapacity: Int, logger: Logger) {
        precondition(historyCapacity >= 0, "historyCapacity must not be negative")
        self.parent = parent
        self.scopePath = scopePath
        self.logger = logger
        self.state = State(historyCapacity: historyCapacity)
    }

    deinit {
        for subscriber in state.subscribers {
            subscriber.deactivate()
            subscriber.onBusGone?()
        }
    }

    // MARK: Publishing

    /// Publishes an event with a dynamic payload.
    /// - Parameters:
    ///   - type: what happened.
    ///   - data: the payload (`nil` for none), e.g. `["stream_id": "s1"]`.
    ///   - source: who publishes (free text).
    ///   - metadata: string annotations.
    /// - Returns: the new event's id.
    @discardableResult
    public func publish(
        _ type: EventType,
        data: EventValue = nil,
        source: String = "",
        metadata: [String: String] = [:]
    ) -> EventID {
        ThreadDispatch.withCurrent { thread in
            let event = Event(
                type: type, payload: .value(data), source: source, metadata: metadata, isLocal: false, scope: scopePath,
                reusing: thread.takeSpare())
            let id = event.id
            deliver(event, kind: .published, on: thread)
            return id
        }
    }

    /// Publishes an event with a typed payload; its type is `P.eventType`.
    /// - Parameters:
    ///   - payload: the payload.
    ///   - source: who publishes.
    ///   - metadata: string annotations.
    /// - Returns: the new event's id.
    @discardableResult
    public func publish<P: EventPayload>(_ payload: P, source: String = "", metadata: [String: String] = [:]) -> EventID {
        ThreadDispatch.withCurrent { thread in
            let event = Event(
                type: P.eventType, payload: .typed(payload), source: source, metadata: metadata, isLocal: false,
                scope: scopePath, reusing: thread.takeSpare())
            let id = event.id
            deliver(event, kind: .published, on: thread)
            return id
        }
    }

    /// Publishes an event built by the caller, keeping its id and timestamp.
    ///
    /// The bus records its scope path on the event unless the event already has one.
    /// - Parameter event: the event.
    /// - Returns: the event's id.
    @discardableResult
    public func publish(_ event: Event) -> EventID {
        var event = event
        if event.scope.isEmpty && !scopePath.isEmpty { event.scope = scopePath }
        deliver(event, kind: .published)
        return event.id
    }

    /// Delivers an event that arrived from elsewhere (another process or machine) to this bus's
    /// middleware, history and subscribers, without handing it to the parent and without changing
    /// its id, timestamp, scope or origin.
    /// - Parameter event: the event as received.
    public func deliverRemote(_ event: Event) {
        deliver(event, kind: .remote)
    }

    /// Takes an event handed up by a child bus: delivers it here and hands it to this bus's parent.
    /// - Parameter event: the child's event.
    public func accept(_ event: Event) {
        deliver(event, kind: .fromChild)
    }

    // MARK: Delivery

    /// Delivers now, or queues behind the event this thread is already delivering.
    final func deliver(_ event: Event, kind: DeliveryKind) {
        ThreadDispatch.withCurrent { thread in deliver(event, kind: kind, on: thread) }
    }

    /// ``deliver(_:kind:)`` with the calling thread's delivery state at hand.
    private func deliver(_ event: consuming Event, kind: DeliveryKind, on thread: ThreadDispatch) {
        if thread.isDelivering {
            thread.queue.append(.init(
                bus: self, event: event, kind: kind,
                subscriberLimit: lastSubscriberID.load(ordering: .acquiring)))
            return
        }
        thread.isDelivering = true
        process(event, kind: kind, subscriberLimit: .max, on: thread)
        if !thread.queue.isEmpty {
            var index = 0
            while index < thread.queue.count {
                let next = thread.queue[index]
                index += 1
                next.bus.process(next.event, kind: next.kind, subscriberLimit: next.subscriberLimit, on: thread)
            }
            thread.queue.removeAll(keepingCapacity: true)
        }
        thread.isDelivering = false
    }

    private func process(_ event: consuming Event, kind: DeliveryKind, subscriberLimit: UInt64, on thread: ThreadDispatch) {
        if middlewareCount.load(ordering: .relaxed) > 0 {
            guard let passed = runMiddleware(event, kind: kind) else { return }
            dispatch(passed, kind: kind, subscriberLimit: subscriberLimit, on: thread)
        } else {
            dispatch(event, kind: kind, subscriberLimit: subscriberLimit, on: thread)
        }
    }

    /// History, subscribers, parent: the pipeline after middleware.
    private func dispatch(_ event: consuming Event, kind: DeliveryKind, subscriberLimit: UInt64, on thread: ThreadDispatch) {
        let (subscribers, fellOut) = lock.withLock {
            state.published += 1
            let evicted = state.history.append(event)
            let subscribers = state.subscribers(for: event.type)
            state.delivered &+= subscribers.count
            return (subscribers, evicted)
        }
        // The event that fell out of history is released here, outside the lock; if nothing
        // else holds it, its object is kept for this thread's next new event.
        var evicted = consume fellOut
        thread.recycle(&evicted)
        // `subscribers` keeps every record alive for the loop, so each one is used through an
        // unretained reference (no reference counting per subscriber per event).
        subscribers.withUnsafeBufferPointer { records in
            for index in records.indices {
                Unmanaged.passUnretained(records[index])._withUnsafeGuaranteedRef { subscriber in
                    deliver(event, to: subscriber, kind: kind, subscriberLimit: subscriberLimit)
                }
            }
        }
        if kind == .published || kind == .fromChild, parent != nil, !event.isLocal {
            parent?.accept(event)
        }
        // Without history (or while it is not full) the event may have no other holder now.
        var delivered: Event? = consume event
        thread.recycle(&delivered)
    }

    private func deliver(_ event: Event, to subscriber: Subscriber, kind: DeliveryKind, subscriberLimit: UInt64) {
        guard subscriber.id <= subscriberLimit, subscriber.isActive else {
            skippedDeliveries.add(1, ordering: .relaxed)
            return
        }
        if subscriber.ownerIsGone {
            skippedDeliveries.add(1, ordering: .relaxed)
            subscriber.deactivate()
            removeSubscriber(id: subscriber.id)
            return
        }
        do {
            try subscriber.invoke(event)
        } catch {
            report(error, event: event, kind: kind, culprit: ("subscription", .int(Int64(subscriber.id))))
        }
    }

    /// What a run through the middleware chain ended with.
    private struct MiddlewareOutcome {
        var event: Event?
        var failure: (name: String, error: any Error)?
    }

    private func runMiddleware(_ event: Event, kind: DeliveryKind) -> Event? {
        let chain = lock.withLock { state.middleware }
        var outcome = MiddlewareOutcome()
        // The outcome is threaded through as `inout` rather than captured, so that no heap box
        // is allocated per event.
        func step(_ index: Int, _ event: Event, _ outcome: inout MiddlewareOutcome) {
            guard index < chain.count else {
                if outcome.event == nil { outcome.event = event }
                return
            }
            let middleware = chain[index].middleware
            do {
                try middleware.handle(event) { step(index + 1, $0, &outcome) }
            } catch {
                if outcome.failure == nil { outcome.failure = (middleware.name, error) }
            }
        }
        step(0, event, &outcome)
        if let failure = outcome.failure {
            lock.withLock { state.dropped += 1 }
            report(failure.error, event: event, kind: kind, culprit: ("middleware", .string(failure.name)))
            return nil
        }
        if outcome.event == nil { lock.withLock { state.dropped += 1 } }
        return outcome.event
    }

    /// Reports a handler's or middleware's error as a local `handler.error` event, or logs it when
    /// the failing event was itself such a report.
    private func report(_ error: any Error, event: Event, kind: DeliveryKind, culprit: (key: String, value: EventValue)) {
        handlerErrorCount.add(1, ordering: .relaxed)
        if kind == .errorReport {
            logger.error("error while handling a handler.error report", metadata: [
                "event_id": "\(event.id)", culprit.key: "\(culprit.value)", "error": "\(error)",
            ])
            return
        }
        logger.debug("handler error reported", metadata: [
            "event_id": "\(event.id)", "event_type": "\(event.type)", culprit.key: "\(culprit.value)", "error": "\(error)",
        ])
        let data: EventValue = .map([
            "event_id": .string(event.id.description),
            "event_type": .string(event.type.name),
            culprit.key: culprit.value,
            "error": .string(String(describing: error)),
        ])
        let reportEvent = Event(type: .handlerError, payload: .value(data), source: "EventBus", metadata: [:], isLocal: true, scope: scopePath)
        deliver(reportEvent, kind: .errorReport)
    }

    // MARK: Subscribing

    /// Subscribes a handler to the events whose type matches `pattern`.
    /// - Parameters:
    ///   - pattern: an exact type or a wildcard pattern (`provider.*`, `provider.>`, `>`).
    ///   - handler: called on the publishing thread for each matching event; may throw.
    /// - Returns: the token whose ``Subscription/cancel()`` ends the subscription. Discarding it
    ///   does not cancel.
    @discardableResult
    public func subscribe(_ pattern: EventPattern, handler: @escaping @Sendable (Event) throws -> Void) -> Subscription {
        addSubscriber(pattern: pattern, owner: nil, onBusGone: nil, handler: handler)
    }

    /// Subscribes a handler to one event type.
    /// - Parameters:
    ///   - type: the event type.
    ///   - handler: called for each event of that type.
    /// - Returns: the subscription's token.
    @discardableResult
    @_disfavoredOverload
    public func subscribe(_ type: EventType, handler: @escaping @Sendable (Event) throws -> Void) -> Subscription {
        subscribe(EventPattern(type), handler: handler)
    }

    /// Subscribes a handler for as long as `owner` lives.
    ///
    /// The bus holds `owner` weakly and passes it to the handler, so the handler need not
    /// capture it. Once the owner is deallocated the subscription ends: the bus notices at the
    /// next event that would reach the handler, or at the next subscribe or cancel on the bus,
    /// and then releases the handler.
    /// - Parameters:
    ///   - pattern: an exact type or wildcard pattern.
    ///   - owner: the object whose lifetime bounds the subscription.
    ///   - handler: called with the owner and each matching event.
    /// - Returns: the subscription's token (cancelling early also works).
    @discardableResult
    public func subscribe<Owner: AnyObject & Sendable>(
        _ pattern: EventPattern,
        owner: Owner,
        handler: @escaping @Sendable (Owner, Event) throws -> Void
    ) -> Subscription {
        addSubscriber(pattern: pattern, owner: owner, onBusGone: nil) { [weak owner] event in
            guard let owner else { return }
            try handler(owner, event)
        }
    }

    /// Subscribes a handler to one event type for as long as `owner` lives (see
    /// ``subscribe(_:owner:handler:)-(EventPattern,_,_)``).
    /// - Parameters:
    ///   - type: the event type.
    ///   - owner: the object whose lifetime bounds the subscription.
    ///   - handler: called with the owner and each event of that type.
    /// - Returns: the subscription's token.
    @discardableResult
    @_disfavoredOverload
    public func subscribe<Owner: AnyObject & Sendable>(
        _ type: EventType,
        owner: Owner,
        handler: @escaping @Sendable (Owner, Event) throws -> Void
    ) -> Subscription {
        subscribe(EventPattern(type), owner: owner, handler: handler)
    }

    final func addSubscriber(
        pattern: EventPattern,
        owner: (any AnyObject & Sendable)?,
        onBusGone: (@Sendable () -> Void)?,
        handler: @escaping @Sendable (Event) throws -> Void
    ) -> Subscription {
        let (subscriber, dead) = lock.withLock {
            let dead = state.removeSubscribersWithDeadOwners()
            state.nextSubscriberID += 1
            let subscriber = Subscriber(
                id: state.nextSubscriberID, pattern: pattern, owner: owner, onBusGone: onBusGone, handler: handler)
            state.add(subscriber)
            lastSubscriberID.store(subscriber.id, ordering: .releasing)
            return (subscriber, dead)
        }
        // Dead owners' handlers are released here, outside the lock.
        _ = dead
        parent?.subscriptionsChanged(on: self)
        return Subscription(subscriber: subscriber, bus: self)
    }

    final func removeSubscriber(id: UInt64) {
        let removed = lock.withLock { () -> [Subscriber] in
            var removed = state.removeSubscribersWithDeadOwners()
            if let subscriber = state.remove(id: id) { removed.append(subscriber) }
            return removed
        }
        // Released here, outside the lock: a handler's captures may run deinit code.
        _ = removed
        parent?.subscriptionsChanged(on: self)
    }

    /// The distinct patterns of this bus's active subscriptions (owner-bound ones whose owner
    /// is gone excluded), sorted by their text.
    public var subscribedPatterns: [EventPattern] {
        lock.withLock {
            Set(state.subscribers.lazy.filter { !$0.ownerIsGone }.map(\.pattern)).sorted { $0.text < $1.text }
        }
    }

    // MARK: Middleware

    /// Appends middleware to the pipeline.
    /// - Parameter middleware: the middleware.
    /// - Returns: a registration whose ``MiddlewareRegistration/remove()`` takes it out again.
    @discardableResult
    public func addMiddleware(_ middleware: some EventMiddleware) -> MiddlewareRegistration {
        let id = lock.withLock {
            state.nextMiddlewareID += 1
            state.middleware.append(.init(id: state.nextMiddlewareID, middleware: middleware))
            middlewareCount.store(state.middleware.count, ordering: .relaxed)
            return state.nextMiddlewareID
        }
        return MiddlewareRegistration(id: id, bus: self)
    }

    /// Appends middleware made from a closure.
    /// - Parameters:
    ///   - name: the name used in error reports.
    ///   - body: calls `next` to pass the event on; not calling it drops the event.
    /// - Returns: the middleware's registration.
    @discardableResult
    public func addMiddleware(
        name: String,
        _ body: @escaping @Sendable (Event, (Event) -> Void) throws -> Void
    ) -> MiddlewareRegistration {
        addMiddleware(MiddlewareFunction(name: name, body))
    }

    final func removeMiddleware(id: UInt64) {
        let removed = lock.withLock { () -> [State.MiddlewareEntry] in
            let removed = state.middleware.filter { $0.id == id }
            state.middleware.removeAll { $0.id == id }
            middlewareCount.store(state.middleware.count, ordering: .relaxed)
            return removed
        }
        _ = removed
    }

    // MARK: History and stats

    /// The events in history whose type matches `pattern`.
    /// - Parameters:
    ///   - pattern: which types to return (default: all).
    ///   - order: oldest or newest first (default: oldest first).
    ///   - limit: at most this many events, counted from the start of `order`.
    ///   - since: only events with a timestamp at or after this.
    ///   - after: only events recorded after the event with this id (by position in this
    ///     history). If that event is no longer in history, there is no reference point and the
    ///     filter is ignored.
    /// - Returns: the matching events.
    public func history(
        matching pattern: EventPattern = .all,
        order: HistoryOrder = .oldestFirst,
        limit: Int? = nil,
        since: Timestamp? = nil,
        after: EventID? = nil
    ) -> [Event] {
        var events = lock.withLock { state.history.oldestFirst() }
        if let after, let position = events.firstIndex(where: { $0.id == after }) {
            events.removeSubrange(...position)
        }
        var result: [Event] = []
        let ordered: [Event] = order == .oldestFirst ? events : events.reversed()
        for event in ordered {
            if let limit, result.count >= limit { break }
            if let since, event.timestamp < since { continue }
            if pattern.matches(event.type) { result.append(event) }
        }
        return result
    }

    /// Forgets every event in history.
    public func clearHistory() {
        let old = lock.withLock { () -> [Event] in
            let old = state.history.oldestFirst()
            state.history.removeAll()
            return old
        }
        // Released here, outside the lock.
        _ = old
    }

    /// How many events history keeps at most.
    public var historyCapacity: Int { lock.withLock { state.history.capacity } }

    /// A snapshot of the bus's counters.
    public var stats: EventBusStats {
        let snapshot = lock.withLock {
            (state.subscribers.count, state.published, state.dropped, state.history.count, state.middleware.count, state.delivered)
        }
        return EventBusStats(
            subscribers: snapshot.0,
            middleware: snapshot.4,
            published: snapshot.1,
            delivered: snapshot.5 - skippedDeliveries.load(ordering: .relaxed),
            dropped: snapshot.2,
            handlerErrors: handlerErrorCount.load(ordering: .relaxed),
            historyCount: snapshot.3)
    }
}

/// Counters of one bus since it was made.
public struct EventBusStats: Sendable, Hashable {
    /// Active subscriptions.
    public var subscribers: Int
    /// Middleware in the pipeline.
    public var middleware: Int
    /// Events that entered the pipeline (published here, handed up by children, or delivered from elsewhere).
    public var published: Int
    /// Handler calls made.
    public var delivered: Int
    /// Events dropped by middleware (including middleware that threw).
    public var dropped: Int
    /// Errors thrown by handlers and middleware.
    public var handlerErrors: Int
    /// Events currently in history.
    public var historyCount: Int
}

extension EventBus {
    /// The state behind the bus's lock.
    struct State {
        struct MiddlewareEntry {
            let id: UInt64
            let middleware: any EventMiddleware
        }

        /// Subscribers in subscription order.
        var subscribers: [Subscriber] = []
        /// Subscribers per event type, in subscription order; rebuilt lazily after changes.
        var matches: [EventType: [Subscriber]] = [:]
        var middleware: [MiddlewareEntry] = []
        var history: EventHistory
        var nextSubscriberID: UInt64 = 0
        var nextMiddlewareID: UInt64 = 0
        var published = 0
        var dropped = 0
        /// Handler calls dispatched (before subtracting skipped ones).
        var delivered = 0
        /// The last type looked up and its subscribers: checked before `matches`, so a bus that
        /// publishes one type after another hashes no type name per event.
        var lastType: EventType?
        var lastMatches: [Subscriber] = []

        /// Beyond this many distinct types the match cache starts over, so it stays bounded.
        static let matchCacheLimit = 4096

        init(historyCapacity: Int) {
            history = EventHistory(capacity: historyCapacity)
        }

        mutating func subscribers(for type: EventType) -> [Subscriber] {
            if let lastType, lastType == type { return lastMatches }
            let found: [Subscriber]
            if let hit = matches[type] {
                found = hit
            } else {
                found = subscribers.filter { $0.pattern.matches(type) }
                if matches.count >= State.matchCacheLimit { matches.removeAll(keepingCapacity: true) }
                matches[type] = found
            }
            lastType = type
            lastMatches = found
            return found
        }

        /// Forgets every cached match (after a subscriber was added or removed).
        mutating func invalidateMatches() {
            matches.removeAll(keepingCapacity: true)
            lastType = nil
            lastMatches = []
        }

        mutating func add(_ subscriber: Subscriber) {
            subscribers.append(subscriber)
            invalidateMatches()
        }

        mutating func remove(id: UInt64) -> Subscriber? {
            // Ids grow with subscription order, so the array is sorted by id.
            var low = 0
            var high = subscribers.count
            while low < high {
                let mid = (low + high) / 2
                if subscribers[mid].id < id { low = mid + 1 } else { high = mid }
            }
            guard low < subscribers.count, subscribers[low].id == id else { return nil }
            invalidateMatches()
            return subscribers.remove(at: low)
        }

        @discardableResult
        mutating func removeSubscribersWithDeadOwners() -> [Subscriber] {
            guard subscribers.contains(where: { $0.ownerIsGone }) else { return [] }
            let dead = subscribers.filter { $0.ownerIsGone }
            for subscriber in dead { subscriber.deactivate() }
            subscribers.removeAll { $0.ownerIsGone }
            invalidateMatches()
            return dead
        }
    }
}
