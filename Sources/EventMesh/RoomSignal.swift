#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Lets publishers wait, with a deadline, until the bridge's outbox has room again; the I/O
/// thread signals after each flush. A pthread mutex and condition variable (STYLE.md rule 2).
final class RoomSignal: @unchecked Sendable {
    // @unchecked: the mutex and condition are only used through pthread calls, which are
    // thread-safe; they are allocated once and freed in deinit.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    init() {
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if !canImport(Darwin)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Waits until `hasRoom()` holds or `milliseconds` pass.
    /// - Returns: whether there is room.
    func wait(milliseconds: Int, until hasRoom: () -> Bool) -> Bool {
        // At most a day: a larger wait (Int.max for "forever") must not overflow.
        let deadline = monotonicNanoseconds() + UInt64(min(max(0, milliseconds), 86_400_000)) * 1_000_000
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while !hasRoom() {
            let now = monotonicNanoseconds()
            guard now < deadline else { return false }
            #if canImport(Darwin)
            var relative = timespec(tv_sec: Int((deadline - now) / 1_000_000_000), tv_nsec: Int((deadline - now) % 1_000_000_000))
            pthread_cond_timedwait_relative_np(condition, mutex, &relative)
            #else
            var absolute = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
            pthread_cond_timedwait(condition, mutex, &absolute)
            #endif
        }
        return true
    }

    /// Wakes every waiter to check again.
    func signal() {
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(condition)
        pthread_mutex_unlock(mutex)
    }
}
