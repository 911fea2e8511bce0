import CZeroMQ

/// Waits for any of several sockets (and plain file descriptors such as a ``ZMQWakeup``) to be
/// ready, as an I/O thread's loop does.
///
/// Like its sockets, a poller belongs to one thread and is not `Sendable`.
///
/// ```swift
/// let poller = ZMQPoller()
/// let inbound = poller.add(subscriber)
/// let wake = poller.add(fileDescriptor: wakeup.fileDescriptor)
/// while running {
///     try poller.poll(timeoutMilliseconds: 1000)
///     if poller.isReadable(inbound) { … subscriber.receive(wait: false) … }
///     if poller.isReadable(wake) { wakeup.drain(); … }
/// }
/// ```
public final class ZMQPoller {
    /// What to wait for.
    public struct Events: OptionSet, Sendable {
        /// The `ZMQ_POLLIN`/`ZMQ_POLLOUT` bits.
        public let rawValue: Int16
        /// Wraps `ZMQ_POLL*` bits.
        public init(rawValue: Int16) { self.rawValue = rawValue }
        /// A message (or, for a file descriptor, data) can be read without blocking.
        public static let readable = Events(rawValue: Int16(ZMQ_POLLIN))
        /// A message can be sent without blocking.
        public static let writable = Events(rawValue: Int16(ZMQ_POLLOUT))
    }

    private var items: [zmq_pollitem_t] = []
    /// The sockets polled, kept alive (and their handles valid) while the poller holds them.
    private var sockets: [ZMQSocket?] = []

    /// Makes an empty poller.
    public init() {}

    /// Adds a socket.
    /// - Parameters:
    ///   - socket: the socket; the poller keeps a reference to it.
    ///   - events: what to wait for.
    /// - Returns: the item's index, for ``isReadable(_:)`` and ``isWritable(_:)``.
    @discardableResult
    public func add(_ socket: ZMQSocket, events: Events = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: socket.handle, fd: -1, events: events.rawValue, revents: 0))
        sockets.append(socket)
        return items.count - 1
    }

    /// Adds a file descriptor (a pipe, an eventfd, a TCP socket of another library…).
    /// - Parameters:
    ///   - fileDescriptor: the descriptor; the caller keeps it open while it is polled.
    ///   - events: what to wait for.
    /// - Returns: the item's index.
    @discardableResult
    public func add(fileDescriptor: Int32, events: Events = .readable) -> Int {
        items.append(zmq_pollitem_t(socket: nil, fd: fileDescriptor, events: events.rawValue, revents: 0))
        sockets.append(nil)
        return items.count - 1
    }

    /// Waits until an item is ready or the timeout passes.
    /// - Parameter timeoutMilliseconds: how long to wait; 0 checks and returns at once, `nil`
    ///   waits without limit.
    /// - Returns: how many items are ready (0 on timeout).
    /// - Throws: ``ZMQError`` (`contextTerminated`, or `wrongState` if a socket was closed).
    @discardableResult
    public func poll(timeoutMilliseconds: Int?) throws(ZMQError) -> Int {
        for (index, socket) in sockets.enumerated() where socket != nil {
            guard let handle = socket?.handle else {
                throw ZMQError(code: .wrongState, operation: "zmq_poll on a closed socket")
            }
            items[index].socket = handle
        }
        let timeout = timeoutMilliseconds.map { max(0, $0) } ?? -1
        let count = items.count
        return Int(try items.withUnsafeMutableBufferPointer { (buffer) throws(ZMQError) -> Int32 in
            try zmqCall("zmq_poll") { zmq_poll(buffer.baseAddress, Int32(count), timeout) }
        })
    }

    /// Whether the item at `index` was readable at the last ``poll(timeoutMilliseconds:)``.
    /// - Parameter index: an index returned by `add`.
    /// - Returns: whether it is readable.
    public func isReadable(_ index: Int) -> Bool {
        items[index].revents & Int16(ZMQ_POLLIN) != 0
    }

    /// Whether the item at `index` was writable at the last ``poll(timeoutMilliseconds:)``.
    /// - Parameter index: an index returned by `add`.
    /// - Returns: whether it is writable.
    public func isWritable(_ index: Int) -> Bool {
        items[index].revents & Int16(ZMQ_POLLOUT) != 0
    }
}
