import ArgumentParser
import EventMesh
import Logging
import ServiceLifecycle

/// `mesh broker`: run a broker until SIGTERM or SIGINT.
struct BrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Run a broker (XSUB/XPUB forwarder) until SIGTERM or SIGINT, printing one-line stats.",
        discussion: """
            Nodes publish to the broker's publish endpoint and subscribe at its subscribe \
            endpoint. Several brokers may run side by side: nodes connect to all of them and \
            drop the duplicates. The first line printed gives the bound endpoints (ports read \
            back when you bind port *). Traffic is not authenticated or encrypted: keep the \
            endpoints on a trusted network.

            Examples:
              mesh broker
              mesh broker --publish-bind 'tcp://0.0.0.0:5555' --subscribe-bind 'tcp://0.0.0.0:5556' --control 'tcp://0.0.0.0:5557'
              mesh broker --publish-bind 'tcp://127.0.0.1:*' --subscribe-bind 'tcp://127.0.0.1:*' --control 'tcp://127.0.0.1:*'
            """
    )

    @Option(name: .customLong("publish-bind"), help: ArgumentHelp(
        "Where nodes publish (env MESH_BROKER_PUBLISH; default tcp://127.0.0.1:5555).", valueName: "endpoint"))
    var publishBind: String?

    @Option(name: .customLong("subscribe-bind"), help: ArgumentHelp(
        "Where nodes subscribe (env MESH_BROKER_SUBSCRIBE; default tcp://127.0.0.1:5556).", valueName: "endpoint"))
    var subscribeBind: String?

    @Option(name: .customLong("control"), help: ArgumentHelp(
        "Where to answer `mesh stats` and `mesh health` (env MESH_CONTROL; default tcp://127.0.0.1:5557; 'none' for no endpoint).",
        valueName: "endpoint"))
    var control: String?

    @Option(name: .customLong("hwm"), help: ArgumentHelp(
        "Messages queued per connection before the broker drops (env MESH_HWM; default 100000).", valueName: "messages"))
    var highWaterMark: Int?

    @Option(name: .customLong("stats-interval"), help: ArgumentHelp(
        "Seconds between stats lines; 0 for none (default 10).", valueName: "seconds"))
    var statsInterval: Int = 10

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if statsInterval < 0 { throw ValidationError("--stats-interval must not be negative") }
        if let highWaterMark, highWaterMark < 0 { throw ValidationError("--hwm must not be negative") }
        if let text = environment("MESH_HWM"), highWaterMark == nil, Int(text) == nil {
            throw ValidationError("MESH_HWM='\(text)' is not a whole number")
        }
    }

    func run() async throws {
        let logger = try logging.makeLogger("mesh.broker")
        let controlText = control ?? environment("MESH_CONTROL") ?? "tcp://127.0.0.1:5557"
        let broker = try Broker(
            publishBind: publishBind ?? environment("MESH_BROKER_PUBLISH") ?? "tcp://127.0.0.1:5555",
            subscribeBind: subscribeBind ?? environment("MESH_BROKER_SUBSCRIBE") ?? "tcp://127.0.0.1:5556",
            controlBind: controlText == "none" ? nil : controlText,
            highWaterMark: highWaterMark ?? environment("MESH_HWM").flatMap { Int($0) } ?? 100_000,
            logger: logger)
        let address: BrokerAddress
        do {
            address = try broker.start()
        } catch {
            printError("mesh broker: \(error)")
            throw ExitCode.failure
        }
        let stats = broker.stats
        emit("broker publish=\(address.publishEndpoint) subscribe=\(address.subscribeEndpoint)"
            + (stats.controlEndpoint.isEmpty ? "" : " control=\(stats.controlEndpoint)"))
        let reporter = BrokerReporter(broker: broker, interval: statsInterval)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: reporter)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        broker.stop()
        let final = broker.stats
        emit("broker stopped: forwarded \(final.forwarded) messages, \(final.forwardedBytes) bytes")
    }
}

/// Prints a stats line every `interval` seconds until shutdown.
struct BrokerReporter: Service {
    let broker: Broker
    let interval: Int

    func run() async throws {
        guard interval > 0 else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            var last = broker.stats.forwarded
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(interval))
                if Task.isCancelled { return }
                let stats = broker.stats
                emit("broker forwarded \(stats.forwarded) (+\(stats.forwarded - last) in \(interval) s) connections \(stats.connections)")
                last = stats.forwarded
            }
        }
    }
}
