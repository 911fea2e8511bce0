import ArgumentParser
import EventBus
import EventMesh
import Logging
import ServiceLifecycle

/// `mesh tail [PATTERN]`: print the mesh's traffic.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print events from the mesh as they arrive, one line each (or NDJSON with --json).",
        discussion: """
            PATTERN uses the subscription syntax: '*' matches one token, '>' one or more at the \
            end. Stops on SIGINT or SIGTERM, or after --count events.

            Examples:
              mesh tail                         # everything
              mesh tail 'provider.>'
              mesh tail 'workflow.*' --json --count 10
            """
    )

    @Argument(help: ArgumentHelp("Which events to print (default '>', all).", valueName: "pattern"))
    var pattern: String = ">"

    @Flag(name: .customLong("json"), help: "Print NDJSON instead of plain lines.")
    var json = false

    @Option(name: .customLong("count"), help: ArgumentHelp("Exit after this many events.", valueName: "n"))
    var count: Int?

    @OptionGroup var node: NodeOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        _ = try parsePattern(pattern)
        if let count, count <= 0 { throw ValidationError("--count must be positive") }
    }

    func run() async throws {
        let logger = try logging.makeLogger("mesh.tail")
        let node = try MeshNode(configuration: try node.configuration(logger: logger))
        let printer = EventPrinter(json: json)
        let trigger = StartTrigger()
        let remaining = LockedValueBox(count ?? Int.max)
        node.bus.subscribe(try parsePattern(pattern)) { event in
            let print = remaining.withLockedValue { left -> Bool in
                guard left > 0 else { return false }
                left -= 1
                return true
            }
            guard print else { return }
            printer.print(event)
            if remaining.withLockedValue({ $0 == 0 }) { trigger.fire() }
        }
        let service = TailService(node: node, done: trigger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Runs a tailing node until shutdown or until enough events were printed.
struct TailService: Service {
    let node: MeshNode
    let done: StartTrigger

    func run() async throws {
        try node.start()
        await cancelWhenGracefulShutdown {
            await done.wait()
        }
        node.stop()
    }
}
