import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

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
///
/// It waits with one `poll(2)` on the sockets' signalling descriptors (`ZMQ_FD`) and the plain
/// descriptors, and reads a socket's state (`ZMQ_EVENTS`, which costs libzmq two system calls)
/// only when its descriptor has signalled or the socket has been used since the last read.
/// `zmq_poll` reads every socket's state before and after each wait: about twenty system calls
/// per wakeup for an I/O thread with five sockets, against about five here (docs/BENCHMARKS.md,
/// "System calls per wakeup").
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

    /// One socket or descriptor polled.
    private struct Item {
        /// The socket, kept alive (and its handle valid) while the poller holds it; `nil` for a
        /// plain descriptor.
        let socket: ZMQSocket?
        /// What the caller waits for.
        let interest: Events
        /// What was ready at the last poll.
        var ready: Events = []
        /// A socket's state as last read from libzmq, and its ``ZMQSocket/operations`` count then.
        var state: Events = []
        var stateAt: UInt64?
    }

    private var items: [Item] = []
    /// What `poll(2)` waits on, one entry per item (a socket's entry is its `ZMQ_FD`).
    private var descriptors: [pollfd] = []

    /// Makes an empty poller.
    public init() {}

    /// Adds a socket.
    /// - Parameters:
    ///   - socket: the socket; the poller keeps a reference to it.
    ///   - events: what to wait for.
    /// - Returns: the item's index, for ``isReadable(_:)`` and ``isWritable(_:)``.
    @discardableResult
    public func add(_ socket: ZMQSocket, events: Events = .readable) -> Int {
        // The descriptor signals new commands for the socket; it is fixed for the socket's life.
        // A closed socket gets none (poll(2) skips a negative descriptor) and `poll` throws.
        let descriptor = (try? socket.intOption(ZMQ_FD, name: "ZMQ_FD")) ?? -1
        items.append(Item(socket: socket, interest: events))
        descriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0))
        return items.count - 1
    }

    /// Adds a file descriptor (a pipe, an eventfd, a TCP socket of another library…).
    /// - Parameters:
    ///   - fileDescriptor: the descriptor; the caller keeps it open while it is polled.
    ///   - events: what to wait for.
    /// - Returns: the item's index.
    @discardableResult
    public func add(fileDescriptor: Int32, events: Events = .readable) -> Int {
        var wanted: Int16 = 0
        if events.contains(.readable) { wanted |= Int16(POLLIN) }
        if events.contains(.writable) { wanted |= Int16(POLLOUT) }
        items.append(Item(socket: nil, interest: events))
        descriptors.append(pollfd(fd: fileDescriptor, events: wanted, revents: 0))
        return items.count - 1
    }

    /// Waits until an item is ready or the timeout passes.
    /// - Parameter timeoutMilliseconds: how long to wait; 0 checks and returns at once, `nil`
    ///   waits without limit.
    /// - Returns: how many items are ready (0 on timeout).
    /// - Throws: ``ZMQError`` (`contextTerminated`, or `wrongState` if a socket was closed).
    @discardableResult
    public func poll(timeoutMilliseconds: Int?) throws(ZMQError) -> Int {
        let deadline = timeoutMilliseconds.map { ContinuousClock.now + .milliseconds(max(0, $0)) }
        while true {
            // A socket used since its state was read may have had its descriptor's signal taken
            // by that call (libzmq's descriptor is edge-triggered): read the state again.
            var ready = 0
            for index in items.indices {
                guard let socket = items[index].socket else {
                    items[index].ready = []
                    continue
                }
                if socket.handle == nil { throw Self.closed }
                if items[index].stateAt != socket.operations {
                    if socket.drainedAt == socket.operations && items[index].interest == .readable {
                        items[index].state = []
                        items[index].stateAt = socket.operations
                    } else {
                        try readState(index, of: socket)
                    }
                }
                items[index].ready = items[index].state.intersection(items[index].interest)
                if !items[index].ready.isEmpty { ready += 1 }
            }
            // One wait for every descriptor; none if a socket is ready already.
            let wait = ready > 0 ? 0 : Self.milliseconds(until: deadline)
            let signalled = descriptors.withUnsafeMutableBufferPointer { waitForDescriptors($0, timeoutMilliseconds: wait) }
            if signalled < 0 {
                let code = errno
                if code == EINTR { continue }
                throw ZMQError(code: ZMQError.Code(code), operation: "poll")
            }
            if signalled > 0 {
                for index in descriptors.indices where descriptors[index].revents != 0 {
                    let revents = descriptors[index].revents
                    if let socket = items[index].socket {
                        // New commands: reading the state processes them.
                        try readState(index, of: socket)
                        items[index].ready = items[index].state.intersection(items[index].interest)
                    } else {
                        var events: Events = []
                        if revents & Int16(POLLIN) != 0 { events.insert(.readable) }
                        if revents & Int16(POLLOUT) != 0 { events.insert(.writable) }
                        // An error or hang-up reads as ready, so the caller meets it on read.
                        if revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { events.formUnion(items[index].interest) }
                        items[index].ready = events.intersection(items[index].interest)
                    }
                }
                ready = items.reduce(0) { $0 + ($1.ready.isEmpty ? 0 : 1) }
            }
            // A descriptor can signal commands that make nothing ready (a peer's acknowledgement,
            // a new pipe): wait on until the deadline, as zmq_poll does.
            if ready > 0 || wait == 0 { return ready }
            if let deadline, ContinuousClock.now >= deadline { return 0 }
        }
    }

    /// Whether the item at `index` was readable at the last ``poll(timeoutMilliseconds:)``.
    /// - Parameter index: an index returned by `add`.
    /// - Returns: whether it is readable.
    public func isReadable(_ index: Int) -> Bool {
        items[index].ready.contains(.readable)
    }

    /// Whether the item at `index` was writable at the last ``poll(timeoutMilliseconds:)``.
    /// - Parameter index: an index returned by `add`.
    /// - Returns: whether it is writable.
    public func isWritable(_ index: Int) -> Bool {
        items[index].ready.contains(.writable)
    }

    /// Reads the `ZMQ_EVENTS` of the socket at `index` (processing its pending commands first)
    /// into its item. The read counts as a use of the socket: it consumes the descriptor's
    /// signal, so another poller of the same socket must read the state again too.
    private func readState(_ index: Int, of socket: ZMQSocket) throws(ZMQError) {
        guard let handle = socket.handle else { throw Self.closed }
        socket.operations &+= 1
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = try zmqCall("zmq_getsockopt(ZMQ_EVENTS)") { zmq_getsockopt(handle, ZMQ_EVENTS, &value, &size) }
        items[index].state = Events(rawValue: Int16(truncatingIfNeeded: value))
        items[index].stateAt = socket.operations
    }

    /// The error for a socket closed while the poller holds it.
    private static var closed: ZMQError { ZMQError(code: .wrongState, operation: "polling a closed socket") }

    /// The `poll(2)` timeout to `deadline`, in whole milliseconds rounded up (-1: none).
    private static func milliseconds(until deadline: ContinuousClock.Instant?) -> Int32 {
        guard let deadline else { return -1 }
        let left = (deadline - ContinuousClock.now).components
        guard left.seconds >= 0, left.seconds > 0 || left.attoseconds > 0 else { return 0 }
        let attosecondsPerMillisecond: Int64 = 1_000_000_000_000_000
        let milliseconds = left.seconds * 1000 + (left.attoseconds + attosecondsPerMillisecond - 1) / attosecondsPerMillisecond
        return Int32(clamping: milliseconds)
    }
}

/// `poll(2)` (named apart from ``ZMQPoller/poll(timeoutMilliseconds:)``).
private func waitForDescriptors(_ descriptors: UnsafeMutableBufferPointer<pollfd>, timeoutMilliseconds: Int32) -> Int32 {
    poll(descriptors.baseAddress, nfds_t(descriptors.count), timeoutMilliseconds)
}
