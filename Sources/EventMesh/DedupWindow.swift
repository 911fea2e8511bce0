public import EventBus

/// Where an event came from, as dedup and loss accounting see it: a node process.
public struct OriginID: Hashable, Sendable, CustomStringConvertible {
    /// The node id.
    public let node: String
    /// The node process's random incarnation number.
    public let incarnation: UInt64

    /// Makes an origin id.
    /// - Parameters:
    ///   - node: the node id.
    ///   - incarnation: the process's incarnation.
    public init(node: String, incarnation: UInt64) {
        self.node = node
        self.incarnation = incarnation
    }

    public var description: String { "\(node)#\(String(incarnation, radix: 16))" }
}

/// Counters of what dedup decided, for one origin or in total.
public struct DeliveryCounts: Sendable, Hashable, Codable {
    /// Events delivered to the node bus.
    public var delivered: UInt64 = 0
    /// Copies of events already delivered, dropped.
    public var duplicates: UInt64 = 0
    /// Events older than the dedup window, dropped (they may or may not have been delivered).
    public var tooOld: UInt64 = 0
    /// Events never received: sequence numbers that left the window unseen, plus those still
    /// missing inside it.
    public var lost: UInt64 = 0

    public init() {}

    mutating func add(_ other: DeliveryCounts) {
        delivered += other.delivered
        duplicates += other.duplicates
        tooOld += other.tooOld
        lost += other.lost
    }
}

/// Decides, for every event that arrives at a node, whether it is new (deliver), a duplicate or
/// too old (drop), and counts what never arrived — in memory that stays bounded whatever the
/// rate and however many origins come and go.
///
/// - Sequenced events (an origin and a sequence number) go through a ``SequenceWindow`` per
///   (origin, type): 1024 sequence numbers of memory each.
/// - Unsequenced events are remembered by id in a first-in-first-out set of
///   ``Limits/unsequencedIDs`` ids; an id that fell out of it can no longer be recognised.
/// - At most ``Limits/origins`` origins and ``Limits/typesPerOrigin`` types per origin are
///   tracked; beyond that the least recently heard origins are evicted (counted), and idle
///   origins expire after ``Limits/originIdleNanoseconds`` (counted). An evicted origin's
///   counts move into the retired totals, so totals never go down.
///
/// Not thread-safe: owned by the bridge's I/O thread.
public struct DedupWindow: Sendable {
    /// Bounds on the window's memory.
    public struct Limits: Sendable, Hashable {
        /// The most origins tracked at once (default 4096).
        public var origins: Int = 4096
        /// The most event types tracked per origin (default 1024).
        public var typesPerOrigin: Int = 1024
        /// How many unsequenced event ids are remembered (default 65 536).
        public var unsequencedIDs: Int = 65_536
        /// How long an origin may stay silent before it is forgotten (default 10 minutes).
        public var originIdleNanoseconds: UInt64 = 600 * 1_000_000_000

        /// The default limits.
        public init() {}
    }

    struct OriginState: Sendable {
        var windows: [String: SequenceWindow] = [:]
        var counts = DeliveryCounts()
        var lastHeard: UInt64
        /// Losses of types evicted from this origin (their windows are gone).
        var retiredLost: UInt64 = 0

        var lost: UInt64 {
            var total = retiredLost
            for window in windows.values { total += window.lost + window.pending }
            return total
        }
    }

    /// Whether dedup is on; off delivers every copy (for diagnosis and tests).
    public let isEnabled: Bool
    /// The bounds in force.
    public let limits: Limits
    private(set) var origins: [OriginID: OriginState] = [:]
    private var unsequenced = Set<EventID>()
    private var unsequencedOrder: [EventID] = []
    private var unsequencedNext = 0
    /// Counts of origins no longer tracked.
    private var retired = DeliveryCounts()
    // Note: `delivered` counts events dedup let through; with dedup off, duplicates are
    // delivered too and counted under `duplicates`.
    /// Counts of unsequenced events.
    private var unsequencedCounts = DeliveryCounts()
    /// Origins forgotten because ``Limits/origins`` was reached (least recently heard first).
    public private(set) var originsEvicted: UInt64 = 0
    /// Origins forgotten after ``Limits/originIdleNanoseconds`` of silence.
    public private(set) var originsExpired: UInt64 = 0
    /// Type windows forgotten because ``Limits/typesPerOrigin`` was reached.
    public private(set) var typesEvicted: UInt64 = 0
    /// Where the (origin, type) of the last sequenced event admitted is kept, so that the next
    /// event of the same stream (the common case) is admitted without hashing either key.
    /// Cleared whenever an origin or a type window is added or removed (which moves entries).
    private var last: LastStream?

