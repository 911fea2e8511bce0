import ArgumentParser
import EventMesh
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The value of an environment variable, if set and not empty.
func environment(_ name: String) -> String? {
    guard let raw = getenv(name) else { return nil }
    let value = String(cString: raw)
    return value.isEmpty ? nil : value
}

/// `--log-level`, shared by every command that runs something.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "trace, debug, info, notice, warning, error or critical (env MESH_LOG_LEVEL; default info). Logs go to stderr.",
        valueName: "level"))
    var logLevel: String?

    func validate() throws {
        _ = try level()
    }

    func level() throws -> Logger.Level {
        let text = logLevel ?? environment("MESH_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: text.lowercased()) else {
            throw ValidationError("unknown log level '\(text)'; use trace, debug, info, notice, warning, error or critical")
        }
        return level
    }

    /// Sets up logging to stderr (once per process) and returns a logger.
    func makeLogger(_ label: String) throws -> Logger {
        let level = try level()
        LoggingBootstrap.once(level: level)
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}

enum LoggingBootstrap {
    nonisolated(unsafe) private static var done = false

    /// Bootstraps swift-log to stderr; commands run one at a time on the main thread.
    static func once(level: Logger.Level) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// How a node joins the mesh: the options of `node`, `publish` and `tail`.
struct NodeOptions: ParsableArguments {
    @Option(name: .customLong("broker"), help: ArgumentHelp(
        "A broker as PUBLISH_ENDPOINT,SUBSCRIBE_ENDPOINT; repeat for several (env MESH_BROKERS, brokers separated by ';'; default tcp://127.0.0.1:5555,tcp://127.0.0.1:5556).",
        valueName: "endpoints"))
    var brokers: [String] = []

    @Option(name: .customLong("bind"), help: ArgumentHelp(
        "Bind the node's outbound socket here for peers to connect to, e.g. tcp://0.0.0.0:5600 (env MESH_BIND; default: none).",
        valueName: "endpoint"))
    var bind: String?

    @Option(name: .customLong("peer"), help: ArgumentHelp(
        "A peer's bound endpoint to receive from directly; repeat for several (env MESH_PEERS, separated by ','). With peers and no --broker, no broker is used.",
        valueName: "endpoint"))
    var peers: [String] = []

    @Option(name: .customLong("node-id"), help: ArgumentHelp(
        "This node's id (env MESH_NODE_ID; default: the host name).", valueName: "id"))
    var nodeID: String?

    @Option(name: .customLong("control"), help: ArgumentHelp(
        "Where to answer `mesh stats` and `mesh health` (env MESH_CONTROL; default tcp://127.0.0.1:*, an OS-assigned port printed when ready; 'none' for no endpoint).",
        valueName: "endpoint"))
    var control: String?

    @Option(name: .customLong("dedup"), help: ArgumentHelp(
        "on, or off to deliver duplicates (for diagnosis) (env MESH_DEDUP; default on).", valueName: "on|off"))
    var dedup: String?

    @Option(name: .customLong("hwm"), help: ArgumentHelp(
        "High-water mark of the node's sockets, in messages per broker (env MESH_HWM; default 10000).",
        valueName: "messages"))
    var highWaterMark: Int?

    @Option(name: .customLong("overflow"), help: ArgumentHelp(
        "When a subscriber's queue is full: drop (it misses events and counts them lost; nobody waits) or block (nothing is dropped; publishing waits up to --block-timeout-ms, then fails) (env MESH_OVERFLOW; default drop).",
        valueName: "drop|block"))
    var overflow: String?

    @Option(name: .customLong("block-timeout-ms"), help: ArgumentHelp(
        "With --overflow block: how long publishing waits for room (env MESH_BLOCK_TIMEOUT_MS; default 1000).", valueName: "ms"))
    var blockTimeoutMilliseconds: Int?

    @Option(name: .customLong("history"), help: ArgumentHelp(
        "Events kept in the node's history (env MESH_HISTORY; default 1000).", valueName: "events"))
    var history: Int?

    @Option(name: .customLong("heartbeat-ms"), help: ArgumentHelp(
        "Milliseconds between heartbeats (env MESH_HEARTBEAT_MS; default 1000).", valueName: "ms"))
    var heartbeatMilliseconds: Int?

    @Option(name: .customLong("linger-ms"), help: ArgumentHelp(
        "How long stopping waits to flush unsent events (env MESH_LINGER_MS; default 1000).", valueName: "ms"))
    var lingerMilliseconds: Int?

    @Option(name: .customLong("batch-threshold"), help: ArgumentHelp(
        "Events one send pass must find queued before the node batches: publishing then stops waking its I/O thread per event, which sends what collected every --batch-interval-ms instead, trading up to that much latency under load for far fewer wakeups; 0 turns batching off (env MESH_BATCH_THRESHOLD; default 64).",
        valueName: "events"))
    var batchThreshold: Int?

    @Option(name: .customLong("batch-interval-ms"), help: ArgumentHelp(
        "While batching, how long events collect between sends (env MESH_BATCH_INTERVAL_MS; default 1).", valueName: "ms"))
    var batchIntervalMilliseconds: Int?

