public import Foundation
public import Logging
import ZeroMQ

/// Runs a fan-out load test: brokers in this process (or none: publishers bound, subscribers
/// connected to each), publisher and subscriber workers as child processes
/// (`mesh bench worker`), orders and results over a ROUTER socket of its own.
public enum BenchCoordinator {
    /// How the workers are joined.
    public enum Topology: String, Sendable, Codable, CaseIterable {
        /// Every worker connects to every broker (`zmq_proxy` for the raw baseline).
        case broker
        /// Each publisher binds; each subscriber connects to every publisher (no broker).
        case peer
    }

    /// What to run.
    public struct Plan: Sendable, Codable {
        /// Publisher processes.
        public var publishers = 1
        /// Subscriber processes.
        public var subscribers = 1
        /// Events per publisher (ignored with a duration).
        public var count = 10_000
        /// Seconds each publisher publishes for, warm-up included; `nil` to publish `count`.
        public var durationSeconds: Double?
        /// The first seconds of publishing, left out of throughput and latency (their events
        /// still count for loss, duplicates and order).
        public var warmupSeconds: Double = 0
        /// How the workers are joined.
        public var topology = Topology.broker
        /// Events per second per publisher; `nil` for as fast as possible.
        public var rate: Double?
        /// Payload padding in bytes.
        public var payloadBytes = 256
        /// Brokers side by side (every worker connects to all); unused in the peer topology.
        public var brokers = 1
        /// High-water mark of every socket (workers and brokers).
        public var highWaterMark = 10_000
        /// Whether the workers' nodes drop duplicates.
        public var dedup = true
        /// Subscriber: microseconds of work per event (a slow consumer); 0 for none.
        public var workMicroseconds = 0
        /// Seconds to wait for results after the publishers finish.
        public var graceSeconds: Double = 30
        /// Run the raw baseline: the same traffic over bare libzmq through `zmq_proxy`.
        public var raw = false

        /// The default plan: 1 → 1, 10,000 events of 256 bytes, as fast as possible.
        public init() {}
    }

    /// What a run measured.
    public struct Report: Sendable, Codable {
        /// The plan that was run.
        public var plan: Plan
        /// Events each publisher reported publishing.
        public var published: [String: UInt64]
        /// Each subscriber's figures.
        public var subscribers: [BenchControl.SubscriberResult]
        /// Subscribers that sent no result before the deadline.
        public var missing: [String]
        /// Seconds from start to the last result.
        public var seconds: Double
    }

    /// Where a run is, told about once a second while the publishers publish.
    public struct Progress: Sendable {
        /// Seconds since the publishers were told to start.
        public var elapsedSeconds: Double
        /// Distinct events received so far, summed over the subscribers.
        public var received: UInt64
        /// Sequence numbers skipped so far, summed over the subscribers (loss known so far).
        public var gaps: UInt64
        /// Duplicates so far, summed over the subscribers.
        public var duplicates: UInt64
        /// Subscribers that have reported.
        public var subscribers: Int
    }

