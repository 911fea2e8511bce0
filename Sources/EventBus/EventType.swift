/// The name of a kind of event: dot-separated tokens such as `provider.connected`.
///
/// Event types are open: a service declares its own as static constants.
///
/// ```swift
/// extension EventType {
///     static let invoiceSettled: EventType = "billing.invoice.settled"
/// }
/// ```
///
/// A valid name has one or more non-empty tokens separated by `.`, no `*` or `>` token (those are
/// for ``EventPattern``), no whitespace or control characters, at most ``maximumLength`` bytes of
/// UTF-8, and does not start with `_` (reserved for the mesh). ``init(validating:)`` reports a
/// broken name as an ``EventNameError``; a string *literal* that breaks the rules is a programmer
/// error and stops the program with that message.
public struct EventType: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The longest allowed name, in bytes of UTF-8.
    public static let maximumLength = 255

    /// The name, e.g. `provider.connected`.
    public let name: String

    /// Validates and wraps a name.
    /// - Parameter name: the dot-separated name.
    /// - Throws: ``EventNameError`` if the name breaks a rule.
    public init(validating name: String) throws(EventNameError) {
        try validateEventName(name, allowWildcards: false, allowReserved: false)
        self.name = name
    }

    /// Wraps a name the caller has already validated, or a reserved mesh name.
    package init(unchecked name: String) {
        self.name = name
    }

    public var description: String { name }

    public static func < (lhs: EventType, rhs: EventType) -> Bool { lhs.name < rhs.name }
}

extension EventType: ExpressibleByStringLiteral {
    /// Wraps a literal name; a literal that is not a valid name stops the program.
    public init(stringLiteral value: String) {
        do {
            try self.init(validating: value)
        } catch {
            preconditionFailure(error.description)
        }
    }
}

extension EventType: Codable {
    public init(from decoder: any Decoder) throws {
        let name = try decoder.singleValueContainer().decode(String.self)
        do {
            try self.init(validating: name)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(name)
    }
}

// The event types every EventMesh process knows.
extension EventType {
    /// A process or node finished starting.
    public static let systemInit: EventType = "system.init"
    /// A process or node is shutting down.
    public static let systemShutdown: EventType = "system.shutdown"
    /// A process-level error worth telling subscribers about.
    public static let systemError: EventType = "system.error"

    /// A provider object was created.
    public static let providerCreated: EventType = "provider.created"
    /// A provider connected to its backend.
    public static let providerConnected: EventType = "provider.connected"
    /// A provider lost or closed its connection.
    public static let providerDisconnected: EventType = "provider.disconnected"
    /// A provider failed.
    public static let providerError: EventType = "provider.error"

    /// A stream started.
    public static let streamStarted: EventType = "stream.started"
    /// A stream produced a chunk of output.
    public static let streamChunk: EventType = "stream.chunk"
    /// A stream finished normally.
    public static let streamCompleted: EventType = "stream.completed"
    /// A stream failed.
    public static let streamFailed: EventType = "stream.failed"

    /// An agent started.
    public static let agentStarted: EventType = "agent.started"
    /// An agent stopped.
    public static let agentStopped: EventType = "agent.stopped"
    /// An agent failed.
    public static let agentError: EventType = "agent.error"

    /// A workflow started.
    public static let workflowStarted: EventType = "workflow.started"
    /// A workflow entered one of its nodes.
    public static let workflowNodeEntered: EventType = "workflow.node_entered"
    /// A workflow left one of its nodes.
    public static let workflowNodeExited: EventType = "workflow.node_exited"
    /// A workflow finished.
    public static let workflowCompleted: EventType = "workflow.completed"
    /// A workflow failed.
    public static let workflowFailed: EventType = "workflow.failed"

    /// A handler or middleware threw; published by the bus itself, always local.
    ///
    /// Its data is a map: `event_id` (the id of the event being handled, as text), `event_type`,
    /// `subscription` (the subscription id, for handlers) or `middleware` (its name), and `error`
    /// (the error's text).
    public static let handlerError: EventType = "handler.error"
}
