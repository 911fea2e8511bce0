import EventBus
import Histogram
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The publishing schedule of a load test: event `n` (from 1) is due at start + (n − 1) ×
/// interval, or at once when there is no rate.
struct PublishSchedule {
    private let start = monotonicNanoseconds()
    private let interval: UInt64?

    init(rate: Double?) {
        interval = rate.map { UInt64(1e9 / $0) }
    }

    /// Waits until event `sequence` is due.
    /// - Returns: its scheduled time (CLOCK_MONOTONIC, ns), from which latency is measured.
    func waitFor(_ sequence: UInt64) -> UInt64 {
        guard let interval else { return monotonicNanoseconds() }
        let scheduled = start + (sequence - 1) * interval
        let now = monotonicNanoseconds()
        if scheduled > now {
            var request = timespec(tv_sec: Int((scheduled - now) / 1_000_000_000), tv_nsec: Int((scheduled - now) % 1_000_000_000))
            var remaining = timespec()
            while nanosleep(&request, &remaining) != 0 { request = remaining }
        }
        return scheduled
    }
}

/// A subscriber's bench counts, from which its result is made.
struct BenchCounts {
    var tallies: [String: BenchTally] = [:]
    var latency = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
    var first: UInt64?
    var last: UInt64 = 0
    /// When the coordinator said the publishers were done (0: not yet).
    var finishAsked: UInt64 = 0

    /// Counts one event: its publisher, sequence number and scheduled send time.
    mutating func record(publisher: String, sequence: UInt64, scheduled: UInt64) {
        let now = monotonicNanoseconds()
        tallies[publisher, default: BenchTally()].record(sequence)
        // Measured from the scheduled send time, so a publisher that falls behind its schedule
        // shows up as latency: that is the coordinated-omission correction.
        _ = latency.record(max(1, now > scheduled ? now - scheduled : 0))
        if first == nil { first = now }
        last = now
    }

    /// Whether every published event has arrived, or nothing has for a second since the
    /// coordinator said the publishers were done.
    mutating func isFinished(published: [String: UInt64]) -> Bool {
        if finishAsked == 0 { finishAsked = monotonicNanoseconds() }
        let complete = published.allSatisfy { publisher, sent in (tallies[publisher]?.distinct ?? 0) >= sent }
        return complete || monotonicNanoseconds() - max(last, finishAsked) > 1_000_000_000
    }

    /// The subscriber's result: bench counts against what each publisher reported sending.
    func result(
        node: String, published: [String: UInt64], mesh: MeshBridgeStats?, memory: MemorySampler
    ) -> BenchControl.SubscriberResult {
        let distinct = tallies.values.reduce(0) { $0 + $1.distinct }
        let seconds = first.map { Double(last - $0) / 1e9 } ?? 0
        func micro(_ value: UInt64) -> Double { Double(value) / 1000 }
        return BenchControl.SubscriberResult(
            node: node,
            received: tallies.values.reduce(0) { $0 + $1.received },
            distinct: distinct,
            lost: published.reduce(0) { total, entry in
                let got = tallies[entry.key]?.distinct ?? 0
                return total + (entry.value > got ? entry.value - got : 0)
            },
            distinctPerPublisher: tallies.mapValues(\.distinct),
            duplicates: tallies.values.reduce(0) { $0 + $1.duplicates },
            outOfOrder: tallies.values.reduce(0) { $0 + $1.outOfOrder },
            throughput: seconds > 0 ? Double(distinct) / seconds : 0,
            latencyMicroseconds: latency.totalCount == 0 ? [:] : [
                "p50": micro(latency.valueAtPercentile(50)), "p90": micro(latency.valueAtPercentile(90)),
                "p99": micro(latency.valueAtPercentile(99)), "p99.9": micro(latency.valueAtPercentile(99.9)),
                "max": micro(latency.max),
            ],
            meshDelivered: mesh?.delivered ?? 0, meshLost: mesh?.lost ?? 0, meshDuplicates: mesh?.duplicates ?? 0,
            rssMiB: ["start": memory.start, "peak": memory.peak, "end": memory.end])
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