    func validate() throws {
        _ = try resolvedBrokers()
        _ = try resolvedPeers()
        _ = try resolvedBind()
        if let text = dedup ?? environment("MESH_DEDUP"), !["on", "off"].contains(text) {
            throw ValidationError("--dedup must be on or off, not '\(text)'")
        }
        if let text = overflow ?? environment("MESH_OVERFLOW"), !["drop", "block"].contains(text) {
            throw ValidationError("--overflow must be drop or block, not '\(text)'")
        }
        if let value = try integer(blockTimeoutMilliseconds, "MESH_BLOCK_TIMEOUT_MS"), value <= 0 {
            throw ValidationError("--block-timeout-ms must be positive, got \(value)")
        }
        for (name, value) in [("--hwm", try integer(highWaterMark, "MESH_HWM")), ("--history", try integer(history, "MESH_HISTORY")),
                              ("--heartbeat-ms", try integer(heartbeatMilliseconds, "MESH_HEARTBEAT_MS")),
                              ("--linger-ms", try integer(lingerMilliseconds, "MESH_LINGER_MS")),
                              ("--batch-threshold", try integer(batchThreshold, "MESH_BATCH_THRESHOLD"))] {
            if let value, value < 0 { throw ValidationError("\(name) must not be negative, got \(value)") }
        }
        if let value = try integer(heartbeatMilliseconds, "MESH_HEARTBEAT_MS"), value < 10 {
            throw ValidationError("--heartbeat-ms must be at least 10, got \(value)")
        }
        if let value = try integer(batchIntervalMilliseconds, "MESH_BATCH_INTERVAL_MS"), value < 1 {
            throw ValidationError("--batch-interval-ms must be at least 1, got \(value)")
        }
    }

    private func integer(_ option: Int?, _ variable: String) throws -> Int? {
        if let option { return option }
        guard let text = environment(variable) else { return nil }
        guard let value = Int(text) else { throw ValidationError("\(variable)='\(text)' is not a whole number") }
        return value
    }

    func resolvedPeers() throws -> [String] {
        var texts = peers
        if texts.isEmpty, let variable = environment("MESH_PEERS") {
            texts = variable.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        for text in texts where !text.contains("://") {
            throw ValidationError("'\(text)' is not a peer endpoint; write e.g. tcp://10.0.0.7:5600")
        }
        return texts
    }

    func resolvedBind() throws -> String? {
        guard let text = bind ?? environment("MESH_BIND") else { return nil }
        guard text.contains("://") else { throw ValidationError("--bind '\(text)' is not an endpoint; write e.g. tcp://0.0.0.0:5600") }
        return text
    }

    func resolvedBrokers() throws -> [BrokerAddress] {
        var texts = brokers
        if texts.isEmpty, let variable = environment("MESH_BROKERS") {
            texts = variable.split(separator: ";").map(String.init).filter { !$0.isEmpty }
        }
        // The local default broker only when the node has neither brokers nor peers.
        let peerless = try resolvedPeers().isEmpty
        let unbound = try resolvedBind() == nil
        if texts.isEmpty && peerless && unbound {
            texts = ["tcp://127.0.0.1:5555,tcp://127.0.0.1:5556"]
        }
        return try texts.map { text in
            guard let address = BrokerAddress(text) else {
                throw ValidationError("'\(text)' is not a broker; write PUBLISH_ENDPOINT,SUBSCRIBE_ENDPOINT, e.g. tcp://127.0.0.1:5555,tcp://127.0.0.1:5556")
            }
            return address
        }
    }

    /// The node configuration: options first, then MESH_* variables, then defaults.
    func configuration(logger: Logger) throws -> MeshConfiguration {
        var configuration = MeshConfiguration(
            nodeID: nodeID ?? environment("MESH_NODE_ID") ?? MeshConfiguration.defaultNodeID,
            brokers: try resolvedBrokers(), bindEndpoint: try resolvedBind(), peers: try resolvedPeers(), logger: logger)
        let controlText = control ?? environment("MESH_CONTROL") ?? "tcp://127.0.0.1:*"
        configuration.controlEndpoint = controlText == "none" ? nil : controlText
        configuration.dedupEnabled = (dedup ?? environment("MESH_DEDUP") ?? "on") == "on"
        if let value = try integer(highWaterMark, "MESH_HWM") {
            configuration.sendHighWaterMark = value
            configuration.receiveHighWaterMark = value
        }
        if let value = try integer(history, "MESH_HISTORY") { configuration.historyCapacity = value }
        if (overflow ?? environment("MESH_OVERFLOW")) == "block" {
            configuration.overflow = .block(timeoutMilliseconds: try integer(blockTimeoutMilliseconds, "MESH_BLOCK_TIMEOUT_MS") ?? 1000)
        }
        if let value = try integer(heartbeatMilliseconds, "MESH_HEARTBEAT_MS") { configuration.heartbeatIntervalMilliseconds = value }
        if let value = try integer(lingerMilliseconds, "MESH_LINGER_MS") { configuration.lingerMilliseconds = value }
        if let value = try integer(batchThreshold, "MESH_BATCH_THRESHOLD") { configuration.batchingThreshold = value }
        if let value = try integer(batchIntervalMilliseconds, "MESH_BATCH_INTERVAL_MS") { configuration.batchingIntervalMilliseconds = value }
        return configuration
    }
}

/// Writes a line to stdout and flushes it, so that a reader of a pipe sees it at once.
func emit(_ line: String) {
    print(line)
    fflush(nil)  // every output stream: no global to touch
}
