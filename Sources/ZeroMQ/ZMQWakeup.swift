import CZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Wakes a thread blocked in ``ZMQPoller/poll(timeoutMilliseconds:)`` from any other thread: an
/// `eventfd` on Linux (a non-blocking pipe elsewhere) that the poller watches.
///
/// This is how work reaches a socket's owning thread: put it in a thread-safe queue, then
/// ``signal()``; the owning thread ``drain()``s the wakeup and empties the queue. Signals that
/// arrive before a drain coalesce into one wakeup.
public final class ZMQWakeup: Sendable {
    /// The descriptor to add to a poller (the eventfd, or the pipe's read end).
    public let fileDescriptor: Int32
    /// Where signals are written: the eventfd itself, or the pipe's write end.
    private let writeEnd: Int32

    /// Makes a wakeup.
    /// - Throws: ``ZMQError`` with the `errno` of `eventfd` or `pipe` (e.g. too many open files).
    public init() throws(ZMQError) {
        #if os(Linux)
        let descriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard descriptor >= 0 else { throw ZMQError(code: .init(errno), operation: "eventfd") }
        fileDescriptor = descriptor
        writeEnd = descriptor
        #else
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw ZMQError(code: .init(errno), operation: "pipe") }
        for end in ends {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        fileDescriptor = ends[0]
        writeEnd = ends[1]
        #endif
    }

    deinit {
        close(fileDescriptor)
        if writeEnd != fileDescriptor { close(writeEnd) }
    }

    /// Wakes the poller (at most one pending wakeup matters; extra signals coalesce).
    public func signal() {
        #if os(Linux)
        var one: UInt64 = 1
        while write(writeEnd, &one, 8) < 0 && errno == EINTR {}
        // EAGAIN: the counter is at its maximum, so the reader has a wakeup pending already.
        #else
        var byte: UInt8 = 1
        while write(writeEnd, &byte, 1) < 0 && errno == EINTR {}
        // EAGAIN: the pipe is full, so the reader has wakeups pending already.
        #endif
    }

    /// Consumes every pending wakeup; call it on the polling thread when the descriptor is readable.
    public func drain() {
        #if os(Linux)
        // One read resets the counter, however many signals it holds.
        var counter: UInt64 = 0
        while read(fileDescriptor, &counter, 8) < 0 && errno == EINTR {}
        #else
        var buffer: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
        while true {
            let count = withUnsafeMutableBytes(of: &buffer) { read(fileDescriptor, $0.baseAddress, $0.count) }
            if count == MemoryLayout.size(ofValue: buffer) || (count < 0 && errno == EINTR) { continue }
            return
        }
        #endif
    }
}
