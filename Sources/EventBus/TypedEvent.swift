/// An event whose payload has been decoded as `Payload`, as a typed handler receives it.
@dynamicMemberLookup
public struct TypedEvent<Payload: Sendable>: Sendable {
    /// The underlying event.
    public let event: Event
    /// The decoded payload.
    public let data: Payload

    /// Pairs an event with its decoded payload.
    /// - Parameters:
    ///   - event: the event.
    ///   - data: its payload, decoded.
    public init(event: Event, data: Payload) {
        self.event = event
        self.data = data
    }

    /// The event's other fields: `id`, `type`, `timestamp`, `source`, `metadata`, `scope`, `origin`.
    public subscript<T>(dynamicMember keyPath: KeyPath<Event, T>) -> T {
        event[keyPath: keyPath]
    }
}

extension EventBus {
    /// Subscribes a typed handler to the events of `P.eventType`.
    ///
    /// The handler gets the payload decoded as `P`, whether the event was published with a `P`
    /// or with a dynamic payload of the same shape. An event whose payload does not decode as
    /// `P` skips this handler and is reported as `handler.error` (a ``PayloadMismatchError``).
    /// - Parameters:
    ///   - payloadType: the payload type.
    ///   - handler: called for each event, with its decoded payload.
    /// - Returns: the subscription's token.
    @discardableResult
    public func subscribe<P: EventPayload>(
        to payloadType: P.Type,
        handler: @escaping @Sendable (TypedEvent<P>) throws -> Void
    ) -> Subscription {
        subscribe(EventPattern(P.eventType)) { event in
            try handler(TypedEvent(event: event, data: event.decodedForSubscriber(P.self)))
        }
    }

    /// Subscribes a typed handler for as long as `owner` lives (see
    /// ``subscribe(_:owner:handler:)``).
    /// - Parameters:
    ///   - payloadType: the payload type.
    ///   - owner: the object whose lifetime bounds the subscription.
    ///   - handler: called with the owner and each decoded event.
    /// - Returns: the subscription's token.
    @discardableResult
    public func subscribe<P: EventPayload, Owner: AnyObject & Sendable>(
        to payloadType: P.Type,
        owner: Owner,
        handler: @escaping @Sendable (Owner, TypedEvent<P>) throws -> Void
    ) -> Subscription {
        subscribe(EventPattern(P.eventType), owner: owner) { owner, event in
            try handler(owner, TypedEvent(event: event, data: event.decodedForSubscriber(P.self)))
        }
    }
}

extension Event {
    /// The payload as `P`, or a ``PayloadMismatchError`` naming the event and the type.
    func decodedForSubscriber<P: Decodable & Sendable>(_ type: P.Type) throws -> P {
        do {
            return try payload(as: P.self)
        } catch {
            throw PayloadMismatchError(eventID: id, eventType: self.type, expected: String(describing: P.self), underlying: error)
        }
    }
}
