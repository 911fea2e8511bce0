/// A typed event payload: a `Codable` struct that names its event type.
///
/// ```swift
/// struct StreamStarted: EventPayload {
///     static let eventType: EventType = .streamStarted
///     var streamID: String
///     var provider: String
/// }
///
/// bus.publish(StreamStarted(streamID: "s1", provider: "anthropic"))
/// bus.subscribe(to: StreamStarted.self) { event in print(event.data.streamID) }
/// ```
///
/// A typed payload and an ``EventValue`` map with the same keys are interchangeable: an untyped
/// handler sees a typed event's payload as a map keyed by the coding keys, and a typed handler
/// receives an event published with a matching map. Each conversion runs at most once per event
/// and Swift type, however many subscribers ask for it.
public protocol EventPayload: Codable, Sendable {
    /// The type of the events that carry this payload.
    static var eventType: EventType { get }
}

/// A payload still in an encoded form (for example as received from the network), decoded
/// only when and as a subscriber needs it.
///
/// A transport conforms a small type to this protocol and builds events with
/// ``Event/Payload/encoded(_:)``. The bus calls each method at most once per event (and per type
/// for ``decode(_:)``) and caches the result.
public protocol EncodedPayload: Sendable {
    /// Decodes the payload into its dynamic form.
    /// - Returns: the payload as an ``EventValue``.
    /// - Throws: if the bytes do not hold a valid payload.
    func decodeValue() throws -> EventValue

    /// Decodes the payload into a `Decodable` type.
    /// - Parameter type: the type to decode.
    /// - Returns: the decoded value.
    /// - Throws: if the payload does not decode as `type`.
    func decode<T: Decodable>(_ type: T.Type) throws -> T

    /// Decodes one field of a map payload: what `decodeValue()[key]` returns, but a transport
    /// can find the field without decoding the rest. Unlike the other methods, the bus does not
    /// cache the result (see ``Event/data(forKey:)``).
    /// - Parameter key: the field's key.
    /// - Returns: the field's value, or `nil` when the payload is not a map or has no such key.
    /// - Throws: if the bytes do not hold a valid payload.
    func decodeValue(forKey key: String) throws -> EventValue?
}

extension EncodedPayload {
    /// Decodes the whole payload with ``decodeValue()`` and looks `key` up in it; override to
    /// find the field without decoding the rest.
    public func decodeValue(forKey key: String) throws -> EventValue? {
        try decodeValue()[key]
    }

    /// Decodes through ``decodeValue()`` and ``EventValueDecoder``; override for a faster path.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try EventValueDecoder().decode(type, from: decodeValue())
    }
}

/// Thrown (and reported as `handler.error`) when an event's payload does not decode into the
/// type a typed subscriber expects.
public struct PayloadMismatchError: Error, CustomStringConvertible {
    /// The event whose payload did not fit.
    public let eventID: EventID
    /// The event's type.
    public let eventType: EventType
    /// The Swift type the subscriber expected.
    public let expected: String
    /// The underlying decoding error.
    public let underlying: any Error

    public var description: String {
        "payload of \(eventType) event \(eventID) does not decode as \(expected): \(underlying)"
    }
}
