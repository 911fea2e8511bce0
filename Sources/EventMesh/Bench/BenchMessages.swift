/// The load test's control messages: JSON over the bench's own DEALER/ROUTER channel, never
/// through the mesh under test, so a lossy run cannot lose its results.
public enum BenchControl {
    /// What a worker says to the coordinator.
    public struct Report: Codable, Sendable {
        /// `hello` (connected), `ready` (mesh ready), `done` (publisher finished), `result`.
        public var kind: String
        /// The worker's name, e.g. `sub-2`.
        public var worker: String
        /// For `done`: events published.
        public var published: UInt64?
        /// For `result`: the subscriber's figures.
        public var result: SubscriberResult?

        /// Makes a report.
        /// - Parameters:
        ///   - kind: `hello`, `ready`, `done` or `result`.
        ///   - worker: the worker's name.
        ///   - published: with `done`, the events published.
        ///   - result: with `result`, the subscriber's figures.
        public init(kind: String, worker: String, published: UInt64? = nil, result: SubscriberResult? = nil) {
            self.kind = kind
            self.worker = worker
            self.published = published
            self.result = result
        }
    }

    /// What a subscriber measured.
    public struct SubscriberResult: Codable, Sendable, Hashable {
        /// Its node id.
        public var node: String
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
        /// Distinct events per second, from the first to the last event received.
        public var throughput: Double
        /// End-to-end latency percentiles in microseconds (p50, p90, p99, p99.9, max), from
        /// the scheduled send time on CLOCK_MONOTONIC.
        public var latencyMicroseconds: [String: Double]
        /// The mesh's own count of events delivered (every type, end markers included).
        public var meshDelivered: UInt64
        /// The mesh's own count of events lost.
        public var meshLost: UInt64
        /// The mesh's own count of duplicates (end markers included).
        public var meshDuplicates: UInt64
        /// Resident memory in MiB at start, peak and end (sampled every second).
        public var rssMiB: [String: Double]
    }

    /// What the coordinator says to a worker: `start` (publishers), `finish` (subscribers:
    /// the publishers are done, here is what each sent; report once nothing more arrives) or
    /// `stop`.
    public struct Command: Codable, Sendable {
        /// `start`, `finish` or `stop`.
        public var kind: String
        /// With `finish`: events each publisher sent.
        public var published: [String: UInt64]?

        /// Makes a command.
        /// - Parameters:
        ///   - kind: `start`, `finish` or `stop`.
        ///   - published: with `finish`, what each publisher sent.
        public init(kind: String, published: [String: UInt64]? = nil) {
            self.kind = kind
            self.published = published
        }
    }
}
