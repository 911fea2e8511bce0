/// The anti-replay window of one (origin, event type): which of the last ``size`` sequence
/// numbers have arrived, and how many before them were never seen.
///
/// A sequence number above the highest seen slides the window forward; numbers that leave the
/// window unseen are counted as lost. A number inside the window is delivered once (a second
/// copy is a duplicate); a number below the window is too old: it may or may not have been
/// delivered, so it is dropped, never delivered twice. A heartbeat's "latest sequence number"
/// slides the window the same way without marking anything seen, so loss at the tail of a burst
/// shows up as ``pending`` at once and as lost when the window moves past it.
///
/// Counting starts at the first event this window sees (``init(baseline:)`` with the number
/// before it): earlier numbers happened before this node knew the origin and are not counted as
/// lost. One that still arrives (a node publishing one type from several threads may put
/// events on the wire slightly out of order) is delivered once, if it is inside the window.
struct SequenceWindow {
    /// How many sequence numbers the window tracks.
    static let size: UInt64 = 1024
    private static let words = Int(size / 64)

    /// The highest sequence number seen or announced.
    private(set) var highest: UInt64
    /// One bit per slot (`sequence % size`): 1 = seen, or not expected (at or below the baseline).
    private var seen: [UInt64]
    /// Sequence numbers that left the window unseen.
    private(set) var lost: UInt64 = 0
    /// The last number before counting started.
    private let baseline: UInt64
    /// Numbers at or below the baseline that arrived anyway (late, reordered), inside the window.
    private var early: Set<UInt64> = []

    /// Starts a window after `baseline`: numbers up to it are not expected (not counted lost).
    /// - Parameter baseline: the last sequence number that is not expected.
    init(baseline: UInt64) {
        self.baseline = baseline
        highest = baseline
        seen = [UInt64](repeating: .max, count: Self.words)
    }

    /// Unseen numbers still inside the window (below the highest seen or announced): lost unless
    /// they arrive late.
    var pending: UInt64 {
        var unseen: UInt64 = 0
        for word in seen { unseen += UInt64(64 - word.nonzeroBitCount) }
        return unseen
    }

    /// Records an arriving sequence number.
    /// - Parameter sequence: the event's sequence number.
    /// - Returns: whether to deliver or drop it.
    mutating func accept(_ sequence: UInt64) -> DedupVerdict {
        if sequence > highest {
            advance(to: sequence)
            mark(sequence)
            return .deliver
        }
        if highest - sequence >= Self.size { return .tooOld }
        if sequence <= baseline {
            // Not expected, so its bit reads as seen: remember it by number instead.
            if highest - baseline >= Self.size { early.removeAll() }
            return early.insert(sequence).inserted ? .deliver : .duplicate
        }
        if isSeen(sequence) { return .duplicate }
        mark(sequence)
        return .deliver
    }

    /// Records that the origin has published up to `latest` (from a heartbeat): numbers not yet
    /// seen up to it become pending.
    /// - Parameter latest: the origin's latest sequence number of this type.
    mutating func announce(_ latest: UInt64) {
        if latest > highest { advance(to: latest) }
    }

    private mutating func advance(to newHighest: UInt64) {
        let delta = newHighest - highest
        if delta >= Self.size {
            // Everything in the window leaves it, and the numbers between the old window and the
            // new one were never inside it: all unseen ones are lost.
            lost += pending + (delta - Self.size)
            for index in seen.indices { seen[index] = 0 }
        } else {
            var sequence = highest + 1
            while sequence <= newHighest {
                // The slot held `sequence - size`, which now leaves the window.
                if !isSeen(sequence) { lost += 1 }
                clear(sequence)
                sequence += 1
            }
        }
        highest = newHighest
    }

    @inline(__always)
    private func isSeen(_ sequence: UInt64) -> Bool {
        let slot = sequence % Self.size
        return seen[Int(slot / 64)] & (1 << (slot % 64)) != 0
    }

    @inline(__always)
    private mutating func mark(_ sequence: UInt64) {
        let slot = sequence % Self.size
        seen[Int(slot / 64)] |= 1 << (slot % 64)
    }

    @inline(__always)
    private mutating func clear(_ sequence: UInt64) {
        let slot = sequence % Self.size
        seen[Int(slot / 64)] &= ~(1 << (slot % 64))
    }
}

/// What dedup decided for an arriving event.
public enum DedupVerdict: Sendable, Equatable {
    /// New: deliver it.
    case deliver
    /// Already delivered: drop it.
    case duplicate
    /// Below its window: drop it, it cannot be told apart from a duplicate.
    case tooOld
}
