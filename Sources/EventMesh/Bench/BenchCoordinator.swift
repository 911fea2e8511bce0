public import Foundation
public import Logging
import ZeroMQ

/// Runs a fan-out load test: brokers in this process, publisher and subscriber workers as
/// child processes (`mesh bench worker`), orders and results over a ROUTER socket of its own.
public enum BenchCoordinator {
    /// What to run.
    public struct Plan: Sendable, Codable {
        /// Publisher processes.
        public var publishers = 1
        /// Subscriber processes.
        public var subscribers = 1
        /// Events per publisher.
        public var count = 10_000
        /// Events per second per publisher; `nil` for as fast as possible.
        public var rate: Double?
        /// Payload padding in bytes.
        public var payloadBytes = 256
        /// Brokers side by side (every worker connects to all).
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

    /// Runs the plan.
    /// - Parameters:
    ///   - plan: what to run.
    ///   - executable: the `mesh` executable the workers run (`mesh bench worker …`).
    ///   - logger: where progress goes.
    /// - Returns: the report.
    /// - Throws: ``MeshError`` if a broker, the control socket or a worker cannot start, or the
    ///   workers do not become ready in time.
    public static func run(_ plan: Plan, executable: URL, logger: Logger) throws(MeshError) -> Report {
        var brokers: [Broker] = []
        var proxies: [RawBench.Proxy] = []
        var addresses: [BrokerAddress] = []
        defer {
            for broker in brokers { broker.stop() }
            for proxy in proxies { proxy.stop() }
        }
        if plan.raw {
            for _ in 0..<max(1, plan.brokers) {
                let proxy = try RawBench.Proxy(highWaterMark: plan.highWaterMark)
                proxies.append(proxy)
                addresses.append(proxy.address)
            }
        }
        for _ in 0..<(plan.raw ? 0 : max(1, plan.brokers)) {
            do {
                let broker = try Broker(highWaterMark: plan.highWaterMark, logger: logger)
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
        func launch(_ name: String, role: String) throws(MeshError) {
            var arguments = ["bench", "worker", "--role", role, "--name", name, "--control", controlEndpoint,
                             "--hwm", "\(plan.highWaterMark)", "--dedup", plan.dedup ? "on" : "off",
                             "--count", "\(plan.count)", "--size", "\(plan.payloadBytes)", "--publishers", "\(plan.publishers)",
                             "--work-us", "\(plan.workMicroseconds)", "--log-level", "error"]
            if let rate = plan.rate { arguments += ["--rate", "\(rate)"] }
            if plan.raw { arguments.append("--raw") }
            for address in addresses { arguments += ["--broker", address.description] }
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
        for name in subscriberNames { try launch(name, role: "subscriber") }
        for name in publisherNames { try launch(name, role: "publisher") }

        // Every worker's node ready (its subscriptions live on every broker), then go.
        var ready = Set<String>()
        let readyDeadline = Date().addingTimeInterval(60)
        while ready.count < workers.count {
            guard Date() < readyDeadline else {
                throw MeshError(.timedOut, "only \(ready.count) of \(workers.count) bench workers became ready within 60 s")
            }
            if let (worker, report) = receive(control, timeoutMilliseconds: 200), report.kind == "ready" { ready.insert(worker) }
            if let dead = workers.first(where: { !$0.value.isRunning }) {
                throw MeshError(.socket, "bench worker \(dead.key) exited with status \(dead.value.terminationStatus) before it was ready")
            }
        }
        logger.info("bench: every worker is ready; publishing", metadata: ["workers": "\(workers.count)"])
        let started = Date()
        for name in publisherNames { send(BenchControl.Command(kind: "start"), to: name, on: control) }

        var published: [String: UInt64] = [:]
        var results: [String: BenchControl.SubscriberResult] = [:]
        var deadline = Date.distantFuture
        while results.count < subscriberNames.count && Date() < deadline {
            guard let (worker, report) = receive(control, timeoutMilliseconds: 200) else { continue }
            switch report.kind {
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
