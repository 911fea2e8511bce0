/// A step in a bus's middleware pipeline: it may pass an event on (changed or not) or drop it.
///
/// Middleware runs in the order it was added, on the publishing thread, before the event is
/// recorded in history or delivered. Call `next` to pass the event on; not calling it drops the
/// event. Only the first call of `next` counts. Throwing drops the event, and the bus reports the
/// error as a `handler.error` event (an error while processing such a report is logged instead,
/// so a middleware that throws on everything cannot loop).
///
/// ```swift
/// struct Tenant: EventMiddleware {
///     func handle(_ event: Event, next: (Event) -> Void) throws {
///         var event = event
///         event.metadata["tenant"] = "acme"
///         next(event)
///     }
/// }
/// let registration = bus.addMiddleware(Tenant())
/// ```
public protocol EventMiddleware: Sendable {
    /// A name for error reports and logs; defaults to the type's name.
    var name: String { get }

    /// Processes one event.
    /// - Parameters:
    ///   - event: the event as the previous step left it.
    ///   - next: passes the (possibly changed) event to the rest of the pipeline.
    /// - Throws: any error, which drops the event and is reported.
    func handle(_ event: Event, next: (Event) -> Void) throws
}

extension EventMiddleware {
    public var name: String { String(describing: Self.self) }
}

/// Middleware made from a closure.
public struct MiddlewareFunction: EventMiddleware {
    public let name: String
    private let body: @Sendable (Event, (Event) -> Void) throws -> Void

    /// Wraps a closure as middleware.
    /// - Parameters:
    ///   - name: the name used in error reports.
    ///   - body: the middleware's ``EventMiddleware/handle(_:next:)``.
    public init(name: String, _ body: @escaping @Sendable (Event, (Event) -> Void) throws -> Void) {
        self.name = name
        self.body = body
    }

    public func handle(_ event: Event, next: (Event) -> Void) throws {
        try body(event, next)
    }
}

/// The token returned when middleware is added; ``remove()`` takes the middleware out again.
public final class MiddlewareRegistration: Sendable, Hashable {
    /// The registration's id, unique within its bus.
    public let id: UInt64
    private weak let bus: EventBus?

    init(id: UInt64, bus: EventBus) {
        self.id = id
        self.bus = bus
    }

    /// Removes the middleware from the pipeline. Idempotent; events whose publish begins after
    /// this returns do not pass through it.
    public func remove() {
        bus?.removeMiddleware(id: id)
    }

    public static func == (lhs: MiddlewareRegistration, rhs: MiddlewareRegistration) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
