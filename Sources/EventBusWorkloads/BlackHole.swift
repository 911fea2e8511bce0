import Synchronization

/// Where ``blackHole(_:)`` writes; a process-wide atomic the optimizer must treat as observable.
private let blackHoleSink = Atomic<UInt8>(0)

/// Consumes a value so that the optimizer cannot prove the work that produced it unused.
///
/// The function is never inlined, and it reads the first byte of the value's representation
/// and stores it in a process-wide atomic. An atomic store is an effect the optimizer must
/// keep, so a call cannot be deleted, and the value passed in must really be materialised.
/// The cost is one call, a load and a plain store (a relaxed atomic store is an ordinary `mov`
/// on x86-64 and a `str` on arm64): a few nanoseconds, the same in every workload, the baseline
/// included.
/// - Parameter value: the value to consume.
@inline(never)
public func blackHole<T>(_ value: T) {
    withUnsafeBytes(of: value) { bytes in
        if let first = bytes.first { blackHoleSink.store(first, ordering: .relaxed) }
    }
}
