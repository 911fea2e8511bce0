import Dispatch
public import EventBus
import FoundationEssentials
import Histogram
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One process of a load test: a mesh node that publishes or subscribes on the coordinator's
/// orders, which arrive over the bench's control channel (a DEALER socket), never through the
/// mesh under test.
public enum BenchWorker {
    /// What a worker does.
    public enum Role: String, Sendable {
        case publisher, subscriber
    }

    /// A worker's settings.
    public struct Options: Sendable {
        /// Publisher or subscriber.
        public var role: Role
        /// The worker's name, also its node id (e.g. `pub-0`).
        public var name: String
        /// The coordinator's ROUTER endpoint.
        public var controlEndpoint: String
        /// How the worker's node joins the mesh under test.
        public var mesh: MeshConfiguration
        /// Publisher: events to publish.
        public var count: Int = 10_000
        /// Publisher: events per second, `nil` for as fast as possible.
        public var rate: Double?
        /// Publisher: payload padding in bytes.
        public var payloadBytes: Int = 256
        /// Subscriber: how many publishers to expect end markers from.
        public var publishers: Int = 1
        /// Subscriber: microseconds of work per event, to simulate a slow consumer (0: none).
        public var workMicroseconds: Int = 0
        /// Give up after this many seconds.
        public var timeoutSeconds: Double = 120
        /// Run the raw baseline (bare libzmq PUB/SUB, no mesh) instead of a mesh node.
        public var raw = false

        /// Makes options.
        public init(role: Role, name: String, controlEndpoint: String, mesh: MeshConfiguration) {
            self.role = role
            self.name = name
            self.controlEndpoint = controlEndpoint
            self.mesh = mesh
        }
    }

    /// The type of the bench's events, and of the end marker each publisher sends last.
    public static let eventType: EventType = "bench.event"
    /// See ``eventType``.
    public static let endType: EventType = "bench.end"

    /// Runs the worker until the coordinator says stop (or the control channel goes quiet for
    /// the timeout).
    /// - Parameter options: the worker's settings.
    /// - Throws: ``MeshError`` if the node or the control socket cannot start.
    public static func run(_ options: Options) throws {
        if options.raw {
            let context = ZMQContext()
            let control: ZMQSocket
            do {
                control = try ZMQSocket(context, .dealer)
                try control.setRoutingID(Array(options.name.utf8))
                try control.connect(options.controlEndpoint)
            } catch {
                throw MeshError(.socket, "cannot reach the bench coordinator at \(options.controlEndpoint)", cause: error)
            }
            try RawBench.run(options, control: control) { send($0, on: control) }
            return
        }
        var configuration = options.mesh
        configuration.nodeID = options.name
        let node = try MeshNode(configuration: configuration)
        let context = ZMQContext()
        let control: ZMQSocket
        do {
            control = try ZMQSocket(context, .dealer)
            try control.setRoutingID(Array(options.name.utf8))
            try control.connect(options.controlEndpoint)
        } catch {
            throw MeshError(.socket, "cannot reach the bench coordinator at \(options.controlEndpoint)", cause: error)
        }
        let subscriber = options.role == .subscriber ? SubscriberState(options: options, node: node) : nil
        try node.start()
        defer { node.stop() }
        send(BenchControl.Report(kind: "hello", worker: options.name), on: control)
        waitUntilReady(node)
        send(BenchControl.Report(kind: "ready", worker: options.name), on: control)

        var memory = MemorySampler()
        var resultSent = false
        var published: [String: UInt64]?
        let deadline = monotonicNanoseconds() + UInt64(options.timeoutSeconds * 1e9)
        while monotonicNanoseconds() < deadline {
            memory.sample()
            let frames = (try? control.receive(wait: false)) ?? nil
            if frames == nil {
                // Once the coordinator has said what each publisher sent: report when every
                // event has arrived, or when nothing has arrived for a second.
                if let subscriber, let published, !resultSent, subscriber.isFinished(published: published) {
                    send(BenchControl.Report(kind: "result", worker: options.name, result: subscriber.result(memory: memory, published: published)), on: control)
                    resultSent = true
                }
                let poller = ZMQPoller()
                poller.add(control)
                _ = try? poller.poll(timeoutMilliseconds: 100)
                continue
            }
            guard let body = frames?.last, let command = try? JSONDecoder().decode(BenchControl.Command.self, from: Data(body)) else { continue }
            switch command.kind {
            case "start" where options.role == .publisher:
                let published = publish(options, on: node)
                send(BenchControl.Report(kind: "done", worker: options.name, published: published), on: control)
            case "finish" where options.role == .subscriber:
                published = command.published ?? [:]
            case "stop":
                return
            default:
                continue
            }
        }
    }

