import Dispatch
public import EventBus
import EventWire
import Logging
public import ZeroMQ

/// Joins a node's bus to the mesh: the bus's parent, which sends what is published on the node
/// and delivers, exactly once, what other nodes publish.
///
/// ```swift
/// let bridge = try MeshBridge(configuration: MeshConfiguration(brokers: [broker]))
/// let bus = ScopedEventBus(scope: "node-a", parent: bridge)
/// try bridge.start(delivering: bus)
/// await bridge.ready()
/// bus.publish(.providerConnected, data: ["provider": "anthropic"])   // local subscribers, then the mesh
/// bridge.stop()
/// ```
///
/// **Outbound** (on the publishing thread, after local delivery): the bridge stamps the event's
/// ``EventBus/EventOrigin`` — this node's id, the bridge's random incarnation, the next sequence
/// number for (origin, event type), hop count 0 — encodes it (no lock held) and queues
/// `[type | envelope]` for the I/O thread. Local events never reach it.
///
/// **Inbound** (on the I/O thread): decode (a malformed message is counted by error class, logged
/// at most once a second per class, and dropped); drop this node's own events echoed back by a
/// broker; ``DedupWindow`` decides deliver, duplicate or too old; delivered events enter the node
/// bus with ``EventBus/EventBus/deliverRemote(_:)`` — history, then subscribers, never back to
/// the bridge. Subscribers of remote events therefore run on the I/O thread: a handler that
/// blocks delays every inbound event (hand slow work to a task or a stream).
///
/// **Threading**: one I/O thread per bridge owns every ZeroMQ socket (one PUB connected to each
/// broker's publish side, one SUB connected to each broker's subscribe side, their monitors);
/// publishers on any thread hand it encoded events through a locked queue and a ``ZMQWakeup``.
///
/// **Stopping** sends `_mesh.node.left`, flushes what is queued, and waits at most
/// ``MeshConfiguration/lingerMilliseconds`` for the network to take it, even when a broker is
/// unreachable.
public final class MeshBridge: EventSink, @unchecked Sendable {
    // @unchecked: every mutable field is in `state`, behind its lock; the sockets live only
    // inside the I/O thread's loop.

    /// The configuration the bridge was made with.
    public let configuration: MeshConfiguration
    /// This bridge's origin: the node id and a random incarnation drawn when the bridge was made.
    public let origin: OriginID
    let codec: EventCodec
    let wakeup: ZMQWakeup
    let logger: Logger
    let state: LockedValueBox<State>
    /// Publishers waiting for room in the outbox (the block policy) wait here.
    let room = RoomSignal()
    private let thread = LockedValueBox<IOThread?>(nil)

    /// Makes a bridge; nothing connects until ``start(delivering:)``.
    /// - Parameter configuration: the node's configuration.
    /// - Throws: ``ZMQError`` if the process is out of file descriptors.
    public init(configuration: MeshConfiguration) throws(ZMQError) {
        self.configuration = configuration
        self.origin = OriginID(node: configuration.nodeID, incarnation: UInt64.random(in: 1...UInt64.max))
        var limits = WireLimits.default
        limits.maxFrameBytes = configuration.maxFrameBytes
        self.codec = EventCodec(limits: limits)
        self.wakeup = try ZMQWakeup()
        var logger = configuration.logger
        logger[metadataKey: "node"] = "\(configuration.nodeID)"
        self.logger = logger
        self.state = LockedValueBox(State(dedup: DedupWindow(enabled: configuration.dedupEnabled, limits: configuration.dedupLimits)))
    }

