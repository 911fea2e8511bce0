#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain OS thread that runs one closure, for a component's socket-owning I/O loop.
///
/// ZeroMQ sockets must stay on one thread, so each bridge and broker runs its loop on a thread
/// of its own rather than on Swift concurrency's shared pool (where a task may hop threads and
/// a blocking poll would starve other tasks).
final class IOThread: Sendable {
    // Written once by pthread_create in `init`, read by `join`, both on the creating thread.
    nonisolated(unsafe) private var thread: pthread_t

    /// Starts a thread running `body`.
    /// - Parameters:
    ///   - name: what the thread is for (kept for debugging).
    ///   - body: what the thread runs.
    init(name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box: Sendable {
            let name: String
            let body: @Sendable () -> Void
            init(name: String, body: @escaping @Sendable () -> Void) {
                self.name = name
                self.body = body
            }
        }
        let box = Unmanaged.passRetained(Box(name: name, body: body)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let result = pthread_create(&thread, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(result == 0, "pthread_create failed with \(result)")
        #if canImport(Darwin)
        self.thread = thread!
        #else
        self.thread = thread
        #endif
    }

    /// Waits for the thread to finish.
    func join() {
        pthread_join(thread, nil)
    }
}

/// The monotonic clock in nanoseconds (CLOCK_MONOTONIC, shared by every process on a host).
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
