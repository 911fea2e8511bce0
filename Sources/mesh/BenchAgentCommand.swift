import ArgumentParser
import EventMesh
import Foundation
import Logging
import ServiceLifecycle

/// `mesh bench agent`: start load-test workers on this host for a coordinator elsewhere.
struct BenchAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run load-test workers on this host for a coordinator on another (mesh bench fanout --agents), until SIGTERM or SIGINT.",
        discussion: """
            The agent listens for coordinators at --listen. A coordinator (`mesh bench fanout \
            --agents HOST:PORT,…`) pings it (the round trip dates the two hosts' clocks), then \
            has it start subscriber workers (`mesh bench worker` child processes) that join \
            the mesh under test at the coordinator's brokers or publishers; orders and results \
            travel over this control channel, never through the mesh under test. The agent \
            reports its host name, boot id (processes on one kernel share CLOCK_MONOTONIC) and \
            network namespace, and serves one run after another. On exit it stops the workers \
            it started. The first line printed gives the bound endpoint (the port read back \
            when you listen on port *).

            The control channel is not authenticated: listen only on a trusted network.

            Examples:
              mesh bench agent --listen 'tcp://0.0.0.0:7700'
              mesh bench agent --listen 'tcp://127.0.0.1:*' --name agent-1
            """
    )

    @Option(help: ArgumentHelp("Where coordinators connect (env MESH_BENCH_LISTEN; default tcp://0.0.0.0:7700).", valueName: "endpoint"))
    var listen: String?
    @Option(help: ArgumentHelp("The agent's name in reports (env MESH_BENCH_AGENT_NAME; default: the host name).", valueName: "name"))
    var name: String?
    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        let logger = try logging.makeLogger("mesh.bench.agent")
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let options = BenchAgent.Options(
            listen: listen ?? environment("MESH_BENCH_LISTEN") ?? "tcp://0.0.0.0:7700",
            name: name ?? environment("MESH_BENCH_AGENT_NAME"), executable: executable)
        let agent: BenchAgent
        do {
            agent = try BenchAgent(options, logger: logger)
        } catch {
            printError("mesh bench agent: \(error)")
            throw ExitCode.failure
        }
        emit("bench agent \(options.name) listening on \(agent.endpoint)")
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: AgentRunner(agent: agent))], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        emit("bench agent \(options.name) stopped")
    }
}

/// Runs the agent's loop on a thread of its own until graceful shutdown.
struct AgentRunner: Service {
    let agent: BenchAgent

    func run() async throws {
        let agent = self.agent
        async let finished: Void = withCheckedContinuation { continuation in
            Thread.detachNewThread {
                agent.run()
                continuation.resume()
            }
        }
        try? await gracefulShutdown()
        agent.stop()
        await finished
    }
}