    /// Connects to the brokers on a new I/O thread and starts delivering what arrives to `bus`.
    /// - Parameter bus: the node bus (whose parent is this bridge); held weakly.
    /// - Throws: ``MeshError`` if the bridge was already started, or a socket cannot be made
    ///   or an endpoint is malformed (nothing is left running then).
    public func start(delivering bus: EventBus) throws(MeshError) {
        try state.withLockedValue { (state) throws(MeshError) in
            guard state.phase == .idle else { throw MeshError(.alreadyStarted, "the bridge of \(origin.node) was already started") }
            state.phase = .starting
            state.bus = WeakBus(bus)
        }
        updateFilter(bus)
        let startup = LockedValueBox<Result<Void, MeshError>?>(nil)
        let started = DispatchSemaphore(value: 0)
        let thread = IOThread(name: "mesh-io") { [self] in
            runIOLoop { result in
                startup.withLockedValue { $0 = result }
                started.signal()
            }
        }
        // The loop reports its startup (sockets made, endpoints connected) within moments; it
        // never waits on the network before that.
        started.wait()
        if case .failure(let error) = startup.withLockedValue({ $0 })! {
            thread.join()
            state.withLockedValue { $0.phase = .stopped }
            throw error
        }
        self.thread.withLockedValue { $0 = thread }
    }