    private struct LastStream: Sendable {
        var origin: OriginID
        var type: String
        var originIndex: Dictionary<OriginID, OriginState>.Index
        var windowIndex: Dictionary<String, SequenceWindow>.Index
    }

    /// Makes an empty window.
    /// - Parameters:
    ///   - enabled: whether to drop duplicates (default `true`).
    ///   - limits: memory bounds.
    public init(enabled: Bool = true, limits: Limits = Limits()) {
        isEnabled = enabled
        self.limits = limits
        unsequencedOrder.reserveCapacity(min(limits.unsequencedIDs, 1024))
    }

    /// Decides what to do with an arriving event and counts it.
    /// - Parameters:
    ///   - id: the event's id.
    ///   - type: the event's type name.
    ///   - origin: where it entered the mesh, if it says.
    ///   - sequence: its sequence number per (origin, type), if it has one.
    ///   - now: the monotonic time in nanoseconds.
    /// - Returns: deliver, duplicate or too old.
    public mutating func admit(id: EventID, type: String, origin: OriginID?, sequence: UInt64?, now: UInt64) -> DedupVerdict {
        guard let origin, let sequence else {
            return admitUnsequenced(id)
        }
        if let last, last.type == type, last.origin == origin {
            // The stream of the last event: its state is where it was, updated in place.
            origins.values[last.originIndex].lastHeard = now
            let verdict = origins.values[last.originIndex].windows.values[last.windowIndex].accept(sequence)
            Self.count(verdict, in: &origins.values[last.originIndex].counts)
            return isEnabled ? verdict : .deliver
        }
        var state = take(origin, now: now)
        if state.windows[type] == nil {
            guard makeRoom(forTypeIn: &state) else {
                origins[origin] = state
                return .deliver
            }
            state.windows[type] = SequenceWindow(baseline: sequence &- 1)
        }
        let verdict = state.windows[type]!.accept(sequence)
        Self.count(verdict, in: &state.counts)
        origins[origin] = state
        if let originIndex = origins.index(forKey: origin), let windowIndex = origins.values[originIndex].windows.index(forKey: type) {
            last = LastStream(origin: origin, type: type, originIndex: originIndex, windowIndex: windowIndex)
        }
        // With dedup off every copy is delivered; the counters still say what each one was.
        return isEnabled ? verdict : .deliver
    }

    private static func count(_ verdict: DedupVerdict, in counts: inout DeliveryCounts) {
        switch verdict {
        case .deliver: counts.delivered += 1
        case .duplicate: counts.duplicates += 1
        case .tooOld: counts.tooOld += 1
        }
    }

    /// Records an origin's latest sequence numbers from a heartbeat, so that events missing at
    /// the tail of a burst are counted.
    /// - Parameters:
    ///   - origin: the origin.
    ///   - latest: its latest sequence number per event type.
    ///   - now: the monotonic time in nanoseconds.
    public mutating func announce(_ origin: OriginID, latest: [String: UInt64], now: UInt64) {
        var state = take(origin, now: now)
        defer { origins[origin] = state }
        for (type, sequence) in latest {
            // A type this node has not received yet is not tracked: counting starts with its
            // first event, which may still be in flight behind this heartbeat (taking the
            // heartbeat's number as a baseline would drop that event as a duplicate).
            state.windows[type]?.announce(sequence)
        }
    }

