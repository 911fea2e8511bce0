/// The load test's control messages: JSON over the bench's own DEALER/ROUTER channel, never
/// through the mesh under test, so a lossy run cannot lose its results.
public enum BenchControl {
    /// What a worker says to the coordinator.
    public struct Report: Codable, Sendable {
        /// `hello` (connected), `ready` (mesh ready), `progress` (a subscriber's counts so
        /// far, every second), `done` (publisher finished), `result`; from a bench agent:
        /// `pong` (the answer to a `ping`, with ``agent``) and `exited` (a worker it started
        /// exited, with ``status``).
        public var kind: String
        /// The worker's name, e.g. `sub-2`.
        public var worker: String
        /// For `hello` from a publisher in the peer topology: the endpoint it bound, which
        /// subscribers connect to.
        public var endpoint: String?
        /// For `done`: events published.
        public var published: UInt64?
        /// For `progress`: the subscriber's counts so far.
        public var progress: Progress?
        /// For `result`: the subscriber's figures.
        public var result: SubscriberResult?
        /// For `pong`: the agent, its host and its clocks.
        public var agent: AgentInfo?
        /// For `exited`: the worker's exit status.
        public var status: Int32?
        /// For `pong`: the nonce of the `ping` it answers.
        public var nonce: UInt64?

        /// Makes a report.
        /// - Parameters:
        ///   - kind: `hello`, `ready`, `progress`, `done` or `result`.
        ///   - worker: the worker's name.
        ///   - endpoint: with `hello` from a peer-topology publisher, its bound endpoint.
        ///   - published: with `done`, the events published.
        ///   - progress: with `progress`, the counts so far.
        ///   - result: with `result`, the subscriber's figures.
        ///   - agent: with `pong`, the agent's facts.
        ///   - status: with `exited`, the worker's exit status.
        ///   - nonce: with `pong`, the nonce of the `ping` it answers.
        public init(
            kind: String, worker: String, endpoint: String? = nil, published: UInt64? = nil,
            progress: Progress? = nil, result: SubscriberResult? = nil, agent: AgentInfo? = nil, status: Int32? = nil,
            nonce: UInt64? = nil
        ) {
            self.agent = agent
            self.status = status
            self.nonce = nonce
            self.kind = kind
            self.worker = worker
            self.endpoint = endpoint
            self.published = published
            self.progress = progress
            self.result = result
        }
    }

