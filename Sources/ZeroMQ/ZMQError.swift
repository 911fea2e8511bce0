#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZeroMQ

/// A failed libzmq call: which operation, the `errno` it set and libzmq's text for it.
///
/// ```swift
/// do {
///     try socket.bind("tcp://127.0.0.1:1")
/// } catch let error as ZMQError where error.code == .addressInUse {
///     …
/// }
/// ```
public struct ZMQError: Error, Hashable, Sendable, CustomStringConvertible {
    /// An `errno` value, with names for the ones callers act on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// The raw `errno` value.
        public let rawValue: Int32

        /// Wraps an `errno` value.
        /// - Parameter rawValue: the value.
        public init(_ rawValue: Int32) { self.rawValue = rawValue }

        /// The operation would block (a non-blocking send or receive had nothing to do).
        public static let wouldBlock = Code(EAGAIN)
        /// A signal interrupted the call.
        public static let interrupted = Code(EINTR)
        /// The context was terminated.
        public static let contextTerminated = Code(CZeroMQ.ETERM)
        /// The endpoint is already bound.
        public static let addressInUse = Code(EADDRINUSE)
        /// An argument was invalid (a malformed endpoint, an unknown option…).
        public static let invalidArgument = Code(EINVAL)
        /// The transport protocol of the endpoint is not supported.
        public static let protocolNotSupported = Code(EPROTONOSUPPORT)
        /// The operation is not possible in the socket's current state.
        public static let wrongState = Code(CZeroMQ.EFSM)
        /// No such endpoint (for `unbind` and `disconnect`).
        public static let noEndpoint = Code(ENOENT)
        /// The process has too many open files.
        public static let tooManyFiles = Code(EMFILE)

        public var description: String { "errno \(rawValue)" }
    }

    /// The `errno` value of the failure.
    public let code: Code
    /// The libzmq call or the operation that failed, e.g. `zmq_bind(tcp://127.0.0.1:5555)`.
    public let operation: String
    /// `zmq_strerror` of the code.
    public let message: String

    /// Makes an error from an `errno` value.
    /// - Parameters:
    ///   - code: the `errno` value.
    ///   - operation: what failed.
    public init(code: Code, operation: String) {
        self.code = code
        self.operation = operation
        self.message = String(cString: zmq_strerror(code.rawValue))
    }

    /// The error for the current `zmq_errno()`.
    static func last(_ operation: @autoclosure () -> String) -> ZMQError {
        ZMQError(code: Code(zmq_errno()), operation: operation())
    }

    public var description: String { "\(operation) failed: \(message) (errno \(code.rawValue))" }
}

/// Calls a libzmq function that returns -1 on failure, retrying when a signal interrupts it.
/// - Parameters:
///   - operation: what is called, for the error.
///   - body: the call.
/// - Returns: the call's non-negative result.
/// - Throws: ``ZMQError`` with the call's `errno`.
@inline(__always)
func zmqCall(_ operation: @autoclosure () -> String, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let code = zmq_errno()
        if code == EINTR { continue }
        throw ZMQError(code: ZMQError.Code(code), operation: operation())
    }
}