    /// Waits until the node's subscriptions are live on every broker: a probe sent after them
    /// has come back through each. Returns at once if there are no brokers, and early if the
    /// bridge stops or the task is cancelled (check ``isReady``).
    ///
    /// Publishing before that is allowed: events are delivered locally at once and sent, but
    /// nodes whose subscriptions are not live yet may miss them (and count them lost once a
    /// later event or heartbeat of the same type reveals the gap).
    public func ready() async {
        let id = state.withLockedValue { state -> Int in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    if state.isReady || state.phase == .stopped || Task.isCancelled { return true }
                    state.readyWaiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLockedValue { $0.readyWaiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Whether the node's subscriptions are live on every broker.
    public var isReady: Bool { state.withLockedValue { $0.isReady } }

    /// The outbound socket's bound endpoint (port read back), once started with a
    /// ``MeshConfiguration/bindEndpoint``: what peers list in their ``MeshConfiguration/peers``.
    public var boundEndpoint: String? { state.withLockedValue { $0.boundEndpoint } }

    /// The control endpoint as bound (port read back), once started with one configured.
    public var controlEndpoint: String? { state.withLockedValue { $0.controlEndpoint } }

    /// Stops the I/O thread: announces `_mesh.node.left`, flushes queued events for at most the
    /// linger period, closes the sockets and returns. Later events are dropped and counted.
    public func stop() {
        let shouldSignal = state.withLockedValue { state -> Bool in
            switch state.phase {
            case .idle:
                state.phase = .stopped
                return false
            case .starting, .running:
                state.phase = .stopping
                return true
            case .stopping, .stopped:
                return false
            }
        }
        if shouldSignal { wakeup.signal() }
        let thread = self.thread.withLockedValue { thread -> IOThread? in
            defer { thread = nil }
            return thread
        }
        thread?.join()
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.phase = .stopped
            defer { state.readyWaiters = [:] }
            return Array(state.readyWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Whether the bridge has been stopped.
    public var isStopped: Bool { state.withLockedValue { $0.phase == .stopped || $0.phase == .stopping } }

    // MARK: Outbound

    /// Takes an event published on the node bus: stamps, encodes and queues it for sending.
    /// - Parameter event: the event, after local delivery.
    public func accept(_ event: Event) {
        guard !event.isLocal else { return }
        let type = event.type.name
        var stoppedDrops: UInt64?
        let stamped = state.withLockedValue { state -> (sequence: UInt64, spare: [UInt8])? in
            guard state.phase == .starting || state.phase == .running || state.phase == .idle else {
                state.stats.droppedAfterStop += 1
                stoppedDrops = state.stoppedDropLog.note()
                return nil
            }
            state.stats.published += 1
            // The type's next sequence number (no hashing for a type like the one before), and a
            // frame already sent, if there is one, to encode into (an empty array is no
            // allocation).
            return (state.sequences.next(for: type), state.spareFrames.popLast() ?? [])
        }
        guard let (sequence, spare) = stamped else {
            logStoppedDrops(stoppedDrops, type: type)
            return
        }
        let stamp = EventOrigin(node: origin.node, incarnation: origin.incarnation, sequence: sequence, hops: 0)
        var body: [UInt8]
        do {
            body = try codec.encode(event, origin: stamp, reusing: spare)
        } catch {
            state.withLockedValue { $0.stats.encodeErrors += 1 }
            logger.error("event not sent: it cannot be encoded", metadata: ["event_id": "\(event.id)", "type": "\(type)", "error": "\(error)"])
            return
        }
        // With the block policy: wait for room and take it under the lock, again if another
        // publishing thread took the room first, until the timeout. With drop: once.
        let timeout: Int? = if case .block(let milliseconds) = configuration.overflow { milliseconds } else { nil }
        // Read the clock only once the outbox has been found full.
        var deadline: UInt64?
        var now: UInt64 = 0
        while true {
            let giveUp = timeout == nil || deadline.map { now >= $0 } == true
            var dropped = false
            var stopping = false
            var report: UInt64?
            let shouldSignal = state.withLockedValue { state -> Bool? in
                guard state.outbox.count < configuration.outboxCapacity else {
                    // A stopping bridge makes no more room: waiting would only spin.
                    stopping = state.phase == .stopping || state.phase == .stopped
                    if giveUp || stopping {
                        state.stats.queueDrops += 1
                        dropped = true
                        if timeout == nil { report = state.queueDropLog.note() }
                    }
                    return nil
                }
                // Moved in: a reference kept here until after the lock would still be held when
                // the I/O thread, having sent the frame, makes its array a spare (see
                // MeshBridge.recycleSentFrames).
                var queued: [UInt8] = []
                swap(&queued, &body)
                state.outbox.append(OutboundMessage(type: type, body: queued))
                return state.takeIOThreadWakeup()
            }
            if let shouldSignal {
                if shouldSignal { wakeup.signal() }
                return
            }
            if dropped {
                if stopping {
                    logger.warning("event dropped: the bridge is stopping and its outbox is full", metadata: [
                        "event_id": "\(event.id)", "type": "\(type)"])
                } else if let timeout {
                    logger.warning("event dropped: the outbox stayed full for the blocking timeout", metadata: [
                        "event_id": "\(event.id)", "type": "\(type)", "timeout_ms": "\(timeout)"])
                } else {
                    logQueueDrops(report, type: type)
                }
                return
            }
            now = monotonicNanoseconds()
            // At most a day: a larger timeout (Int.max for "forever") must not overflow.
            let end = deadline ?? now + UInt64(min(max(0, timeout ?? 0), 86_400_000)) * 1_000_000
            deadline = end
            if now < end { _ = waitForRoom(milliseconds: max(1, Int((end - now) / 1_000_000))) }
            now = monotonicNanoseconds()
        }
    }

    /// Re-publishes an event that arrived from elsewhere (a relay's job): its id, origin and
    /// sequence number stay as they are; only its hop count is raised by one.
    /// - Parameters:
    ///   - event: the event as received, with its origin.
    ///   - hopLimit: the most hops an event may travel; beyond it the event is dropped and
    ///     counted (``MeshBridgeStats/hopLimitDrops``).
    /// - Returns: whether the event was queued.
    @discardableResult
    public func forward(_ event: Event, hopLimit: Int) -> Bool {
        guard var origin = event.origin else { return false }
        guard origin.hops < hopLimit else {
            let report = state.withLockedValue { state -> UInt64? in
                state.stats.hopLimitDrops += 1
                return state.hopLimitDropLog.note()
            }
            if let report {
                logger.notice("events not relayed: they travelled the hop limit (counted in hopLimitDrops)", metadata: [
                    "dropped": "\(report)", "type": "\(event.type.name)", "hop_limit": "\(hopLimit)"])
            }
            return false
        }
        origin.hops += 1
        let body: [UInt8]
        do {
            body = try codec.encode(event, origin: origin)
        } catch {
            state.withLockedValue { $0.stats.encodeErrors += 1 }
            logger.error("event not relayed: it cannot be encoded", metadata: ["event_id": "\(event.id)", "error": "\(error)"])
            return false
        }
        var stoppedDrops: UInt64?
        var queueDrops: UInt64?
        let shouldSignal = state.withLockedValue { state -> Bool? in
            guard state.phase == .starting || state.phase == .running else {
                state.stats.droppedAfterStop += 1
                stoppedDrops = state.stoppedDropLog.note()
                return nil
            }
            guard state.outbox.count < configuration.outboxCapacity else {
                state.stats.queueDrops += 1
                queueDrops = state.queueDropLog.note()
                return nil
            }
            state.stats.forwarded += 1
            state.outbox.append(OutboundMessage(type: event.type.name, body: body))
            return state.takeIOThreadWakeup()
        }
        guard let shouldSignal else {
            logStoppedDrops(stoppedDrops, type: event.type.name)
            logQueueDrops(queueDrops, type: event.type.name)
            return false
        }
        if shouldSignal { wakeup.signal() }
        return true
    }

    private func logQueueDrops(_ count: UInt64?, type: String) {
        guard let count else { return }
        logger.warning("events dropped: the outbox is full (policy drop; counted in queueDrops)", metadata: [
            "dropped": "\(count)", "type": "\(type)", "capacity": "\(configuration.outboxCapacity)"])
    }

    private func logStoppedDrops(_ count: UInt64?, type: String) {
        guard let count else { return }
        logger.notice("events not sent: the bridge has stopped (counted in droppedAfterStop)", metadata: [
            "dropped": "\(count)", "type": "\(type)"])
    }

    /// Waits until the outbox has room, for at most `milliseconds`.
    /// - Returns: whether there is room.
    func waitForRoom(milliseconds: Int) -> Bool {
        room.wait(milliseconds: milliseconds) {
            state.withLockedValue { $0.outbox.count < configuration.outboxCapacity || $0.phase == .stopped || $0.phase == .stopping }
        }
    }

    /// For ``OverflowPolicy/block(timeoutMilliseconds:)``: waits for room in the outbox, then
    /// throws if there is none, so that a publisher learns before the event is published.
    /// - Throws: ``MeshError`` with code `queueFull`.
    func reserveRoom() throws(MeshError) {
        guard case .block(let timeout) = configuration.overflow else { return }
        guard waitForRoom(milliseconds: timeout) else {
            state.withLockedValue { $0.stats.publishTimeouts += 1 }
            throw MeshError(.queueFull, "node \(origin.node): the outbox stayed full for \(timeout) ms (a subscriber is not keeping up; policy block)")
        }
    }

    // MARK: Filtering

    /// Follows the node bus's subscriptions: the inbound socket subscribes to their prefixes.
    /// - Parameter bus: the bus whose subscriptions changed.
    public func subscriptionsChanged(on bus: EventBus) {
        guard state.withLockedValue({ $0.bus?.bus === bus }) else { return }
        updateFilter(bus)
        wakeup.signal()
    }

    private func updateFilter(_ bus: EventBus) {
        state.withLockedValue { state in
            // Read under this lock, so that concurrent changes are applied in order (the bus's
            // lock is taken inside this one, never the other way round).
            let patterns = bus.subscribedPatterns
            let prefixes = Self.prefixes(for: patterns, receiveAll: configuration.receiveAll)
            state.patterns = patterns
            state.lastWantedType = nil
            state.prefixes = prefixes
            state.prefixesVersion &+= 1
            guard !configuration.receiveAll else { return }
            // Types the node no longer listens to start counting afresh if it listens again.
            state.dedup.retainTypes { type in patterns.contains { $0.matches(EventType(unchecked: type)) } }
        }
    }

    /// The prefixes that cover `patterns` (plus the mesh's own `_mesh.`), with none covered by
    /// another; `[""]` (everything) when receiving all or when a pattern starts with a wildcard.
    static func prefixes(for patterns: [EventPattern], receiveAll: Bool) -> Set<String> {
        if receiveAll { return [""] }
        let candidates = Set(patterns.map(\.literalPrefix) + [MeshControlMessage.prefix])
        if candidates.contains("") { return [""] }
        return candidates.filter { prefix in
            !candidates.contains { other in other != prefix && prefix.hasPrefix(other) }
        }
    }

    /// Whether the node listens to `type` (always with `receiveAll`), given the node bus's
    /// patterns (read under the lock).
    static func wants(_ type: EventType, patterns: [EventPattern], receiveAll: Bool) -> Bool {
        receiveAll || patterns.contains { $0.matches(type) }
    }

    // MARK: Stats

    /// What the bridge has done so far.
    public var stats: MeshBridgeStats {
        state.withLockedValue { state in
            var stats = state.stats
            stats.nodeID = origin.node
            stats.incarnation = origin.incarnation
            stats.ready = state.isReady
            let totals = state.dedup.totals
            stats.delivered = totals.delivered
            stats.duplicates = totals.duplicates
            stats.tooOld = totals.tooOld
            stats.lost = totals.lost
            stats.origins = state.dedup.perOrigin.map { origin, counts in
                MeshBridgeStats.Origin(node: origin.node, incarnation: origin.incarnation, counts: counts)
            }.sorted { ($0.node, $0.incarnation) < ($1.node, $1.incarnation) }
            stats.trackedOrigins = state.dedup.originCount
            stats.trackedWindows = state.dedup.windowCount
            stats.trackedUnsequencedIDs = state.dedup.unsequencedCount
            stats.originsEvicted = state.dedup.originsEvicted
            stats.originsExpired = state.dedup.originsExpired
            stats.outboxSize = state.outbox.count
            stats.subscribedPrefixes = state.subscribedPrefixes
            return stats
        }
    }
}

extension MeshBridge {
    /// The most sent frames kept for publishers to encode into: enough for the batches an I/O
    /// thread sends at a time under load (it sends up to what publishers queued meanwhile).
    static let spareFrameLimit = 256
    /// The largest array kept as a spare frame (a frame of a large event is freed, not kept).
    static let spareFrameMaxCapacity = 4096
    /// While the I/O thread batches, publishers wake it once the outbox holds this many times
    /// ``MeshConfiguration/batchingThreshold`` events (1 024 by default), should its batching
    /// interval not have brought it back by then (see ``State/wakeIOThreadAt``). With the
    /// default interval of 1 ms, a pass comes 1 to 3 ms after the one before, so a batch that
    /// large comes on time only above about 340 000 events per second.
    static let batchWakeMultiple = 16

    /// The outbox size at which publishers wake a batching I/O thread, for a batching
    /// `threshold`: ``batchWakeMultiple`` × `threshold`, at least 1.
    static func batchWakeCount(threshold: Int) -> Int {
        let (product, overflow) = max(1, threshold).multipliedReportingOverflow(by: batchWakeMultiple)
        return overflow ? .max : product
    }
}

/// One queued outbound message.
struct OutboundMessage: Sendable {
    let type: String
    /// The envelope; emptied once sent, when its array becomes a spare frame.
    var body: [UInt8]
}

/// A weak reference to the node bus, so that the bus (which holds the bridge as its parent) and
/// the bridge do not keep each other alive.
struct WeakBus: @unchecked Sendable {
    // @unchecked: `weak` storage is read and written only inside `MeshBridge.state`'s lock.
    weak var bus: EventBus?
    init(_ bus: EventBus) { self.bus = bus }
}

extension MeshBridge {
    /// Where the bridge is in its life.
    enum Phase: Sendable {
        case idle, starting, running, stopping, stopped
    }

    /// Everything mutable, behind one lock.
    struct State: Sendable {
        var phase = Phase.idle
        var bus: WeakBus?
        var outbox: [OutboundMessage] = []
        /// Frames the I/O thread has sent, whose arrays publishers encode the next events into
        /// (at most ``MeshBridge/spareFrameLimit``).
        var spareFrames: [[UInt8]] = []
        /// How many queued events make a publisher wake the I/O thread, set by the I/O thread
        /// after each flush: 1 when the flush left the outbox empty (the thread may then block
        /// in its poll, so the first event queued wakes it); ``MeshBridge/batchWakeMultiple``
        /// × the batching threshold while it batches (it comes back after the interval on its
        /// own, but its timer can fire late, by tens of milliseconds on a virtual machine whose
        /// CPU the hypervisor paused, while the outbox grows); `Int.max` when it flushes again
        /// at once. The publisher that reaches it signals the wakeup and sets it back to
        /// `Int.max`, so one signal serves the pass and queuing otherwise needs no system call.
        var wakeIOThreadAt = Int.max
        var sequences = SequenceCounters()
        var dedup: DedupWindow
        var isReady = false
        var controlEndpoint: String?
        var boundEndpoint: String?
        /// The node bus's patterns (ignored with `receiveAll`).
        var patterns: [EventPattern] = []
        /// The last event type found in `patterns`, cleared when they change: most events are of
        /// the type before them, which then needs no matching.
        var lastWantedType: String?
        /// The prefixes the inbound socket should subscribe to; the I/O thread applies changes.
        var prefixes: Set<String> = [MeshControlMessage.prefix]
        /// Raised whenever `prefixes` is set, so that the I/O thread compares them only then.
        var prefixesVersion: UInt64 = 0
        var subscribedPrefixes: [String] = []
        var readyWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID = 0
        var stats = MeshBridgeStats()
        /// The endpoints this node's sockets connected to and are connected to now, as
        /// `outbound ENDPOINT` and `inbound ENDPOINT`, as the socket monitors name them.
        var connectedEndpoints: Set<String> = []
        /// Rate limits for the log lines of counted drops (one line a second at most, each).
        var queueDropLog = DropLog()
        var stoppedDropLog = DropLog()
        var hopLimitDropLog = DropLog()

        init(dedup: DedupWindow) {
            self.dedup = dedup
        }

        /// The latest sequence numbers a heartbeat may announce now: all of them once the outbox
        /// is empty, none while events wait in it. A heartbeat leaves before the events queued
        /// behind it, and a receiver told of numbers more than its window (1 024) beyond those
        /// it has seen counts the ones in between lost, then drops them as too old when they
        /// come. With the outbox empty, every numbered event is on the socket ahead of the
        /// heartbeat, but for the few a publishing thread is still encoding.
        var announceableSequences: [String: UInt64] {
            outbox.isEmpty ? sequences.latest : [:]
        }

        /// After queuing an event: whether the outbox has reached ``wakeIOThreadAt``, so that
        /// this publisher must wake the I/O thread (the first one to reach it, only).
        mutating func takeIOThreadWakeup() -> Bool {
            guard outbox.count >= wakeIOThreadAt else { return false }
            if wakeIOThreadAt > 1 { stats.batchWakeups += 1 }
            wakeIOThreadAt = .max
            return true
        }
    }
}

/// Rate-limits the log line of a kind of counted drop: the first drop is logged at once, later
/// ones at most once a second, each line with how many were dropped since the last one.
struct DropLog {
    private var lastLine: UInt64 = 0
    private var unlogged: UInt64 = 0

    /// Notes one drop.
    /// - Parameter now: the time (CLOCK_MONOTONIC, ns).
    /// - Returns: how many drops to report now (this one included), or `nil` to stay quiet.
    mutating func note(now: UInt64 = monotonicNanoseconds()) -> UInt64? {
        unlogged += 1
        guard lastLine == 0 || now &- lastLine >= 1_000_000_000 else { return nil }
        lastLine = now
        defer { unlogged = 0 }
        return unlogged
    }
}

/// The last sequence number given to each event type this node published. Most events are of
/// the type of the one before: the position of that type's counter is kept, so numbering it
/// hashes nothing (a position stays valid until a type is added, which looks it up again).
struct SequenceCounters: Sendable {
    /// Every type's last sequence number (what a heartbeat carries).
    private(set) var latest: [String: UInt64] = [:]
    private var last: (type: String, position: Dictionary<String, UInt64>.Index)?

    /// Numbers the next event of `type`: 1 for its first, then one more each time.
    mutating func next(for type: String) -> UInt64 {
        let position: Dictionary<String, UInt64>.Index
        if let last, last.type == type {
            position = last.position
        } else {
            if let found = latest.index(forKey: type) {
                position = found
            } else {
                latest[type] = 0
                position = latest.index(forKey: type)!
            }
            last = (type, position)
        }
        latest.values[position] += 1
        return latest.values[position]
    }
}