    /// What a bench agent (`mesh bench agent`) says about itself and its host in a `pong`.
    public struct AgentInfo: Codable, Sendable, Hashable {
        /// The agent's name (`--name`; default: its host name).
        public var name: String
        /// The host name of the machine (or container) it runs on.
        public var hostname: String
        /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`): processes that report the
        /// same one share a kernel, hence CLOCK_MONOTONIC.
        public var bootID: String
        /// The network namespace it runs in (`/proc/self/ns/net`, e.g. `net:[4026532281]`).
        public var networkNamespace: String
        /// Its process id.
        public var pid: Int32
        /// Processors online on its host.
        public var cores: Int
        /// The kernel's clock source (`/sys/devices/system/clocksource/clocksource0/current_clocksource`,
        /// e.g. `tsc`, `kvm-clock`), or `unknown`.
        public var clockSource: String = "unknown"
        /// CLOCK_MONOTONIC when it answered, in nanoseconds.
        public var monotonicNanoseconds: UInt64
        /// CLOCK_REALTIME when it answered, in nanoseconds since the Unix epoch.
        public var realtimeNanoseconds: UInt64

        /// Describes this process, with its clocks read now.
        /// - Parameter name: the agent's name.
        /// - Returns: the facts, both clocks read last.
        public static func current(name: String) -> AgentInfo {
            AgentInfo(
                name: name, hostname: HostFacts.hostname, bootID: HostFacts.bootID,
                networkNamespace: HostFacts.networkNamespace, pid: HostFacts.pid, cores: HostFacts.cores,
                clockSource: HostFacts.clockSource,
                monotonicNanoseconds: BenchClock.monotonic.now(), realtimeNanoseconds: BenchClock.realtime.now())
        }
    }

    /// A subscriber's counts while a run is going on (bench counts, like the result's).
    public struct Progress: Codable, Sendable, Hashable {
        /// Distinct events received so far.
        public var distinct: UInt64
        /// Copies of events already received.
        public var duplicates: UInt64
        /// Sequence numbers skipped so far (below the highest received from each publisher):
        /// loss as far as it is known before the end.
        public var gaps: UInt64

        /// Makes a progress report.
        public init(distinct: UInt64, duplicates: UInt64, gaps: UInt64) {
            self.distinct = distinct
            self.duplicates = duplicates
            self.gaps = gaps
        }
    }

    /// One sample of a process's resident memory.
    public struct MemorySample: Codable, Sendable, Hashable {
        /// Seconds since the first event after the warm-up arrived (negative: before it).
        public var seconds: Double
        /// Resident memory in MiB.
        public var mib: Double

        /// Makes a sample.
        public init(seconds: Double, mib: Double) {
            self.seconds = seconds
            self.mib = mib
        }
    }

    /// What a subscriber measured.
    public struct SubscriberResult: Codable, Sendable, Hashable {
        /// Its node id.
        public var node: String
        /// The bench agent it ran under (`nil`: a child process of the coordinator).
        public var agent: String?
        /// Received messages, duplicates included (bench counts).
        public var received: UInt64
        /// Distinct events received.
        public var distinct: UInt64
        /// Events never received, tail included: for each publisher, what it reported sending
        /// (over the control channel, so a lost end marker loses nothing) minus the distinct
        /// events received from it.
        public var lost: UInt64
        /// Distinct events received per publisher.
        public var distinctPerPublisher: [String: UInt64] = [:]
        /// Copies of events already received.
        public var duplicates: UInt64
        /// Events that arrived after a later one of the same publisher.
        public var outOfOrder: UInt64
        /// Distinct events per second after the warm-up, from the first to the last such
        /// event received.
        public var throughput: Double
        /// Seconds from the first to the last event received after the warm-up.
        public var measuredSeconds: Double = 0
        /// Distinct events received that were published during the warm-up (counted for loss,
        /// duplicates and order, left out of throughput and latency).
        public var warmupEvents: UInt64 = 0
        /// End-to-end latency percentiles in microseconds (p50, p90, p99, p99.9, max), from
        /// the scheduled send time on CLOCK_MONOTONIC, of every delivery after the warm-up.
        public var latencyMicroseconds: [String: Double]
        /// The mesh's own count of events delivered (every type, end markers included).
        public var meshDelivered: UInt64
        /// The mesh's own count of events lost.
        public var meshLost: UInt64
        /// The mesh's own count of duplicates (end markers included).
        public var meshDuplicates: UInt64
        /// Resident memory in MiB at start, peak and end (sampled every second).
        public var rssMiB: [String: Double]
        /// Every resident-memory sample, one a second.
        public var rssTimeline: [MemorySample] = []

        /// The lowest and highest resident memory (MiB) sampled from `settle` seconds after
        /// the warm-up to the last event: how much the node's memory moves in steady state.
        /// `nil` if no sample falls in that span.
        public func steadyMemory(after settle: Double = 10) -> (low: Double, high: Double)? {
            let steady = rssTimeline.filter { $0.seconds >= settle && $0.seconds <= measuredSeconds }.map(\.mib)
            guard let low = steady.min(), let high = steady.max() else { return nil }
            return (low, high)
        }
    }

    /// What the coordinator says to a worker: `start` (publishers), `finish` (subscribers:
    /// the publishers are done, here is what each sent; report once nothing more arrives) or
    /// `stop`. To a bench agent: `ping` (answered by a `pong`), `spawn` (start the worker
    /// ``worker`` with ``arguments``), and any worker command with ``worker`` set, which the
    /// agent passes on to that worker.
    public struct Command: Codable, Sendable {
        /// `start`, `finish`, `stop`, `ping` or `spawn`.
        public var kind: String
        /// With `finish`: events each publisher sent.
        public var published: [String: UInt64]?
        /// Through an agent: the worker the command is for.
        public var worker: String?
        /// With `spawn`: the worker's `mesh bench worker` arguments, `--control` left out (the
        /// agent adds its own).
        public var arguments: [String]?
        /// With `ping`: a number the `pong` repeats, so that a late answer to an earlier ping is
        /// never taken for this one's.
        public var nonce: UInt64?

        /// Makes a command.
        /// - Parameters:
        ///   - kind: `start`, `finish`, `stop`, `ping` or `spawn`.
        ///   - published: with `finish`, what each publisher sent.
        ///   - worker: through an agent, the worker it is for.
        ///   - arguments: with `spawn`, the worker's arguments.
        ///   - nonce: with `ping`, the number the `pong` repeats.
        public init(
            kind: String, published: [String: UInt64]? = nil, worker: String? = nil, arguments: [String]? = nil, nonce: UInt64? = nil
        ) {
            self.kind = kind
            self.published = published
            self.worker = worker
            self.arguments = arguments
            self.nonce = nonce
        }
    }
}
