/// A bounded ring of the most recent events, oldest overwritten first. O(1) append.
struct EventHistory {
    private var ring: [Event?]
    private var start = 0
    private(set) var count = 0
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity >= 0, "history capacity must not be negative")
        self.capacity = capacity
        self.ring = []
        ring.reserveCapacity(capacity)
    }

    mutating func append(_ event: Event) {
        guard capacity > 0 else { return }
        if ring.count < capacity {
            ring.append(event)
            count += 1
        } else {
            ring[start] = event
            start = start + 1 == capacity ? 0 : start + 1
        }
    }

    /// The retained events, oldest first.
    func oldestFirst() -> [Event] {
        var out: [Event] = []
        out.reserveCapacity(count)
        for offset in 0..<count {
            out.append(ring[(start + offset) % capacity]!)
        }
        return out
    }

    mutating func removeAll() {
        ring.removeAll(keepingCapacity: true)
        start = 0
        count = 0
    }
}

/// The order in which history queries return events.
public enum HistoryOrder: Sendable {
    /// Oldest event first.
    case oldestFirst
    /// Newest event first.
    case newestFirst
}
