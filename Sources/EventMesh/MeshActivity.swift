import EventBus
import Synchronization

/// Lets code in this process learn that a mesh thread has done something, so that it can wait
/// for a condition on bridge or broker state without polling on a timer (the tests'
/// `eventually`). Every bridge and broker I/O loop calls ``loopDidRun()`` once per pass; while
/// nobody observes, that costs one relaxed atomic load.
enum MeshActivity {
    private static let isObserved = Atomic<Bool>(false)
    private static let observer = LockedValueBox<(@Sendable () -> Void)?>(nil)

    /// Calls `body` after every pass of every bridge and broker I/O loop in this process (on
    /// that loop's thread), from now on, instead of any earlier observer.
    /// - Parameter body: what to call; it must be quick and must not block.
    static func observe(_ body: @escaping @Sendable () -> Void) {
        observer.withLockedValue { $0 = body }
        isObserved.store(true, ordering: .releasing)
    }

    /// Called by an I/O loop after each pass.
    @inline(__always)
    static func loopDidRun() {
        guard isObserved.load(ordering: .relaxed) else { return }
        observer.withLockedValue { $0 }?()
    }
}
