#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A small mutual-exclusion lock over a heap-allocated `pthread_mutex_t`.
///
/// The bus uses this instead of `Synchronization.Mutex` because ThreadSanitizer understands
/// pthread mutexes, so `swift test --sanitize=thread` reports real races and no false ones.
/// Never call user code (handlers, middleware) while holding it.
package final class Lock: @unchecked Sendable {
    // @unchecked: the mutex itself is the synchronisation; the pointer never changes.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    package init() {
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        let err = pthread_mutex_init(mutex, nil)
        precondition(err == 0, "pthread_mutex_init failed: \(err)")
    }

    deinit {
        let err = pthread_mutex_destroy(mutex)
        precondition(err == 0, "pthread_mutex_destroy failed: \(err)")
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Acquires the lock, blocking until it is free.
    package func lock() {
        let err = pthread_mutex_lock(mutex)
        precondition(err == 0, "pthread_mutex_lock failed: \(err)")
    }

    /// Releases the lock.
    package func unlock() {
        let err = pthread_mutex_unlock(mutex)
        precondition(err == 0, "pthread_mutex_unlock failed: \(err)")
    }

    /// Runs `body` with the lock held.
    @inlinable
    package func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A value boxed with the lock that guards it (the `NIOLockedValueBox` shape).
package final class LockedValueBox<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched inside `withLockedValue`, under `lock`.
    // Inlinable (with its fields usable from inlined code) so that callers in other modules get
    // it specialised for their `Value`: no generic metadata lookups or value-witness copies.
    @usableFromInline let lock = Lock()
    @usableFromInline var value: Value

    package init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the boxed value.
    @inlinable
    package func withLockedValue<T, E: Error>(_ body: (inout Value) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