    private static func send(_ report: BenchControl.Report, on socket: ZMQSocket) {
        guard let body = try? JSONEncoder().encode(report) else { return }
        _ = try? socket.send(Array(body))
    }

    private static func waitUntilReady(_ node: MeshNode) {
        let ready = DispatchSemaphore(value: 0)
        Task {
            await node.ready()
            ready.signal()
        }
        ready.wait()
    }

    /// Publishes the events on a fixed schedule (or as fast as possible), then the end marker.
    private static func publish(_ options: Options, on node: MeshNode) -> UInt64 {
        let pad = EventValue.bytes([UInt8](repeating: 0x2a, count: max(0, options.payloadBytes)))
        let interval = options.rate.map { UInt64(1e9 / $0) }
        let start = monotonicNanoseconds()
        var published: UInt64 = 0
        for sequence in UInt64(1)..<UInt64(max(0, options.count) + 1) {
            var scheduled = monotonicNanoseconds()
            if let interval {
                scheduled = start + (sequence - 1) * interval
                let now = monotonicNanoseconds()
                if scheduled > now { sleepNanoseconds(scheduled - now) }
            }
            let data: EventValue = ["s": .int(Int64(sequence)), "t": .int(Int64(scheduled)), "x": pad]
            do {
                try node.publish(eventType, data: data)
                published += 1
            } catch {
                break
            }
        }
        _ = try? node.publish(endType, data: ["last": .int(Int64(published))])
        return published
    }

    private static func sleepNanoseconds(_ nanoseconds: UInt64) {
        var request = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 { request = remaining }
    }
}

