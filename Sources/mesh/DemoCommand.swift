import ArgumentParser
import EventBus
import Synchronization

/// `mesh demo`: the integration patterns, in one process.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the in-process demo: a provider manager, an agent controller and a workflow engine cooperating only through events.",
        discussion: """
            The three roles each publish in their own scope (providers, agents, workflows) and \
            listen on the application bus, where every scoped event arrives with the id it was \
            published with. A middleware stamps an audit mark on every event, a deliberately \
            failing metrics handler shows how a throwing handler is reported as handler.error \
            without disturbing anyone else, and an owner-bound dashboard subscription shows a \
            handler that ends with its owner. The demo exits 0 when the workflow completed and \
            every check held.

            Examples:
              mesh demo
              mesh demo --quiet
            """
    )

    @Flag(name: .shortAndLong, help: "Print only the summary, not every event.")
    var quiet = false

    func run() throws {
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
