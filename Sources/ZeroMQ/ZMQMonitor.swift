import CZeroMQ
import Synchronization

/// One connection-level event of a monitored socket (`zmq_socket_monitor`).
public struct ZMQSocketEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public enum Kind: Sendable, Hashable {
        case connected, connectDelayed, connectRetried, listening, bindFailed, accepted
        case acceptFailed, closed, closeFailed, disconnected, monitorStopped
        case handshakeFailedNoDetail, handshakeSucceeded, handshakeFailedProtocol, handshakeFailedAuth
        /// An event this wrapper does not name (a newer libzmq).
        case other(UInt16)

        init(_ raw: UInt16) {
            switch Int32(raw) {
            case ZMQ_EVENT_CONNECTED: self = .connected
            case ZMQ_EVENT_CONNECT_DELAYED: self = .connectDelayed
            case ZMQ_EVENT_CONNECT_RETRIED: self = .connectRetried
            case ZMQ_EVENT_LISTENING: self = .listening
            case ZMQ_EVENT_BIND_FAILED: self = .bindFailed
            case ZMQ_EVENT_ACCEPTED: self = .accepted
            case ZMQ_EVENT_ACCEPT_FAILED: self = .acceptFailed
            case ZMQ_EVENT_CLOSED: self = .closed
            case ZMQ_EVENT_CLOSE_FAILED: self = .closeFailed
            case ZMQ_EVENT_DISCONNECTED: self = .disconnected
            case ZMQ_EVENT_MONITOR_STOPPED: self = .monitorStopped
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: self = .handshakeFailedNoDetail
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: self = .handshakeSucceeded
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: self = .handshakeFailedProtocol
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: self = .handshakeFailedAuth
            default: self = .other(raw)
            }
        }
    }

    /// What happened.
    public let kind: Kind
    /// The event's value: a file descriptor, an errno or a reconnect interval, by kind.
    public let value: UInt32
    /// The endpoint concerned, e.g. `tcp://127.0.0.1:5555`.
    public let endpoint: String

    public var description: String { "\(kind) \(endpoint) (\(value))" }
}

/// Reads the connection events of one socket: connects, disconnects, handshakes, retries.
///
/// Made by ``ZMQSocket/monitor()`` on the socket's thread and used there (it is a PAIR socket
/// of its own; add ``socket`` to the thread's poller).
public final class ZMQMonitor {
    /// The PAIR socket the events arrive on, for a ``ZMQPoller``.
    public let socket: ZMQSocket

    init(socket: ZMQSocket) {
        self.socket = socket
    }

    /// Receives the next event.
    /// - Parameter wait: whether to block until one arrives.
    /// - Returns: the event, or `nil` if none is pending (`wait: false`) or the message was not
    ///   a monitor event.
    /// - Throws: ``ZMQError``.
    public func receive(wait: Bool = false) throws(ZMQError) -> ZMQSocketEvent? {
        guard let frames = try socket.receive(wait: wait) else { return nil }
        guard frames.count == 2, frames[0].count == 6 else { return nil }
        let header = frames[0]
        let event = UInt16(header[0]) | UInt16(header[1]) << 8  // host order: little-endian here
        let value = UInt32(header[2]) | UInt32(header[3]) << 8 | UInt32(header[4]) << 16 | UInt32(header[5]) << 24
        return ZMQSocketEvent(kind: .init(event), value: value, endpoint: String(decoding: frames[1], as: UTF8.self))
    }
}

/// Numbers the inproc endpoints of monitors so that each is unique in the process.
private let monitorCounter = Atomic<Int>(0)

extension ZMQSocket {
    /// Starts reporting this socket's connection events on a new ``ZMQMonitor``.
    /// - Returns: the monitor; keep it on this socket's thread.
    /// - Throws: ``ZMQError``.
    public func monitor() throws(ZMQError) -> ZMQMonitor {
        let handle = try open("zmq_socket_monitor")
        let number = monitorCounter.wrappingAdd(1, ordering: .relaxed).newValue
        let endpoint = "inproc://eventmesh-monitor-\(number)"
        _ = try zmqCall("zmq_socket_monitor(\(endpoint))") { zmq_socket_monitor(handle, endpoint, ZMQ_EVENT_ALL) }
        let pair = try ZMQSocket(context, .pair)
        try pair.connect(endpoint)
        return ZMQMonitor(socket: pair)
    }
}
