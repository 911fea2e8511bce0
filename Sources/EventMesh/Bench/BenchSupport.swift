import EventBus
import Histogram
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The publishing schedule of a load test: event `n` (from 1) is due at start + (n − 1) ×
/// interval, or at once when there is no rate; the run ends after `count` events or, with a
/// duration, when the next event would be due after it. Events due in the first `warmup`
/// seconds are warm-up events.
struct PublishSchedule {
    private let start: UInt64
    private let interval: UInt64?
    private let count: UInt64?
    private let end: UInt64?
    private let warmupEnd: UInt64
    /// The stamp clock's reading minus CLOCK_MONOTONIC's.
    private let clockOffset: Int64

    /// - Parameters:
    ///   - rate: events per second, `nil` for as fast as possible.
    ///   - count: events to publish (ignored with a duration).
    ///   - durationSeconds: how long to publish, warm-up included; `nil` to publish `count`.
    ///   - warmupSeconds: how long the warm-up lasts.
    ///   - clock: the clock scheduled times are given on (the schedule itself runs on
    ///     CLOCK_MONOTONIC, which never jumps).
    init(rate: Double?, count: Int, durationSeconds: Double? = nil, warmupSeconds: Double = 0, clock: BenchClock = .monotonic) {
        clockOffset = clock.offsetFromMonotonic()
        let start = monotonicNanoseconds()
        self.start = start
        interval = rate.map { UInt64(1e9 / $0) }
        self.count = durationSeconds == nil ? UInt64(max(0, count)) : nil
        end = durationSeconds.map { start + UInt64($0 * 1e9) }
        warmupEnd = start + UInt64(max(0, warmupSeconds) * 1e9)
    }

