public import Foundation
public import Logging
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Runs a fan-out load test: brokers in this process (or none: publishers bound, subscribers
/// connected to each), publisher and subscriber workers as child processes
/// (`mesh bench worker`) or, with agents, subscribers started by bench agents on other hosts
/// (``BenchAgent``); orders and results over a ROUTER socket of its own.
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
        /// The workers' ``MeshConfiguration/batchingThreshold`` (0: no batching).
        public var batchingThreshold = MeshConfiguration.defaultBatchingThreshold
        /// Subscriber: microseconds of work per event (a slow consumer); 0 for none.
        public var workMicroseconds = 0
        /// Seconds to wait for results after the publishers finish.
        public var graceSeconds: Double = 30
        /// Run the raw baseline: the same traffic over bare libzmq through `zmq_proxy`.
        public var raw = false
        /// Bench agents' endpoints (`tcp://host:7700` or `host:7700`): subscribers run there,
        /// placed round-robin; publishers and brokers stay in this process's host. Empty: every
        /// worker is a child process here.
        public var agents: [String] = []
        /// With agents: the address the agents' workers reach this host at (brokers, peer
        /// publishers); `nil` for the local address of the route to the first agent.
        public var advertiseHost: String?
        /// The clock latency is measured on; `nil` to choose: CLOCK_MONOTONIC when every
        /// agent shares this host's kernel, CLOCK_REALTIME otherwise.
        public var clock: BenchClock?
        /// How long to wait for each agent's first answer.
        public var agentTimeoutSeconds: Double = 15

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
        /// The clock latency was measured on.
        public var clock: BenchClock = .monotonic
        /// The agents, as their pings found them (empty without agents).
        public var agents: [AgentProbe] = []
    }

    /// A bench agent as the coordinator found it: its facts, the round trip of a ping over the
    /// control channel, and how far its clocks are from this host's.
    public struct AgentProbe: Codable, Sendable {
        /// The endpoint it was reached at.
        public var endpoint: String
        /// What it says about itself.
        public var info: BenchControl.AgentInfo
        /// The shortest of a few ping round trips, in microseconds.
        public var roundTripMicroseconds: Double
        /// Its CLOCK_MONOTONIC minus this host's, estimated at the middle of that round trip
        /// (accurate to within half of it).
        public var monotonicOffsetMicroseconds: Double
        /// The same for CLOCK_REALTIME.
        public var realtimeOffsetMicroseconds: Double
        /// Whether it runs on this host's kernel (same boot id), so CLOCK_MONOTONIC is shared.
        public var sharesKernel: Bool

        /// Makes a probe.
        /// - Parameters:
        ///   - endpoint: where the agent was reached.
        ///   - info: what it said about itself.
        ///   - roundTripMicroseconds: the shortest ping round trip.
        ///   - monotonicOffsetMicroseconds: its CLOCK_MONOTONIC minus this host's.
        ///   - realtimeOffsetMicroseconds: its CLOCK_REALTIME minus this host's.
        ///   - sharesKernel: whether it runs on this host's kernel.
        public init(
            endpoint: String, info: BenchControl.AgentInfo, roundTripMicroseconds: Double,
            monotonicOffsetMicroseconds: Double, realtimeOffsetMicroseconds: Double, sharesKernel: Bool
        ) {
            self.endpoint = endpoint
            self.info = info
            self.roundTripMicroseconds = roundTripMicroseconds
            self.monotonicOffsetMicroseconds = monotonicOffsetMicroseconds
            self.realtimeOffsetMicroseconds = realtimeOffsetMicroseconds
            self.sharesKernel = sharesKernel
        }

        /// Its offset on a clock.
        /// - Parameter clock: which clock.
        /// - Returns: its reading minus this host's, in microseconds.
        public func offsetMicroseconds(_ clock: BenchClock) -> Double {
            clock == .monotonic ? monotonicOffsetMicroseconds : realtimeOffsetMicroseconds
        }

        /// Whether its `clock` and this host's disagree by more than the round trip can explain
        /// (half of it): then latency measured from it is off by about the offset.
        /// - Parameter clock: which clock.
        /// - Returns: whether the offset is beyond half the round trip.
        public func clocksDisagree(_ clock: BenchClock) -> Bool {
            abs(offsetMicroseconds(clock)) > roundTripMicroseconds / 2
        }
    }

    /// The clock to measure latency on with these agents: CLOCK_MONOTONIC when every one shares
    /// this host's kernel, CLOCK_REALTIME otherwise.
    /// - Parameter agents: the agents as probed.
    /// - Returns: the clock; CLOCK_MONOTONIC without agents.
    public static func chooseClock(_ agents: [AgentProbe]) -> BenchClock {
        agents.allSatisfy(\.sharesKernel) ? .monotonic : .realtime
    }

    /// Connects to bench agents and pings each a few times.
    /// - Parameters:
    ///   - agents: their endpoints.
    ///   - timeoutSeconds: how long to wait for each one's first answer.
    /// - Returns: one probe per agent, in order.
    /// - Throws: ``MeshError`` (`timedOut`) naming an agent that did not answer.
    public static func probe(agents: [String], timeoutSeconds: Double = 15) throws(MeshError) -> [AgentProbe] {
        let context = ZMQContext()
        let socket = try controlSocket(context)
        return try connectAgents(socket, agents: agents, timeoutSeconds: timeoutSeconds)
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
    /// - Throws: ``MeshError`` if a broker, the control socket or a worker cannot start, an
    ///   agent does not answer, or the workers do not become ready in time.
    public static func run(
        _ plan: Plan, executable: URL, logger: Logger, progress: ((Progress) -> Void)? = nil
    ) throws(MeshError) -> Report {
        let context = ZMQContext()
        let control = try controlSocket(context)
        let controlEndpoint: String
        do {
            try control.bind("tcp://127.0.0.1:*")
            controlEndpoint = try control.lastEndpoint
        } catch {
            throw MeshError(.socket, "cannot bind the bench control socket", cause: error)
        }
        let agents = try connectAgents(control, agents: plan.agents, timeoutSeconds: plan.agentTimeoutSeconds)
        let clock = plan.clock ?? chooseClock(agents)
        // With agents, what this host serves is advertised at an address the agents reach.
        var advertised: String?
        if !agents.isEmpty {
            guard let host = plan.advertiseHost ?? localAddress(toward: plan.agents[0]) else {
                throw MeshError(.invalidConfiguration, "cannot tell which address of this host the agents reach (no route to \(plan.agents[0])?): give it with --advertise")
            }
            advertised = host
        }
        // Bound on the advertised address itself when it is an IPv4 address of this host (a
        // name, or an address of a NAT in front of it, cannot be bound: then every interface).
        let bindHost: String
        if let advertised {
            bindHost = isIPv4Address(advertised) && canBind(advertised) ? advertised : "0.0.0.0"
        } else {
            bindHost = "127.0.0.1"
        }
        func reachable(_ endpoint: String) -> String {
            guard let advertised, endpoint.hasPrefix("tcp://\(bindHost):") else { return endpoint }
            let host = advertised.contains(":") && !advertised.hasPrefix("[") ? "[\(advertised)]" : advertised
            return "tcp://\(host):" + endpoint.dropFirst("tcp://\(bindHost):".count)
        }

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
                let proxy = try RawBench.Proxy(highWaterMark: plan.highWaterMark, host: bindHost)
                proxies.append(proxy)
                addresses.append(proxy.address)
            }
        }
        for _ in 0..<(plan.raw ? 0 : brokerCount) {
            do {
                // The broker's own lines (its endpoints) are noise in a bench's output.
                var brokerLogger = logger
                brokerLogger.logLevel = max(logger.logLevel, .warning)
                let broker = try Broker(
                    publishBind: "tcp://\(bindHost):*", subscribeBind: "tcp://\(bindHost):*",
                    highWaterMark: plan.highWaterMark, logger: brokerLogger)
                addresses.append(try broker.start())
                brokers.append(broker)
            } catch let error as MeshError {
                throw error
            } catch {
                throw MeshError(.socket, "cannot start a broker", cause: error)
            }
        }
        addresses = addresses.map { BrokerAddress(publishEndpoint: reachable($0.publishEndpoint), subscribeEndpoint: reachable($0.subscribeEndpoint)) }

        let subscriberNames = (0..<plan.subscribers).map { "sub-\($0)" }
        let publisherNames = (0..<plan.publishers).map { "pub-\($0)" }
        // Where each subscriber runs: round-robin over the agents (none: here).
        var placement: [String: Int] = [:]
        if !agents.isEmpty {
            for (index, name) in subscriberNames.enumerated() { placement[name] = index % agents.count }
        }
        func deliver(_ command: BenchControl.Command, to worker: String) {
            let sent: Bool
            if let agent = placement[worker] {
                var relayed = command
                relayed.worker = worker
                sent = send(relayed, to: agentID(agent), on: control)
            } else {
                sent = send(command, to: worker, on: control)
            }
            if !sent {
                logger.warning("bench: a command did not reach its worker (not connected, or its queue is full)", metadata: [
                    "command": "\(command.kind)", "worker": "\(worker)"])
            }
        }

        var workers: [String: Process] = [:]
        var remote = Set<String>()
        var exited: [String: Int32] = [:]
        var stopped = false
        defer {
            for process in workers.values where process.isRunning { process.terminate() }
            // A run that failed: the agents stop their workers too (the control socket lingers
            // long enough to send this).
            if !stopped { for name in remote.sorted() { deliver(BenchControl.Command(kind: "stop"), to: name) } }
        }
        func launch(_ name: String, role: String, peers: [String] = []) throws(MeshError) {
            var arguments = ["--role", role, "--name", name,
                             "--hwm", "\(plan.highWaterMark)", "--dedup", plan.dedup ? "on" : "off",
                             "--batch-threshold", "\(plan.batchingThreshold)",
                             "--count", "\(plan.count)", "--size", "\(plan.payloadBytes)", "--publishers", "\(plan.publishers)",
                             "--work-us", "\(plan.workMicroseconds)", "--warmup", "\(plan.warmupSeconds)", "--clock", clock.rawValue,
                             "--log-level", "error"]
            if let rate = plan.rate { arguments += ["--rate", "\(rate)"] }
            if let duration = plan.durationSeconds { arguments += ["--duration", "\(duration)"] }
            if plan.raw { arguments.append("--raw") }
            for address in addresses { arguments += ["--broker", address.description] }
            if plan.topology == .peer && role == "publisher" { arguments += ["--bind", "tcp://\(bindHost):*"] }
            for peer in peers { arguments += ["--peer", peer] }
            if let agent = placement[name] {
                guard send(BenchControl.Command(kind: "spawn", worker: name, arguments: arguments), to: agentID(agent), on: control) else {
                    throw MeshError(.socket, "cannot reach bench agent \(agents[agent].info.name) (\(agents[agent].endpoint)) to start \(name)")
                }
                remote.insert(name)
                return
            }
            let process = Process()
            process.executableURL = executable
            process.arguments = ["bench", "worker"] + arguments + ["--control", controlEndpoint]
            do {
                try process.run()
            } catch {
                throw MeshError(.socket, "cannot start worker \(name) (\(executable.path))", cause: error)
            }
            workers[name] = process
        }

        // Waits for reports until `done` says so; a worker that exits, or the deadline, ends it
        // with an error.
        var ready = Set<String>()
        var endpoints: [String: String] = [:]
        func waitFor(_ what: String, until done: () -> Bool) throws(MeshError) {
            let deadline = Date().addingTimeInterval(60)
            while !done() {
                guard Date() < deadline else {
                    let late = (workers.keys.sorted() + remote.sorted()).filter { !ready.contains($0) }
                    throw MeshError(.timedOut, "bench workers did not \(what) within 60 s (still waiting for \(late.joined(separator: ", ")))")
                }
                if let report = receive(control, timeoutMilliseconds: 200) {
                    if report.kind == "ready" { ready.insert(report.worker) }
                    if report.kind == "hello", let endpoint = report.endpoint { endpoints[report.worker] = reachable(endpoint) }
                    if report.kind == "exited" { exited[report.worker] = report.status ?? -1 }
                }
                if let dead = workers.first(where: { !$0.value.isRunning }) {
                    throw MeshError(.socket, "bench worker \(dead.key) exited with status \(dead.value.terminationStatus) before it was ready")
                }
                if let (name, status) = exited.first {
                    let agent = placement[name].map { " on agent \(agents[$0].info.name) (\(agents[$0].endpoint))" } ?? ""
                    throw MeshError(.socket, "bench worker \(name)\(agent) exited with status \(status) before it was ready")
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
        let everyone = plan.publishers + plan.subscribers
        try waitFor("become ready") { ready.count == everyone }
        logger.debug("bench: every worker is ready; publishing", metadata: ["workers": "\(everyone)"])
        let started = Date()
        for name in publisherNames { deliver(BenchControl.Command(kind: "start"), to: name) }

        var published: [String: UInt64] = [:]
        var results: [String: BenchControl.SubscriberResult] = [:]
        var latest: [String: BenchControl.Progress] = [:]
        var lastProgress = Date()
        var deadline = Date.distantFuture
        // Subscribers whose result can no longer come: they exited without one.
        func gone() -> Int { subscriberNames.filter { results[$0] == nil && (exited[$0] != nil || workers[$0]?.isRunning == false) }.count }
        while results.count + gone() < subscriberNames.count && Date() < deadline {
            // A publisher that exits without saying it is done: nothing more will come from it.
            if let dead = publisherNames.first(where: { published[$0] == nil && (exited[$0] != nil || workers[$0]?.isRunning == false) }) {
                let status = exited[dead] ?? workers[dead]?.terminationStatus ?? -1
                throw MeshError(.socket, "bench publisher \(dead) exited with status \(status) before it finished publishing")
            }
            if let progress, published.count < publisherNames.count, Date().timeIntervalSince(lastProgress) >= 1 {
                lastProgress = Date()
                progress(Progress(
                    elapsedSeconds: lastProgress.timeIntervalSince(started),
                    received: latest.values.reduce(0) { $0 + $1.distinct }, gaps: latest.values.reduce(0) { $0 + $1.gaps },
                    duplicates: latest.values.reduce(0) { $0 + $1.duplicates }, subscribers: latest.count))
            }
            guard let report = receive(control, timeoutMilliseconds: 200) else { continue }
            switch report.kind {
            case "progress":
                if let update = report.progress { latest[report.worker] = update }
            case "done":
                published[report.worker] = report.published ?? 0
                if published.count == publisherNames.count {
                    // Every publisher is done: tell the subscribers what was sent (over this
                    // channel, so a lost end marker still counts) and give them the grace period.
                    deadline = Date().addingTimeInterval(plan.graceSeconds)
                    for name in subscriberNames { deliver(BenchControl.Command(kind: "finish", published: published), to: name) }
                }
            case "result":
                if var result = report.result {
                    result.agent = placement[report.worker].map { agents[$0].info.name }
                    results[report.worker] = result
                }
            case "exited":
                exited[report.worker] = report.status ?? -1
            default:
                break
            }
        }
        let seconds = Date().timeIntervalSince(started)
        for name in publisherNames + subscriberNames { deliver(BenchControl.Command(kind: "stop"), to: name) }
        stopped = true
        // Until every worker has exited: here, or as its agent reports.
        let exitDeadline = Date().addingTimeInterval(10)
        while (workers.values.contains(where: \.isRunning) || !remote.isSubset(of: exited.keys)) && Date() < exitDeadline {
            if let report = receive(control, timeoutMilliseconds: 50), report.kind == "exited" { exited[report.worker] = report.status ?? -1 }
        }
        return Report(
            plan: plan, published: published, subscribers: subscriberNames.compactMap { results[$0] },
            missing: subscriberNames.filter { results[$0] == nil }, seconds: seconds, clock: clock, agents: agents)
    }

    /// The coordinator's ROUTER: named uniquely (agents answer whoever asked), and failing a
    /// send to a peer not yet connected instead of dropping it.
    private static func controlSocket(_ context: ZMQContext) throws(MeshError) -> ZMQSocket {
        do {
            let socket = try ZMQSocket(context, .router)
            try socket.setRoutingID(Array("coordinator-\(getpid())-\(UInt32.random(in: 0...UInt32.max))".utf8))
            try socket.setRouterMandatory(true)
            // Long enough for the last `stop`s to leave, short enough not to hang on a gone agent.
            try socket.setLinger(milliseconds: 500)
            return socket
        } catch {
            throw MeshError(.socket, "cannot make the bench control socket", cause: error)
        }
    }

    /// The routing id the coordinator gives agent `index`.
    private static func agentID(_ index: Int) -> String { "agent-\(index)" }

    /// `host:port` as `tcp://host:port`; anything with a scheme as it is.
    static func agentEndpoint(_ text: String) -> String {
        text.contains("://") ? text : "tcp://" + text
    }

    /// Connects `socket` to each agent and pings it a few times: the first answer proves the
    /// link, the shortest round trip dates the clocks.
    private static func connectAgents(_ socket: ZMQSocket, agents: [String], timeoutSeconds: Double) throws(MeshError) -> [AgentProbe] {
        for (index, agent) in agents.enumerated() {
            do {
                try socket.setConnectRoutingID(Array(agentID(index).utf8))
                try socket.connect(agentEndpoint(agent))
            } catch {
                throw MeshError(.invalidConfiguration, "cannot connect to bench agent \(agent) (expected tcp://host:port or host:port)", cause: error)
            }
        }
        var probes: [AgentProbe] = []
        for (index, agent) in agents.enumerated() {
            let id = agentID(index)
            let deadline = monotonicNanoseconds() + UInt64(min(max(0.1, timeoutSeconds), 86_400) * 1e9)
            var best: (rtt: UInt64, info: BenchControl.AgentInfo, mono: Double, real: Double)?
            var samples = 0
            while samples < 5 {
                guard monotonicNanoseconds() < deadline else {
                    if best != nil { break }
                    throw MeshError(.timedOut, "bench agent \(agent) did not answer within \(timeoutSeconds) s: is `mesh bench agent` running there, listening on that address, and reachable from here?")
                }
                let nonce = UInt64.random(in: 1...UInt64.max)
                let sentMono = monotonicNanoseconds()
                let sentReal = BenchClock.realtime.now()
                guard let body = try? JSONEncoder().encode(BenchControl.Command(kind: "ping", nonce: nonce)),
                      (try? socket.send(frames: [Array(id.utf8), Array(body)], wait: false)) == true
                else {
                    // Not connected yet (EHOSTUNREACH): libzmq keeps trying in the background;
                    // try again in 50 ms.
                    var pause = timespec(tv_sec: 0, tv_nsec: 50_000_000)
                    nanosleep(&pause, nil)
                    continue
                }
                // The answer to this very ping (a late answer to an earlier one carries another
                // nonce and would date the clocks wrong).
                while let (from, report) = receiveFrom(socket, timeoutMilliseconds: 500) {
                    guard from == id, report.kind == "pong", report.nonce == nonce, let info = report.agent else { continue }
                    let gotMono = monotonicNanoseconds()
                    let gotReal = BenchClock.realtime.now()
                    guard info.realtimeNanoseconds > 0, gotMono >= sentMono else { break }
                    let rtt = gotMono - sentMono
                    let mono = (Double(info.monotonicNanoseconds) - (Double(sentMono) + Double(gotMono)) / 2) / 1000
                    let real = (Double(info.realtimeNanoseconds) - (Double(sentReal) + Double(gotReal)) / 2) / 1000
                    if best == nil || rtt < best!.rtt { best = (rtt, info, mono, real) }
                    samples += 1
                    break
                }
            }
            guard let best else { continue }
            probes.append(AgentProbe(
                endpoint: agentEndpoint(agent), info: best.info, roundTripMicroseconds: Double(best.rtt) / 1000,
                monotonicOffsetMicroseconds: best.mono, realtimeOffsetMicroseconds: best.real,
                sharesKernel: best.info.bootID == HostFacts.bootID))
        }
        return probes
    }

    /// `SOCK_DGRAM` and `SOCK_STREAM` as `socket(2)` takes them (Glibc imports them as enum cases).
    private static var datagramSocketType: Int32 {
        #if canImport(Glibc)
        Int32(SOCK_DGRAM.rawValue)
        #else
        SOCK_DGRAM
        #endif
    }

    private static var streamSocketType: Int32 {
        #if canImport(Glibc)
        Int32(SOCK_STREAM.rawValue)
        #else
        SOCK_STREAM
        #endif
    }

    /// Whether `text` is a dotted IPv4 address.
    static func isIPv4Address(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    /// Whether this host can bind a TCP socket on the IPv4 address `host` (it is one of its own).
    static func canBind(_ host: String) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
        let fd = socket(AF_INET, streamSocketType, 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// The local address of this host's route toward an agent (`tcp://host:port`), by
    /// connecting a UDP socket (which sends nothing) and reading its address back.
    static func localAddress(toward agent: String) -> String? {
        var text = agentEndpoint(agent)
        guard let scheme = text.range(of: "://") else { return nil }
        text = String(text[scheme.upperBound...])
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") { return nil }  // IPv6: say it with --advertise
        if host == "*" || host == "0.0.0.0" { host = "127.0.0.1" }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = datagramSocketType
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, "9", &hints, &found) == 0, let address = found else { return nil }
        defer { freeaddrinfo(found) }
        let fd = socket(AF_INET, datagramSocketType, 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else { return nil }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &local.sin_addr, &buffer, socklen_t(buffer.count)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sends a command to a peer of the control socket.
    /// - Returns: whether libzmq took it (not when the peer is not connected, or its queue is full).
    @discardableResult
    private static func send(_ command: BenchControl.Command, to peer: String, on socket: ZMQSocket) -> Bool {
        guard let body = try? JSONEncoder().encode(command) else { return false }
        return (try? socket.send(frames: [Array(peer.utf8), Array(body)], wait: false)) == true
    }

    /// The next report, from a worker here or through an agent (the report names its worker).
    private static func receive(_ socket: ZMQSocket, timeoutMilliseconds: Int) -> BenchControl.Report? {
        receiveFrom(socket, timeoutMilliseconds: timeoutMilliseconds)?.1
    }

    /// The next report and the routing id of the peer it came from.
    private static func receiveFrom(_ socket: ZMQSocket, timeoutMilliseconds: Int) -> (String, BenchControl.Report)? {
        let poller = ZMQPoller()
        poller.add(socket)
        guard (try? poller.poll(timeoutMilliseconds: timeoutMilliseconds)) ?? 0 > 0,
              let frames = (try? socket.receive(wait: false)) ?? nil, frames.count == 2,
              let report = try? JSONDecoder().decode(BenchControl.Report.self, from: Data(frames[1]))
        else { return nil }
        return (String(decoding: frames[0], as: UTF8.self), report)
    }
}
