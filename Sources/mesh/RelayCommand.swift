import ArgumentParser
import EventMesh
import Logging
import ServiceLifecycle

/// `mesh relay`: join networks by re-publishing between them.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Join two or more networks: re-publish what arrives on one onto the others.",
        discussion: """
            Each --network is one network's brokers (PUBLISH,SUBSCRIBE pairs separated by ';'). \
            An event is re-published onto every network but the one it came from, with its id, \
            origin and sequence number kept and its hop count raised by one; the relay passes \
            each event on only once, so rings of relays terminate, and an event that has \
            travelled --hop-limit hops stops. Runs until SIGTERM or SIGINT and prints its stats.

            Examples:
              mesh relay --network tcp://a:5555,tcp://a:5556 --network tcp://b:5555,tcp://b:5556
              MESH_NETWORKS='tcp://a:5555,tcp://a:5556|tcp://b:5555,tcp://b:5556' mesh relay --hop-limit 4
            """
    )

    @Option(name: .customLong("network"), help: ArgumentHelp(
        "One network's brokers, PUBLISH,SUBSCRIBE pairs separated by ';'; give at least two (env MESH_NETWORKS, networks separated by '|').",
        valueName: "brokers"))
    var networks: [String] = []

    @Option(name: .customLong("node-id"), help: ArgumentHelp("The relay's node id (env MESH_NODE_ID; default: the host name).", valueName: "id"))
    var nodeID: String?

    @Option(name: .customLong("hop-limit"), help: ArgumentHelp("The most hops an event may travel (default 8).", valueName: "hops"))
    var hopLimit: Int = 8

    @OptionGroup var logging: LoggingOptions

    func resolvedNetworks() throws -> [[BrokerAddress]] {
        var texts = networks
        if texts.isEmpty, let variable = environment("MESH_NETWORKS") {
            texts = variable.split(separator: "|").map(String.init)
        }
        guard texts.count >= 2 else { throw ValidationError("give at least two --network options (a relay joins networks)") }
        return try texts.map { network in
            let brokers = network.split(separator: ";").map(String.init).filter { !$0.isEmpty }
            guard !brokers.isEmpty else { throw ValidationError("a --network needs at least one broker") }
            return try brokers.map { text in
                guard let address = BrokerAddress(text) else {
                    throw ValidationError("'\(text)' is not a broker; write PUBLISH_ENDPOINT,SUBSCRIBE_ENDPOINT")
                }
                return address
            }
        }
    }

    func validate() throws {
        _ = try resolvedNetworks()
        if hopLimit < 1 { throw ValidationError("--hop-limit must be at least 1") }
    }

    func run() async throws {
        let logger = try logging.makeLogger("mesh.relay")
        let id = nodeID ?? environment("MESH_NODE_ID") ?? MeshConfiguration.defaultNodeID
        let relay = try MeshRelay(
            networks: try resolvedNetworks().map { MeshConfiguration(nodeID: id, brokers: $0, logger: logger) },
            hopLimit: hopLimit)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: relay)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        let stats = relay.stats
        let drops = relay.nodes.reduce(UInt64(0)) { $0 + $1.bridge.stats.hopLimitDrops }
        emit("relay \(id): relayed \(stats.relayed) seen-again \(stats.alreadyRelayed) hop-limit-drops \(drops) unrelayable \(stats.unrelayable)")
    }
}