    /// Waits until event `sequence` is due.
    /// - Returns: its scheduled time (ns, on the schedule's clock), from which latency is
    ///   measured, and whether it falls in the warm-up; `nil` once the run is over.
    func next(_ sequence: UInt64) -> (scheduled: UInt64, warmup: Bool)? {
        if let count, sequence > count { return nil }
        guard let interval else {
            let now = monotonicNanoseconds()
            if let end, now >= end { return nil }
            return (stamp(now), now < warmupEnd)
        }
        let scheduled = start + (sequence - 1) * interval
        if let end, scheduled >= end { return nil }
        let now = monotonicNanoseconds()
        if scheduled > now {
            var request = timespec(tv_sec: Int((scheduled - now) / 1_000_000_000), tv_nsec: Int((scheduled - now) % 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 { request = remaining }
        }
        return (stamp(scheduled), scheduled < warmupEnd)
    }

    private func stamp(_ monotonic: UInt64) -> UInt64 {
        UInt64(bitPattern: Int64(bitPattern: monotonic) &+ clockOffset)
    }
}

/// A subscriber's bench counts, from which its result is made.
struct BenchCounts {
    var tallies: [String: BenchTally] = [:]
    var latency = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
    /// The last arrival of any event.
    var last: UInt64 = 0
    /// The first and last arrivals of events published after the warm-up.
    var firstMeasured: UInt64?
    var lastMeasured: UInt64 = 0
    /// Distinct events published after the warm-up, and during it.
    var measured: UInt64 = 0
    var warmup: UInt64 = 0
    /// When the coordinator said the publishers were done (0: not yet).
    var finishAsked: UInt64 = 0
    /// The clock the publishers stamp scheduled times on.
    var clock = BenchClock.monotonic

    /// Counts one event: its publisher, sequence number, scheduled send time, and whether it
    /// was published during the warm-up (counted for loss, duplicates and order only).
    mutating func record(publisher: String, sequence: UInt64, scheduled: UInt64, warmup isWarmup: Bool = false) {
        let now = monotonicNanoseconds()
        let isNew = tallies[publisher, default: BenchTally()].record(sequence)
        last = now
        if isWarmup {
            if isNew { warmup += 1 }
            return
        }
        // Measured from the scheduled send time, so a publisher that falls behind its schedule
        // shows up as latency: that is the coordinated-omission correction.
        let arrival = clock == .monotonic ? now : clock.now()
        _ = latency.record(max(1, arrival > scheduled ? arrival - scheduled : 0))
        if isNew { measured += 1 }
        if firstMeasured == nil { firstMeasured = now }
        lastMeasured = now
    }

    /// The counts so far.
    var progress: BenchControl.Progress {
        BenchControl.Progress(
            distinct: tallies.values.reduce(0) { $0 + $1.distinct },
            duplicates: tallies.values.reduce(0) { $0 + $1.duplicates },
            gaps: tallies.values.reduce(0) { $0 + $1.lost })
    }

    /// Whether every published event has arrived — and, where copies arrive on several paths
    /// (dedup off), each publisher's end marker on every path, after which no copy is still on
    /// its way — or nothing has arrived for a second since the coordinator said the
    /// publishers were done.
    /// - Parameters:
    ///   - published: what each publisher reported sending.
    ///   - endMarkers: the end markers received from each publisher, and how many to wait for
    ///     (0: do not wait for them).
    mutating func isFinished(published: [String: UInt64], endMarkers: [String: Int] = [:], expectedEndMarkers: Int = 0) -> Bool {
        if finishAsked == 0 { finishAsked = monotonicNanoseconds() }
        let complete = published.allSatisfy { publisher, sent in
            (tallies[publisher]?.distinct ?? 0) >= sent && endMarkers[publisher, default: 0] >= expectedEndMarkers
        }
        return complete || monotonicNanoseconds() - max(last, finishAsked) > 1_000_000_000
    }

    /// The subscriber's result: bench counts against what each publisher reported sending.
    func result(
        node: String, published: [String: UInt64], mesh: MeshBridgeStats?, memory: MemorySampler
    ) -> BenchControl.SubscriberResult {
        let seconds = firstMeasured.map { Double(lastMeasured - $0) / 1e9 } ?? 0
        func micro(_ value: UInt64) -> Double { Double(value) / 1000 }
        var result = BenchControl.SubscriberResult(
            node: node,
            received: tallies.values.reduce(0) { $0 + $1.received },
            distinct: tallies.values.reduce(0) { $0 + $1.distinct },
            lost: published.reduce(0) { total, entry in
                let got = tallies[entry.key]?.distinct ?? 0
                return total + (entry.value > got ? entry.value - got : 0)
            },
            distinctPerPublisher: tallies.mapValues(\.distinct),
            duplicates: tallies.values.reduce(0) { $0 + $1.duplicates },
            outOfOrder: tallies.values.reduce(0) { $0 + $1.outOfOrder },
            throughput: seconds > 0 ? Double(measured) / seconds : 0,
            latencyMicroseconds: latency.totalCount == 0 ? [:] : [
                "p50": micro(latency.valueAtPercentile(50)), "p90": micro(latency.valueAtPercentile(90)),
                "p99": micro(latency.valueAtPercentile(99)), "p99.9": micro(latency.valueAtPercentile(99.9)),
                "max": micro(latency.max),
            ],
            meshDelivered: mesh?.delivered ?? 0, meshLost: mesh?.lost ?? 0, meshDuplicates: mesh?.duplicates ?? 0,
            rssMiB: ["start": memory.start, "peak": memory.peak, "end": memory.end])
        result.measuredSeconds = seconds
        result.warmupEvents = warmup
        let origin = firstMeasured ?? last
        result.rssTimeline = memory.timeline.map { sample in
            BenchControl.MemorySample(seconds: (Double(sample.time) - Double(origin)) / 1e9, mib: sample.mib)
        }
        return result
    }
}

/// Connects a worker's DEALER to the coordinator, named after the worker.
func connectToCoordinator(_ options: BenchWorker.Options, context: ZMQContext) throws(MeshError) -> ZMQSocket {
    do {
        let control = try ZMQSocket(context, .dealer)
        try control.setRoutingID(Array(options.name.utf8))
        try control.connect(options.controlEndpoint)
        return control
    } catch {
        throw MeshError(.socket, "cannot reach the bench coordinator at \(options.controlEndpoint)", cause: error)
    }
}
