import ArgumentParser
import EventBus
import Synchronization

/// `mesh demo`: the integration patterns, over the mesh or in one process.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the demo: a provider manager, an agent controller and a workflow engine cooperating only through events.",
        discussion: """
            By default each role runs on a node of its own, and a broker joins the three nodes \
            over TCP on 127.0.0.1 (OS-assigned ports), all in this process: every event a role \
            publishes is delivered on its own node and, once, on the two others. The demo prints \
            the flow as the workflow node sees it, then per node what it published, delivered \
            and kept in history, the duplicates dropped and the events lost, and exits 0 when \
            the workflow completed and every node saw every event exactly once.

            With --in-process the roles share one bus in one process instead: each publishes in \
            its own scope, a middleware stamps an audit mark on every event, a deliberately \
            failing metrics handler shows how a throwing handler is reported as handler.error, \
            and an owner-bound dashboard subscription ends with its owner.

            Examples:
              mesh demo
              mesh demo --quiet
              mesh demo --in-process
            """
    )

    @Flag(name: .shortAndLong, help: "Print only the summary, not every event.")
    var quiet = false

    @Flag(name: .customLong("in-process"), help: "Run the roles on one bus in one process, without the mesh.")
    var inProcess = false

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        if inProcess {
            try runInProcess()
        } else {
            try await MeshDemo(quiet: quiet, logger: try logging.makeLogger("mesh.demo")).run()
        }
    }

    func runInProcess() throws {
        let app = EventBus(historyCapacity: 1000)
        let quiet = quiet
        let print: @Sendable (String) -> Void = { line in if !quiet { Swift.print(line) } }

        app.addMiddleware(name: "audit") { event, next in
            var event = event
            event.metadata["audit"] = "seen"
            next(event)
        }
        app.subscribe(">") { event in
            let scope = event.scope.isEmpty ? "app" : event.scope.joined(separator: "/")
            let data = event.data.isNull ? "" : " \(event.data)"
            print("  [\(scope)] \(event.type)\(data)")
        }
        // A metrics sink that fails on one event type: the bus reports it and carries on.
        app.subscribe(.providerConnected) { _ in
            throw DemoError("metrics backend unavailable")
        }

        // Safe subscribe: the dashboard's subscription lives exactly as long as the dashboard.
        var dashboard: Dashboard? = Dashboard()
        app.subscribe("workflow.>", owner: dashboard!) { dashboard, _ in dashboard.count() }
        weak let weakDashboard = dashboard

        let providers = ProviderManager(app: app)
        let agents = AgentController(app: app)
        let workflow = WorkflowEngine(app: app, name: "summarize", nodes: ["plan", "draft", "review"])
        providers.start()
        agents.start()
        workflow.start()

        print("Running workflow \"summarize\" (plan → draft → review):")
        workflow.run()

        let seenByDashboard = dashboard?.events ?? 0
        dashboard = nil
        app.publish(.workflowStarted, data: ["workflow": "after-dashboard"], source: "demo")

        let history = app.history()
        var perType: [EventType: Int] = [:]
        for event in history { perType[event.type, default: 0] += 1 }
        let stats = app.stats
        Swift.print("""

            Summary
              events on the app bus:   \(history.count) (history capacity \(app.historyCapacity))
              per type:                \(perType.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
              handler calls:           \(stats.delivered)
              handler errors:          \(stats.handlerErrors) (reported as handler.error)
              dashboard saw:           \(seenByDashboard) workflow events, then was released
            """)

        var failures: [String] = []
        if perType[.workflowCompleted] != 1 { failures.append("the workflow did not complete exactly once") }
        if perType[.streamCompleted] != 3 { failures.append("expected 3 completed streams") }
        if stats.handlerErrors != 3 || perType[.handlerError] != 3 { failures.append("expected 3 reported handler errors") }
        if !history.allSatisfy({ $0.metadata["audit"] == "seen" }) { failures.append("middleware did not see every event") }
        if weakDashboard != nil || seenByDashboard != 2 * 3 + 2 { failures.append("the dashboard subscription did not end with its owner") }
        guard failures.isEmpty else {
            for failure in failures { Swift.print("FAILED: \(failure)") }
            throw ExitCode.failure
        }
        Swift.print("  all checks passed")
    }
}

/// Counts workflow events for as long as it lives.
final class Dashboard: Sendable {
    private let seen = Atomic<Int>(0)
    var events: Int { seen.load(ordering: .relaxed) }
    func count() { seen.add(1, ordering: .relaxed) }
}
