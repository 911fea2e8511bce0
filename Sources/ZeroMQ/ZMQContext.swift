#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZeroMQ

/// A libzmq context: the I/O threads behind every socket made from it.
///
/// # Threading model of this module
///
/// - A ``ZMQContext`` is thread-safe (`Sendable`): share one per process, or one per component.
/// - A ``ZMQSocket`` is **not** thread-safe, so it is a non-`Sendable` class: the compiler stops
///   it from being captured by a `@Sendable` closure or handed to another task. Make a socket on
///   the thread that will use it (an I/O thread of your own, see ``ZMQPoller``) and keep it there.
///   The raw libzmq pointer is never public.
/// - Code on other threads never touches a socket. It hands work to the owning thread through a
///   thread-safe queue and wakes that thread with a ``ZMQWakeup``, whose file descriptor the
///   owning thread's ``ZMQPoller`` watches beside its sockets.
/// - Closing: a socket closes in `deinit` (or ``ZMQSocket/close()``), with its linger period;
///   sockets made here default to a linger of 0 so that closing never waits on an unreachable
///   peer unless you ask for it. A context is terminated when its last socket and its last
///   reference are gone; each socket keeps its context alive.
///
/// ```swift
/// let context = ZMQContext()
/// let publisher = try ZMQSocket(context, .pub)
/// try publisher.bind("tcp://127.0.0.1:*")
/// print(try publisher.lastEndpoint)   // tcp://127.0.0.1:41733
/// ```
public final class ZMQContext: Sendable {
    // The pointer is set once in init and only passed to libzmq's thread-safe context calls.
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer

    /// Makes a context.
    /// - Parameter ioThreads: libzmq I/O threads (default 1, enough for about a gigabyte per
    ///   second of messages).
    public init(ioThreads: Int = 1) {
        guard let handle = zmq_ctx_new() else {
            // zmq_ctx_new fails only when the process is out of file descriptors or memory.
            preconditionFailure("zmq_ctx_new failed: \(ZMQError.last("zmq_ctx_new"))")
        }
        self.handle = handle
        if ioThreads != 1 {
            _ = zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: max(1, ioThreads)))
        }
    }

    deinit {
        // Every socket holds its context, so none is open here: termination does not block
        // beyond the sockets' linger, which has already been applied when they closed.
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }

    /// libzmq's version, e.g. `(4, 3, 4)`.
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }

    /// Whether this libzmq supports a capability, e.g. `"curve"`, `"ipc"`.
    /// - Parameter capability: the capability name (see `zmq_has`).
    /// - Returns: whether it is available.
    public static func has(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
