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
        /// Publisher: events to publish (ignored with a duration).
        public var count: Int = 10_000
        /// Publisher: seconds to publish for, warm-up included; `nil` to publish `count` events.
        public var durationSeconds: Double?
        /// Publisher: the first seconds of publishing, whose events are counted for loss,
        /// duplicates and order but left out of throughput and latency.
        public var warmupSeconds: Double = 0
        /// Publisher: events per second, `nil` for as fast as possible.
        public var rate: Double?
        /// Publisher: payload padding in bytes.
        public var payloadBytes: Int = 256
        /// Subscriber: how many publishers to expect end markers from.
        public var publishers: Int = 1
        /// Subscriber: microseconds of work per event, to simulate a slow consumer (0: none).
        public var workMicroseconds: Int = 0
        /// Give up after this many seconds (plus the duration, if any).
        public var timeoutSeconds: Double = 120
        /// Raw baseline, peer topology: the publisher binds here (its subscribers connect to it)
        /// instead of connecting to brokers. The mesh uses `mesh.bindEndpoint` for the same.
        public var rawBindEndpoint: String?
        /// Raw baseline, peer topology: the subscriber connects to these publishers.
        public var rawPeers: [String] = []
        /// Run the raw baseline (bare libzmq PUB/SUB, no mesh) instead of a mesh node.
        public var raw = false
        /// The clock scheduled send times are stamped on and latency is measured on.
        public var clock = BenchClock.monotonic

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
        let context = ZMQContext()
        let control = try connectToCoordinator(options, context: context)
        if options.raw {
            try RawBench.run(options, control: control) { send($0, on: control) }
            return
        }
        var configuration = options.mesh
        configuration.nodeID = options.name
        let node = try MeshNode(configuration: configuration)
        let subscriber = options.role == .subscriber ? SubscriberState(options: options, node: node) : nil
        try node.start()
        defer { node.stop() }
        send(BenchControl.Report(kind: "hello", worker: options.name, endpoint: node.bridge.boundEndpoint), on: control)
        waitUntilReady(node)
        send(BenchControl.Report(kind: "ready", worker: options.name), on: control)

        var memory = MemorySampler()
        var resultSent = false
        var published: [String: UInt64]?
        let deadline = monotonicNanoseconds() + UInt64((options.timeoutSeconds + (options.durationSeconds ?? 0)) * 1e9)
        while monotonicNanoseconds() < deadline {
            if memory.sample(), let subscriber, !resultSent {
                send(BenchControl.Report(kind: "progress", worker: options.name, progress: subscriber.progress), on: control)
            }
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
    ///
    /// Each event's payload is `s`, its sequence number (negated for a warm-up event, as raw
    /// libzmq's header marks one with a bit of a field it reads anyway), `t`, its scheduled send
    /// time, and `x`, the pad.
    private static func publish(_ options: Options, on node: MeshNode) -> UInt64 {
        let pad = EventValue.bytes([UInt8](repeating: 0x2a, count: max(0, options.payloadBytes)))
        let schedule = PublishSchedule(
            rate: options.rate, count: options.count, durationSeconds: options.durationSeconds, warmupSeconds: options.warmupSeconds,
            clock: options.clock)
        var published: UInt64 = 0
        var sequence: UInt64 = 1
        while let (scheduled, warmup) = schedule.next(sequence) {
            let data: EventValue = ["s": .int(warmup ? -Int64(sequence) : Int64(sequence)), "t": .int(Int64(scheduled)), "x": pad]
            do {
                try node.publish(eventType, data: data)
                published += 1
            } catch {
                break
            }
            sequence += 1
        }
        _ = try? node.publish(endType, data: ["last": .int(Int64(published))])
        return published
    }
}

/// A subscriber's counts, updated on the node's I/O thread and read by the control loop.
final class SubscriberState: Sendable {
    private let counts: LockedValueBox<BenchCounts>
    /// End markers received per publisher (one per path with dedup off).
    private let endMarkers = LockedValueBox<[String: Int]>([:])
    /// With dedup off, each event comes once per broker: so does each end marker, the last of
    /// its path. With dedup on, one.
    private let expectedEndMarkers: Int
    private let node: MeshNode

    init(options: BenchWorker.Options, node: MeshNode) {
        self.node = node
        var initial = BenchCounts()
        initial.clock = options.clock
        counts = LockedValueBox(initial)
        let mesh = options.mesh
        expectedEndMarkers = mesh.dedupEnabled ? 1 : max(1, mesh.brokers.count + mesh.peers.count)
        let work = UInt64(max(0, options.workMicroseconds)) * 1000
        let counts = self.counts
        let endMarkers = self.endMarkers
        node.bus.subscribe(BenchWorker.endType) { event in
            guard let publisher = event.origin?.node else { return }
            endMarkers.withLockedValue { $0[publisher, default: 0] += 1 }
        }
        node.bus.subscribe(BenchWorker.eventType) { event in
            // Two fields, each decoded alone (the 256-byte pad is skipped, not copied), as a
            // handler that needs a few fields of a received event reads them.
            guard let publisher = event.origin?.node, let signed = event.data(forKey: "s")?.intValue,
                let scheduled = event.data(forKey: "t")?.intValue
            else { return }
            // A warm-up event's sequence number is negated (see `publish`).
            counts.withLockedValue {
                $0.record(publisher: publisher, sequence: signed.magnitude, scheduled: UInt64(scheduled), warmup: signed < 0)
            }
            if work > 0 {
                let end = monotonicNanoseconds() + work
                while monotonicNanoseconds() < end {}
            }
        }
    }

    /// The counts so far.
    var progress: BenchControl.Progress { counts.withLockedValue { $0.progress } }

    /// Whether every published event (and every path's end marker) has arrived, or nothing
    /// has for a second.
    func isFinished(published: [String: UInt64]) -> Bool {
        let markers = endMarkers.withLockedValue { $0 }
        return counts.withLockedValue { $0.isFinished(published: published, endMarkers: markers, expectedEndMarkers: expectedEndMarkers) }
    }

    func result(memory: MemorySampler, published: [String: UInt64]) -> BenchControl.SubscriberResult {
        let mesh = node.bridge.stats
        return counts.withLockedValue { $0.result(node: node.configuration.nodeID, published: published, mesh: mesh, memory: memory) }
    }
}

/// Samples the process's resident memory (Linux `/proc/self/statm`) at most once a second.
struct MemorySampler {
    private(set) var start: Double = 0
    private(set) var peak: Double = 0
    private(set) var end: Double = 0
    /// Every sample: when (CLOCK_MONOTONIC, ns) and how much (MiB); at most one an hour's worth.
    private(set) var timeline: [(time: UInt64, mib: Double)] = []
    private var lastSample: UInt64 = 0

    /// Takes a sample if a second has passed since the last one.
    /// - Returns: whether it did.
    @discardableResult
    mutating func sample() -> Bool {
        let now = monotonicNanoseconds()
        guard now - lastSample >= 1_000_000_000 || lastSample == 0 else { return false }
        lastSample = now
        guard let mib = Self.residentMiB() else { return true }
        if start == 0 { start = mib }
        peak = max(peak, mib)
        end = mib
        if timeline.count < 3600 { timeline.append((now, mib)) }
        return true
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