    /// Runs the plan.
    /// - Parameters:
    ///   - plan: what to run.
    ///   - executable: the `mesh` executable the workers run (`mesh bench worker …`).
    ///   - logger: where progress goes.
    ///   - progress: called on this thread about once a second while the publishers publish.
    /// - Returns: the report.
    /// - Throws: ``MeshError`` if a broker, the control socket or a worker cannot start, or the
    ///   workers do not become ready in time.
    public static func run(
        _ plan: Plan, executable: URL, logger: Logger, progress: ((Progress) -> Void)? = nil
    ) throws(MeshError) -> Report {
        var brokers: [Broker] = []
        var proxies: [RawBench.Proxy] = []
        var addresses: [BrokerAddress] = []
        defer {
            for broker in brokers { broker.stop() }
            for proxy in proxies { proxy.stop() }
        }
        let brokerCount = plan.topology == .peer ? 0 : max(1, plan.brokers)
        if plan.raw {
            for _ in 0..<brokerCount {
                let proxy = try RawBench.Proxy(highWaterMark: plan.highWaterMark)
                proxies.append(proxy)
                addresses.append(proxy.address)
            }
        }
        for _ in 0..<(plan.raw ? 0 : brokerCount) {
            do {
                // The broker's own lines (its endpoints) are noise in a bench's output.
                var brokerLogger = logger
                brokerLogger.logLevel = max(logger.logLevel, .warning)
                let broker = try Broker(highWaterMark: plan.highWaterMark, logger: brokerLogger)
                addresses.append(try broker.start())
                brokers.append(broker)
            } catch let error as MeshError {
                throw error
            } catch {
                throw MeshError(.socket, "cannot start a broker", cause: error)
            }
        }
        let context = ZMQContext()
        let control: ZMQSocket
        let controlEndpoint: String
        do {
            control = try ZMQSocket(context, .router)
            try control.bind("tcp://127.0.0.1:*")
            controlEndpoint = try control.lastEndpoint
        } catch {
            throw MeshError(.socket, "cannot bind the bench control socket", cause: error)
        }

        var workers: [String: Process] = [:]
        defer {
            for process in workers.values where process.isRunning { process.terminate() }
        }
        func launch(_ name: String, role: String, peers: [String] = []) throws(MeshError) {
            var arguments = ["bench", "worker", "--role", role, "--name", name, "--control", controlEndpoint,
                             "--hwm", "\(plan.highWaterMark)", "--dedup", plan.dedup ? "on" : "off",
                             "--count", "\(plan.count)", "--size", "\(plan.payloadBytes)", "--publishers", "\(plan.publishers)",
                             "--work-us", "\(plan.workMicroseconds)", "--warmup", "\(plan.warmupSeconds)", "--log-level", "error"]
            if let rate = plan.rate { arguments += ["--rate", "\(rate)"] }
            if let duration = plan.durationSeconds { arguments += ["--duration", "\(duration)"] }
            if plan.raw { arguments.append("--raw") }
            for address in addresses { arguments += ["--broker", address.description] }
            if plan.topology == .peer && role == "publisher" { arguments += ["--bind", "tcp://127.0.0.1:*"] }
            for peer in peers { arguments += ["--peer", peer] }
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            do {
                try process.run()
            } catch {
                throw MeshError(.socket, "cannot start worker \(name) (\(executable.path))", cause: error)
            }
            workers[name] = process
        }
        let subscriberNames = (0..<plan.subscribers).map { "sub-\($0)" }
        let publisherNames = (0..<plan.publishers).map { "pub-\($0)" }

        // Waits for reports until `done` says so; a worker that exits, or the deadline, ends it
        // with an error.
        var ready = Set<String>()
        var endpoints: [String: String] = [:]
        func waitFor(_ what: String, until done: () -> Bool) throws(MeshError) {
            let deadline = Date().addingTimeInterval(60)
            while !done() {
                guard Date() < deadline else { throw MeshError(.timedOut, "bench workers did not \(what) within 60 s") }
                if let (worker, report) = receive(control, timeoutMilliseconds: 200) {
                    if report.kind == "ready" { ready.insert(worker) }
                    if report.kind == "hello", let endpoint = report.endpoint { endpoints[worker] = endpoint }
                }
                if let dead = workers.first(where: { !$0.value.isRunning }) {
                    throw MeshError(.socket, "bench worker \(dead.key) exited with status \(dead.value.terminationStatus) before it was ready")
                }
            }
        }
        switch plan.topology {
        case .broker:
            for name in subscriberNames { try launch(name, role: "subscriber") }
            for name in publisherNames { try launch(name, role: "publisher") }
        case .peer:
            // Publishers first: subscribers connect to the endpoints they bound.
            for name in publisherNames { try launch(name, role: "publisher") }
            try waitFor("bind their endpoints") { endpoints.count == publisherNames.count }
            let peers = publisherNames.compactMap { endpoints[$0] }
            for name in subscriberNames { try launch(name, role: "subscriber", peers: peers) }
        }
        // Every worker's node ready (its subscriptions live on every path), then go.
        try waitFor("become ready") { ready.count == workers.count }
        logger.debug("bench: every worker is ready; publishing", metadata: ["workers": "\(workers.count)"])
        let started = Date()
        for name in publisherNames { send(BenchControl.Command(kind: "start"), to: name, on: control) }

        var published: [String: UInt64] = [:]
        var results: [String: BenchControl.SubscriberResult] = [:]
        var latest: [String: BenchControl.Progress] = [:]
        var lastProgress = Date()
        var deadline = Date.distantFuture
        while results.count < subscriberNames.count && Date() < deadline {
            if let progress, published.count < publisherNames.count, Date().timeIntervalSince(lastProgress) >= 1 {
                lastProgress = Date()
                progress(Progress(
                    elapsedSeconds: lastProgress.timeIntervalSince(started),
                    received: latest.values.reduce(0) { $0 + $1.distinct }, gaps: latest.values.reduce(0) { $0 + $1.gaps },
                    duplicates: latest.values.reduce(0) { $0 + $1.duplicates }, subscribers: latest.count))
            }
            guard let (worker, report) = receive(control, timeoutMilliseconds: 200) else { continue }
            switch report.kind {
            case "progress":
                if let update = report.progress { latest[worker] = update }
            case "done":
                published[worker] = report.published ?? 0
                if published.count == publisherNames.count {
                    // Every publisher is done: tell the subscribers what was sent (over this
                    // channel, so a lost end marker still counts) and give them the grace period.
                    deadline = Date().addingTimeInterval(plan.graceSeconds)
                    for name in subscriberNames { send(BenchControl.Command(kind: "finish", published: published), to: name, on: control) }
                }
            case "result":
                if let result = report.result { results[worker] = result }
            default:
                break
            }
        }
        let seconds = Date().timeIntervalSince(started)
        for name in workers.keys { send(BenchControl.Command(kind: "stop"), to: name, on: control) }
        let exitDeadline = Date().addingTimeInterval(10)
        while workers.values.contains(where: \.isRunning) && Date() < exitDeadline {
            _ = receive(control, timeoutMilliseconds: 50)
        }
        return Report(
            plan: plan, published: published, subscribers: subscriberNames.compactMap { results[$0] },
            missing: subscriberNames.filter { results[$0] == nil }, seconds: seconds)
    }

    private static func send(_ command: BenchControl.Command, to worker: String, on socket: ZMQSocket) {
        guard let body = try? JSONEncoder().encode(command) else { return }
        _ = try? socket.send(frames: [Array(worker.utf8), Array(body)])
    }

    private static func receive(_ socket: ZMQSocket, timeoutMilliseconds: Int) -> (String, BenchControl.Report)? {
        let poller = ZMQPoller()
        poller.add(socket)
        guard (try? poller.poll(timeoutMilliseconds: timeoutMilliseconds)) ?? 0 > 0,
              let frames = (try? socket.receive(wait: false)) ?? nil, frames.count == 2,
              let report = try? JSONDecoder().decode(BenchControl.Report.self, from: Data(frames[1]))
        else { return nil }
        return (String(decoding: frames[0], as: UTF8.self), report)
    }
}
