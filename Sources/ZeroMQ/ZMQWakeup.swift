#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Wakes a thread blocked in ``ZMQPoller/poll(timeoutMilliseconds:)`` from any other thread: a
/// non-blocking pipe whose read end the poller watches.
///
/// This is how work reaches a socket's owning thread: put it in a thread-safe queue, then
/// ``signal()``; the owning thread ``drain()``s the wakeup and empties the queue.
public final class ZMQWakeup: Sendable {
    /// The descriptor to add to a poller (the pipe's read end).
    public let fileDescriptor: Int32
    private let writeEnd: Int32

    /// Makes a wakeup.
    /// - Throws: ``ZMQError`` with the `errno` of `pipe` (e.g. too many open files).
    public init() throws(ZMQError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw ZMQError(code: .init(errno), operation: "pipe") }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        fileDescriptor = ends[0]
        writeEnd = ends[1]
    }

    deinit {
        close(fileDescriptor)
        close(writeEnd)
    }

    /// Wakes the poller (at most one pending wakeup matters; extra signals coalesce).
    public func signal() {
        var byte: UInt8 = 1
        while write(writeEnd, &byte, 1) < 0 && errno == EINTR {}
        // EAGAIN: the pipe is full, so the reader has wakeups pending already.
    }

    /// Consumes every pending wakeup; call it on the polling thread when the descriptor is readable.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while true {
            let count = read(fileDescriptor, &buffer, buffer.count)
            if count > 0 { continue }
            if count < 0 && errno == EINTR { continue }
            return
        }
    }
}
