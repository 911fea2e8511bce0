/// A mesh operation that could not be done: what and why.
public struct MeshError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Kind: Hashable, Sendable {
            case alreadyStarted, stopped, socket, invalidConfiguration, timedOut, queueFull
        }
        private let kind: Kind
        private init(_ kind: Kind) { self.kind = kind }

        /// The bridge, node or broker was already started.
        public static let alreadyStarted = Code(.alreadyStarted)
        /// The node or broker has stopped; nothing more can be published through it.
        public static let stopped = Code(.stopped)
        /// A ZeroMQ socket could not be made, bound or connected (the cause says why).
        public static let socket = Code(.socket)
        /// The configuration cannot work (no broker endpoints, a malformed endpoint…).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// A wait ran out of time.
        public static let timedOut = Code(.timedOut)
        /// The outbox stayed full for the whole blocking timeout (``OverflowPolicy/block(timeoutMilliseconds:)``).
        public static let queueFull = Code(.queueFull)

        public var description: String {
            switch kind {
            case .alreadyStarted: "alreadyStarted"
            case .stopped: "stopped"
            case .socket: "socket"
            case .invalidConfiguration: "invalidConfiguration"
            case .timedOut: "timedOut"
            case .queueFull: "queueFull"
            }
        }
    }

    /// The kind of failure.
    public let code: Code
    /// What went wrong, in words.
    public let message: String
    /// The underlying error, if any (a ``ZeroMQ/ZMQError`` for socket failures).
    public let cause: (any Error & Sendable)?

    /// Makes an error.
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - message: what went wrong.
    ///   - cause: the underlying error.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }
}