/// A subscriber's counts, updated on the node's I/O thread and read by the control loop.
final class SubscriberState: Sendable {
    private struct Counts {
        var tallies: [String: BenchTally] = [:]
        var latency = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000_000, numberOfSignificantValueDigits: .three)
        var first: UInt64?
        var last: UInt64 = 0
        /// When the coordinator said the publishers were done (0: not yet).
        var finishAsked: UInt64 = 0
    }
    private let counts = LockedValueBox(Counts())
    private let node: MeshNode
    private let publishers: Int

    init(options: BenchWorker.Options, node: MeshNode) {
        self.node = node
        self.publishers = options.publishers
        let work = UInt64(max(0, options.workMicroseconds)) * 1000
        let counts = self.counts
        node.bus.subscribe(BenchWorker.eventType) { event in
            let now = monotonicNanoseconds()
            guard let publisher = event.origin?.node, let sequence = event.data["s"]?.intValue, let scheduled = event.data["t"]?.intValue else { return }
            counts.withLockedValue { counts in
                counts.tallies[publisher, default: BenchTally()].record(UInt64(sequence))
                let latency = now > UInt64(scheduled) ? now - UInt64(scheduled) : 0
                // Measured from the scheduled send time, so a publisher that falls behind its
                // schedule shows up as latency: that is the coordinated-omission correction.
                _ = counts.latency.record(max(1, latency))
                if counts.first == nil { counts.first = now }
                counts.last = now
            }
            if work > 0 {
                let end = monotonicNanoseconds() + work
                while monotonicNanoseconds() < end {}
            }
        }
        node.bus.subscribe(BenchWorker.endType) { event in
            guard let publisher = event.origin?.node, let last = event.data["last"]?.intValue else { return }
            counts.withLockedValue { $0.tallies[publisher, default: BenchTally()].end(at: UInt64(last)) }
        }
    }

    /// Whether every published event has arrived, or nothing has for a second.
    func isFinished(published: [String: UInt64]) -> Bool {
        counts.withLockedValue { counts in
            let complete = published.allSatisfy { publisher, sent in (counts.tallies[publisher]?.distinct ?? 0) >= sent }
            let quiet = monotonicNanoseconds() - max(counts.last, counts.finishAsked) > 1_000_000_000
            if counts.finishAsked == 0 { counts.finishAsked = monotonicNanoseconds() }
            return complete || quiet
        }
    }

    func result(memory: MemorySampler, published: [String: UInt64]) -> BenchControl.SubscriberResult {
        let mesh = node.bridge.stats
        return counts.withLockedValue { counts in
            let tallies = counts.tallies.values
            let distinct = tallies.reduce(0) { $0 + $1.distinct }
            let seconds = counts.first.map { Double(counts.last - $0) / 1e9 } ?? 0
            let histogram = counts.latency
            func micro(_ value: UInt64) -> Double { Double(value) / 1000 }
            return BenchControl.SubscriberResult(
                node: node.configuration.nodeID,
                received: tallies.reduce(0) { $0 + $1.received },
                distinct: distinct,
                lost: published.reduce(0) { total, entry in
                    let distinct = counts.tallies[entry.key]?.distinct ?? 0
                    return total + (entry.value > distinct ? entry.value - distinct : 0)
                },
                distinctPerPublisher: counts.tallies.mapValues(\.distinct),
                duplicates: tallies.reduce(0) { $0 + $1.duplicates },
                outOfOrder: tallies.reduce(0) { $0 + $1.outOfOrder },
                throughput: seconds > 0 ? Double(distinct) / seconds : 0,
                latencyMicroseconds: histogram.totalCount == 0 ? [:] : [
                    "p50": micro(histogram.valueAtPercentile(50)), "p90": micro(histogram.valueAtPercentile(90)),
                    "p99": micro(histogram.valueAtPercentile(99)), "p99.9": micro(histogram.valueAtPercentile(99.9)),
                    "max": micro(histogram.max),
                ],
                meshDelivered: mesh.delivered, meshLost: mesh.lost, meshDuplicates: mesh.duplicates,
                rssMiB: ["start": memory.start, "peak": memory.peak, "end": memory.end])
        }
    }
}

/// Samples the process's resident memory (Linux `/proc/self/statm`) at most once a second.
struct MemorySampler {
    private(set) var start: Double = 0
    private(set) var peak: Double = 0
    private(set) var end: Double = 0
    private var lastSample: UInt64 = 0

    mutating func sample() {
        let now = monotonicNanoseconds()
        guard now - lastSample >= 1_000_000_000 || lastSample == 0 else { return }
        lastSample = now
        guard let mib = Self.residentMiB() else { return }
        if start == 0 { start = mib }
        peak = max(peak, mib)
        end = mib
    }

    static func residentMiB() -> Double? {
        guard let file = fopen("/proc/self/statm", "r") else { return nil }
        defer { fclose(file) }
        var size = 0
        var resident = 0
        guard fscanf_statm(file, &size, &resident) else { return nil }
        return Double(resident * Int(sysconf(Int32(_SC_PAGESIZE)))) / 1_048_576
    }

    private static func fscanf_statm(_ file: UnsafeMutablePointer<FILE>, _ size: inout Int, _ resident: inout Int) -> Bool {
        var buffer = [CChar](repeating: 0, count: 128)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
        let fields = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self).split(separator: " ")
        guard fields.count >= 2, let first = Int(fields[0]), let second = Int(fields[1]) else { return false }
        size = first
        resident = second
        return true
    }
}
