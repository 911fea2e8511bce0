import EventBus

/// What one subscriber of a load test saw from one publisher, counted from the bench's own
/// payload sequence numbers (independently of the mesh's counters).
public struct BenchTally: Sendable {
    /// Distinct sequence numbers received (bit `n` = sequence `n`).
    private var seen: [UInt64] = []
    /// Messages received, duplicates included.
    public private(set) var received: UInt64 = 0
    /// Distinct sequence numbers received.
    public private(set) var distinct: UInt64 = 0
    /// Copies of sequence numbers already received.
    public private(set) var duplicates: UInt64 = 0
    /// Messages that arrived after a higher sequence number.
    public private(set) var outOfOrder: UInt64 = 0
    /// The highest sequence number received.
    public private(set) var highest: UInt64 = 0
    /// The publisher's final sequence number, from its end marker (`nil` until it arrives).
    public private(set) var last: UInt64?

    /// Makes an empty tally.
    public init() {}

    /// Counts one received sequence number (numbers start at 1).
    /// - Parameter sequence: the bench payload's sequence number.
    /// - Returns: whether it was new (not a duplicate).
    @discardableResult
    public mutating func record(_ sequence: UInt64) -> Bool {
        received += 1
        let word = Int(sequence / 64)
        if word >= seen.count { seen += [UInt64](repeating: 0, count: max(word + 1 - seen.count, seen.count)) }
        let bit: UInt64 = 1 << (sequence % 64)
        if seen[word] & bit != 0 {
            duplicates += 1
            return false
        }
        seen[word] |= bit
        distinct += 1
        if sequence < highest { outOfOrder += 1 }
        highest = max(highest, sequence)
        return true
    }

    /// Records the publisher's end marker.
    /// - Parameter last: its final sequence number.
    public mutating func end(at last: UInt64) {
        self.last = last
    }

    /// Sequence numbers up to the end marker (or the highest seen, before it) never received:
    /// loss at the tail included once the end marker is in.
    public var lost: UInt64 {
        let expected = last ?? highest
        return expected >= distinct ? expected - distinct : 0
    }
}
