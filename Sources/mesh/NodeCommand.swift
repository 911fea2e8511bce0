import ArgumentParser
import EventBus
import EventMesh
import Logging
import ServiceLifecycle

/// `mesh node`: run a node until SIGTERM or SIGINT.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run a mesh node until SIGTERM or SIGINT; print its stats on exit.",
        discussion: """
            A node connects to every broker given, delivers each event at most once (dedup by \
            event id), and counts what it missed per origin. With --subscribe it prints the \
            events it delivers; with --publish it also publishes, once ready (or, with \
            --start-on, once an event of that type arrives), and can close its burst with an \
            --end-marker event whose data says how many it published.

            With --role a node runs one of the demo's roles for as long as it lives: provider \
            (creates providers, runs a stream for each agent), agent (starts an agent for each \
            workflow step) or workflow (starts the workflow "summarize" every --interval \
            seconds, once ready). Run one node of each role, on any hosts that share brokers, \
            and a workflow completes across them every interval.

            Every option can also come from a MESH_* variable (see each option). Traffic is not \
            authenticated or encrypted: keep the endpoints on a trusted network.

            Examples:
              mesh node --broker tcp://127.0.0.1:5555,tcp://127.0.0.1:5556 --subscribe '>'
              mesh node --node-id agents --subscribe 'provider.>' --json
              mesh node --publish test.ping --count 1000 --rate 500 --end-marker test.end
              mesh node --role provider --node-id provider
              mesh node --role agent --node-id agent
              mesh node --role workflow --interval 2 --subscribe 'workflow.completed'
              MESH_ROLE=workflow MESH_WORKFLOW_INTERVAL=0.5 MESH_SUBSCRIBE='workflow.>' \\
                mesh node
              MESH_BROKERS='tcp://b1:5555,tcp://b1:5556;tcp://b2:5555,tcp://b2:5556' \\
                mesh node --subscribe '>'
            """
    )

    @OptionGroup var node: NodeOptions
    @OptionGroup var logging: LoggingOptions

    @Option(name: .customLong("subscribe"), help: ArgumentHelp(
        "Print delivered events matching this pattern (repeatable), e.g. 'provider.>' (env MESH_SUBSCRIBE, patterns separated by ',').",
        valueName: "pattern"))
    var subscriptions: [String] = []

    @OptionGroup var role: RoleOptions

    @Flag(name: .customLong("json"), help: "Print NDJSON: a ready line, one line per event, a stats line on exit.")
    var json = false

    @Option(name: .customLong("publish"), help: ArgumentHelp("Publish events of this type (see --count, --rate, --data).", valueName: "type"))
    var publishType: String?

    @OptionGroup var publishing: PublishingOptions

    @Option(name: .customLong("start-on"), help: ArgumentHelp(
        "Start publishing when an event of this type arrives, instead of when ready.", valueName: "type"))
    var startOn: String?

    @Option(name: .customLong("end-marker"), help: ArgumentHelp(
        "After publishing, publish one event of this type with data {\"count\": N, \"type\": TYPE}.", valueName: "type"))
    var endMarker: String?

    @Flag(name: .customLong("no-wait"), help: "Publish at once, without waiting until the node is ready.")
    var noWait = false

    /// The patterns from `--subscribe`, then `MESH_SUBSCRIBE`.
    func resolvedSubscriptions() -> [String] {
        guard subscriptions.isEmpty, let variable = environment("MESH_SUBSCRIBE") else { return subscriptions }
        // Patterns hold no whitespace: spaces around the commas are separators too.
        return variable.split(whereSeparator: { $0 == "," || $0.isWhitespace }).map(String.init)
    }

    func validate() throws {
        for text in resolvedSubscriptions() { _ = try parsePattern(text) }
        if let publishType { _ = try parseEventType(publishType, what: "--publish") }
        if let startOn { _ = try parseEventType(startOn, what: "--start-on") }
        if let endMarker { _ = try parseEventType(endMarker, what: "--end-marker") }
        if publishType == nil && (startOn != nil || endMarker != nil) {
            throw ValidationError("--start-on and --end-marker need --publish")
        }
    }

    func run() async throws {
        let logger = try logging.makeLogger("mesh.node")
        let node = try MeshNode(configuration: try node.configuration(logger: logger))
        let printer = EventPrinter(json: json)
        for text in resolvedSubscriptions() {
            node.bus.subscribe(try parsePattern(text)) { event in printer.print(event) }
        }
        // Before the node starts, so that readiness covers the role's subscriptions.
        let activity = try role.resolvedRole().map { role in
            RoleActivity(role, on: node, interval: try self.role.resolvedInterval(), logger: logger)
        }
        let trigger = StartTrigger()
        if let startOn {
            node.bus.subscribe(EventPattern(try parseEventType(startOn, what: "--start-on"))) { _ in trigger.fire() }
        }
        let runner = NodeRunner(
            node: node, printer: printer, publishType: try publishType.map { try parseEventType($0, what: "--publish") },
            publishing: publishing, trigger: startOn == nil ? nil : trigger,
            endMarker: try endMarker.map { try parseEventType($0, what: "--end-marker") }, waitForReady: !noWait,
            role: activity, logger: logger)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: runner)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Starts the node, publishes if asked, waits for shutdown, stops and prints stats.
struct NodeRunner: Service {
    let node: MeshNode
    let printer: EventPrinter
    let publishType: EventType?
    let publishing: PublishingOptions
    let trigger: StartTrigger?
    let endMarker: EventType?
    let waitForReady: Bool
    /// The role this node runs, if any.
    let role: RoleActivity?
    let logger: Logger

    func run() async throws {
        try node.start()
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                if let role { group.addTask { await role.run() } }
                group.addTask { await publishWhenReady() }
            }
        }
        try? await gracefulShutdown()
        node.stop()
        printer.stats(node.stats)
    }

    /// Prints the ready line once the node is ready, then publishes if asked.
    private func publishWhenReady() async {
        if waitForReady || publishType == nil { await node.ready() }
        if !Task.isCancelled { printer.ready(node) }
        guard let publishType, !Task.isCancelled else { return }
        if let trigger { await trigger.wait() }
        guard !Task.isCancelled else { return }
        let ids = (try? await publishing.publish(publishType, on: node, source: node.configuration.nodeID)) ?? []
        logger.info("published", metadata: ["type": "\(publishType)", "count": "\(ids.count)"])
        if let endMarker {
            _ = try? node.publish(endMarker, data: ["count": .int(Int64(ids.count)), "type": .string(publishType.name)], source: node.configuration.nodeID)
        }
    }
}

/// Fires once; waiters resume when it does, at once if it already has, or when cancelled.
final class StartTrigger: Sendable {
    private struct State {
        var fired = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }
    private let state = LockedValueBox(State())

    func fire() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            guard !state.fired else { return [] }
            state.fired = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        let id = state.withLockedValue { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now = state.withLockedValue { state -> Bool in
                    if state.fired || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