    /// Forgets the windows of the event types `keep` rejects (their losses so far stay counted),
    /// so that a type the node stops and later starts listening to again starts counting afresh.
    /// - Parameter keep: whether to keep tracking a type.
    public mutating func retainTypes(where keep: (String) -> Bool) {
        last = nil
        for origin in Array(origins.keys) {
            guard var state = origins[origin] else { continue }
            let dropped = state.windows.keys.filter { !keep($0) }
            guard !dropped.isEmpty else { continue }
            for type in dropped {
                let window = state.windows.removeValue(forKey: type)!
                state.retiredLost += window.lost + window.pending
            }
            origins[origin] = state
        }
    }

    /// Forgets origins that have been silent for longer than the idle limit.
    /// - Parameter now: the monotonic time in nanoseconds.
    public mutating func expireIdle(now: UInt64) {
        let idle = origins.filter { now &- $0.value.lastHeard > limits.originIdleNanoseconds }
        for (origin, _) in idle {
            retire(origin)
            originsExpired += 1
        }
    }

    /// Totals over every origin, tracked and retired, and unsequenced events.
    public var totals: DeliveryCounts {
        var total = retired
        total.add(unsequencedCounts)
        for state in origins.values {
            var counts = state.counts
            counts.lost = state.lost
            total.add(counts)
        }
        return total
    }

    /// Counts per tracked origin.
    public var perOrigin: [OriginID: DeliveryCounts] {
        origins.mapValues { state in
            var counts = state.counts
            counts.lost = state.lost
            return counts
        }
    }

    /// How many origins are tracked now.
    public var originCount: Int { origins.count }
    /// How many (origin, type) windows are tracked now.
    public var windowCount: Int { origins.values.reduce(0) { $0 + $1.windows.count } }
    /// How many unsequenced ids are remembered now.
    public var unsequencedCount: Int { unsequenced.count }

    // MARK: Internals

    private mutating func admitUnsequenced(_ id: EventID) -> DedupVerdict {
        if unsequenced.contains(id) {
            unsequencedCounts.duplicates += 1
            return isEnabled ? .duplicate : .deliver
        }
        if limits.unsequencedIDs > 0 {
            if unsequencedOrder.count < limits.unsequencedIDs {
                unsequencedOrder.append(id)
            } else {
                unsequenced.remove(unsequencedOrder[unsequencedNext])
                unsequencedOrder[unsequencedNext] = id
                unsequencedNext = (unsequencedNext + 1) % limits.unsequencedIDs
            }
            unsequenced.insert(id)
        }
        unsequencedCounts.delivered += 1
        return .deliver
    }

    /// Removes and returns an origin's state (a new one, evicting others if at the cap), heard
    /// `now`; the caller puts it back.
    private mutating func take(_ origin: OriginID, now: UInt64) -> OriginState {
        last = nil
        var state: OriginState
        if let existing = origins.removeValue(forKey: origin) {
            state = existing
        } else {
            if origins.count >= limits.origins { evictLeastRecentlyHeard() }
            state = OriginState(lastHeard: now)
        }
        state.lastHeard = now
        return state
    }

    /// Makes room for one more type window in `state`; false if the limit is 0.
    private mutating func makeRoom(forTypeIn state: inout OriginState) -> Bool {
        guard limits.typesPerOrigin > 0 else { return false }
        if state.windows.count >= limits.typesPerOrigin, let victim = state.windows.keys.first {
            let window = state.windows.removeValue(forKey: victim)!
            state.retiredLost += window.lost + window.pending
            typesEvicted += 1
        }
        return true
    }

    /// Evicts the least recently heard eighth of the origins (at least one), so that eviction
    /// costs O(log n) per origin.
    private mutating func evictLeastRecentlyHeard() {
        let batch = max(1, limits.origins / 8)
        let victims = origins.sorted { $0.value.lastHeard < $1.value.lastHeard }.prefix(batch).map(\.key)
        for origin in victims {
            retire(origin)
            originsEvicted += 1
        }
    }

    private mutating func retire(_ origin: OriginID) {
        last = nil
        guard let state = origins.removeValue(forKey: origin) else { return }
        var counts = state.counts
        counts.lost = state.lost
        retired.add(counts)
    }
}
