/// A bounded ring of the most recent events, oldest overwritten first. O(1) append.
///
/// Not thread-safe: the bus keeps it behind its lock. The ring is a manually managed buffer
/// so that an append moves the evicted event out instead of copying it (one reference-count
/// operation per append instead of three).
final class EventHistory {
    let capacity: Int
    private(set) var count = 0
    private var start = 0
    private let ring: UnsafeMutablePointer<Event>

    init(capacity: Int) {
        precondition(capacity >= 0, "history capacity must not be negative")
        self.capacity = capacity
        self.ring = UnsafeMutablePointer<Event>.allocate(capacity: max(capacity, 1))
    }

    deinit {
        removeAll()
        ring.deallocate()
    }

    /// Appends an event and returns the one it evicted, so the caller can release it after
    /// unlocking (its deinit may run a typed payload's code).
    func append(_ event: Event) -> Event? {
        guard capacity > 0 else { return nil }
        if count < capacity {
            (ring + (start + count) % capacity).initialize(to: event)
            count += 1
            return nil
        }
        let slot = ring + start
        let evicted = slot.move()
        slot.initialize(to: event)
        start = start + 1 == capacity ? 0 : start + 1
        return evicted
    }

    /// The retained events, oldest first.
    func oldestFirst() -> [Event] {
        var out: [Event] = []
        out.reserveCapacity(count)
        for offset in 0..<count {
            out.append(ring[(start + offset) % capacity])
        }
        return out
    }

    /// Forgets every event.
    func removeAll() {
        for offset in 0..<count {
            (ring + (start + offset) % capacity).deinitialize(count: 1)
        }
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
