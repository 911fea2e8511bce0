import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Per-thread delivery state: whether this thread is already delivering an event, and the
/// events published meanwhile (from inside handlers), which wait until the current event has
/// reached all its subscribers. This keeps one delivery order per thread and the stack depth
/// bounded however deeply handlers publish.
final class ThreadDispatch {
    /// An event waiting on this thread's queue.
    struct Pending {
        let bus: EventBus
        let event: Event
        let kind: DeliveryKind
        /// Subscribers with a larger id subscribed after the event was published and skip it.
        let subscriberLimit: UInt64
    }

    // Only ever touched by the thread that owns this object, so no dynamic exclusivity check.
    @exclusivity(unchecked) var isDelivering = false
    @exclusivity(unchecked) var queue: [Pending] = []
    /// An event object that fell out of a bus's history with no other reference left, emptied
    /// and kept for this thread's next new event, which then needs no allocation.
    @exclusivity(unchecked) var spare: EventStorage?

    /// Whether this thread recycles event objects (``recyclesEvents``, read once).
    private let recycles = ThreadDispatch.recyclesEvents

    /// Whether threads recycle the objects of events that fall out of history.
    ///
    /// Recycling mutates an object only once `isKnownUniquelyReferenced` says no other reference
    /// is left, the rule Swift's copy-on-write collections follow. Under ThreadSanitizer it is
    /// off: the Swift runtime's reference counting is not instrumented, so TSan cannot see that
    /// the last other thread to hold the event released it before the reuse, and would report
    /// every reuse as a race. (The same processes then allocate one object per event.)
    static let recyclesEvents: Bool = {
        #if canImport(Darwin)
        let defaultHandle = UnsafeMutableRawPointer(bitPattern: -2)
        #else
        let defaultHandle: UnsafeMutableRawPointer? = nil
        #endif
        return dlsym(defaultHandle, "__tsan_init") == nil
    }()

    /// Keeps `event`'s object as this thread's spare (and sets `event` to `nil`) if no one else
    /// references it and there is no spare yet; otherwise leaves it to be released with `event`.
    func recycle(_ event: inout Event?) {
        guard recycles, spare == nil, event != nil, isKnownUniquelyReferenced(&event!.storage) else { return }
        let storage = event.take().unsafelyUnwrapped.storage
        storage.clearForReuse()
        spare = storage
    }

    /// Takes the spare event object, if any.
    func takeSpare() -> EventStorage? {
        let taken = spare
        spare = nil
        return taken
    }

    /// The thread-specific key plus one (0 until the first thread asks). An atomic rather than a
    /// lazily initialised `static let`, so that finding the key costs one load, not a
    /// `swift_once` call, on every publish.
    private static let keyPlusOne = Atomic<UInt>(0)

    private static var key: pthread_key_t {
        let stored = keyPlusOne.load(ordering: .acquiring)
        if stored != 0 { return pthread_key_t(stored - 1) }
        return makeKey()
    }

    @inline(never)
    private static func makeKey() -> pthread_key_t {
        var key = pthread_key_t()
        let err = pthread_key_create(&key) { pointer in
            #if canImport(Darwin)
            Unmanaged<ThreadDispatch>.fromOpaque(pointer).release()
            #else
            if let pointer { Unmanaged<ThreadDispatch>.fromOpaque(pointer).release() }
            #endif
        }
        precondition(err == 0, "pthread_key_create failed: \(err)")
        let (exchanged, original) = keyPlusOne.compareExchange(
            expected: 0, desired: UInt(key) + 1, ordering: .acquiringAndReleasing)
        if exchanged { return key }
        // Another thread made the key first: use that one.
        pthread_key_delete(key)
        return pthread_key_t(original - 1)
    }

    /// Runs `body` with the calling thread's state, created on first use and released when the
    /// thread exits. The thread-specific slot keeps the state alive, so no reference is counted.
    static func withCurrent<T>(_ body: (ThreadDispatch) -> T) -> T {
        let pointer: UnsafeMutableRawPointer
        if let existing = pthread_getspecific(key) {
            pointer = existing
        } else {
            pointer = Unmanaged.passRetained(ThreadDispatch()).toOpaque()
            pthread_setspecific(key, pointer)
        }
        return Unmanaged<ThreadDispatch>.fromOpaque(pointer)._withUnsafeGuaranteedRef(body)
    }
}

/// How an event entered the bus that is delivering it.
enum DeliveryKind {
    /// Published on this bus: goes to its parent afterwards unless local.
    case published
    /// Handed up by a child bus: goes on to this bus's parent unless local.
    case fromChild
    /// Arrived from elsewhere (the network): delivered here only.
    case remote
    /// A `handler.error` report made by the bus: local, and errors while delivering it are only logged.
    case errorReport
}
