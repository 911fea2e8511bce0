import ArgumentParser
import EventBus
import EventMesh

/// `mesh publish TYPE`: join, wait until ready, publish, flush, leave.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish events: join the mesh, wait until ready, publish, flush and exit.",
        discussion: """
            The payload is JSON (--data); each event also gets "n", its number from 1. The \
            command exits 0 once every event was handed to the network and flushed (within \
            --linger-ms), and 1 if the node did not become ready within --ready-timeout.

            Examples:
              mesh publish provider.connected --data '{"provider": "anthropic", "latency_ms": 12}'
              mesh publish test.ping --count 10000 --rate 2000 --broker tcp://10.0.0.5:5555,tcp://10.0.0.5:5556
              mesh publish test.ping --count 100 --print-ids > ids.txt
            """
    )

    @Argument(help: ArgumentHelp("The event type, e.g. provider.connected.", valueName: "type"))
    var type: String

    @OptionGroup var publishing: PublishingOptions
    @OptionGroup var node: NodeOptions
    @OptionGroup var logging: LoggingOptions

    @Option(name: .customLong("ready-timeout"), help: ArgumentHelp("Seconds to wait until ready (default 10).", valueName: "seconds"))
    var readyTimeout: Double = 10

    @Flag(name: .customLong("print-ids"), help: "Print the id of every event published, one per line.")
    var printIDs = false

    func validate() throws {
        _ = try parseEventType(type, what: "the type")
        if !(readyTimeout > 0) { throw ValidationError("--ready-timeout must be positive") }
    }

    func run() async throws {
        let logger = try logging.makeLogger("mesh.publish")
        let type = try parseEventType(type, what: "the type")
        let node = try MeshNode(configuration: try node.configuration(logger: logger))
        try node.start()
        defer { node.stop() }
        guard await waitUntilReady(node, seconds: readyTimeout) else {
            logger.error("not ready: the probe did not come back through every broker", metadata: [
                "timeout_s": "\(readyTimeout)", "brokers": "\(node.configuration.brokers.map(\.description))"])
            throw ExitCode.failure
        }
        let ids = try await publishing.publish(type, on: node, source: "mesh publish")
        if printIDs { for id in ids { emit(id.description) } }
        node.stop()
        let stats = node.bridge.stats
        logger.info("published", metadata: ["type": "\(type)", "count": "\(ids.count)", "sent": "\(stats.sent)"])
    }
}

/// Waits until `node` is ready, for at most `seconds`.
func waitUntilReady(_ node: MeshNode, seconds: Double) async -> Bool {
    await withTaskGroup(of: Bool.self) { group in
        group.addTask {
            await node.ready()
            return node.bridge.isReady
        }
        group.addTask {
            try? await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
            return false
        }
        let first = await group.next() ?? false
        group.cancelAll()
        return first
    }
}
