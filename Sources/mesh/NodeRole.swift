import ArgumentParser
import EventBus
import EventMesh
import Logging
import Synchronization

/// One of the demo's roles, run by a long-lived node (`mesh node --role`): the same
/// ProviderManager, AgentController and WorkflowEngine as `mesh demo`, each on a node of its
/// own, cooperating with the others only through the mesh.
enum NodeRole: String, CaseIterable, Sendable {
    /// Creates providers and runs a stream for each `agent.started`.
    case provider
    /// Starts an agent for each `workflow.node.entered` and reports `agent.stopped`.
    case agent
    /// Starts the workflow "summarize" (plan → draft → review) every interval.
    case workflow
}

/// `--role` and `--interval`: which role a node runs, and how often the workflow role starts a run.
struct RoleOptions: ParsableArguments {
    @Option(name: .customLong("role"), help: ArgumentHelp(
        "Run a demo role on this node: provider, agent, or workflow (starts the workflow \"summarize\" every --interval seconds) (env MESH_ROLE; default: none).",
        valueName: "provider|agent|workflow"))
    var role: String?

    @Option(name: .customLong("interval"), help: ArgumentHelp(
        "With --role workflow: seconds between workflow runs, e.g. 0.5 (env MESH_WORKFLOW_INTERVAL; default 5).",
        valueName: "seconds"))
    var interval: String?

    /// The shortest and longest interval accepted, in seconds.
    static let intervalRange = 0.01...86_400.0

    func validate() throws {
        let role = try resolvedRole()
        if interval != nil && role != .workflow {
            throw ValidationError("--interval needs --role workflow")
        }
        if role == .workflow { _ = try resolvedInterval() }
    }

    /// The role from `--role`, then `MESH_ROLE`; nil for none.
    func resolvedRole() throws -> NodeRole? {
        let name = role == nil ? "MESH_ROLE" : "--role"
        guard let text = role ?? environment("MESH_ROLE") else { return nil }
        guard let role = NodeRole(rawValue: text) else {
            throw ValidationError("\(name) '\(text)' is not a role; use provider, agent or workflow")
        }
        return role
    }

    /// The workflow interval from `--interval`, then `MESH_WORKFLOW_INTERVAL`, then 5 seconds.
    func resolvedInterval() throws -> Duration {
        let name = interval == nil ? "MESH_WORKFLOW_INTERVAL" : "--interval"
        let text = interval ?? environment("MESH_WORKFLOW_INTERVAL") ?? "5"
        guard let seconds = Double(text), Self.intervalRange.contains(seconds) else {
            throw ValidationError("\(name) must be a number of seconds from 0.01 to 86400, not '\(text)'")
        }
        return .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}

/// A role attached to a node's bus.
///
/// Make it before the node starts: the role's subscriptions are then part of what readiness
/// waits for, so that no event meant for the role is published before the mesh delivers it.
final class RoleActivity: Sendable {
    let role: NodeRole
    private let node: MeshNode
    private let interval: Duration
    private let logger: Logger
    /// Keeps the role's object alive: its subscriptions are bound to it and end when it is released.
    private let owner: any Sendable
    private let workflow: WorkflowEngine?
    /// Whether a workflow run was started and has not completed yet.
    private let running = Atomic<Bool>(false)

    /// Subscribes the role on `node`'s bus.
    /// - Parameters:
    ///   - role: the role to run.
    ///   - node: the node, not started yet.
    ///   - interval: with the workflow role, the time between runs.
    ///   - logger: where the role logs.
    init(_ role: NodeRole, on node: MeshNode, interval: Duration, logger: Logger) {
        self.role = role
        self.node = node
        self.interval = interval
        self.logger = logger
        switch role {
        case .provider:
            let manager = ProviderManager(app: node.bus)
            manager.start()
            owner = manager
            workflow = nil
        case .agent:
            let controller = AgentController(app: node.bus)
            controller.start()
            owner = controller
            workflow = nil
        case .workflow:
            let engine = WorkflowEngine(app: node.bus, name: "summarize", nodes: ["plan", "draft", "review"])
            engine.start()
            owner = engine
            workflow = engine
        }
        if role == .workflow {
            node.bus.subscribe(.workflowCompleted, owner: self) { activity, _ in
                activity.running.store(false, ordering: .relaxed)
            }
        }
    }

    /// Runs the role until the task is cancelled.
    ///
    /// The provider and agent roles only react to events, so this returns at once for them.
    /// The workflow role waits until the node is ready, then starts a run at once and every
    /// interval after that, on a fixed schedule; it warns when a run has not completed by the
    /// time the next one starts (no provider or agent node on the mesh, or events lost).
    func run() async {
        guard let workflow else {
            logger.info("running role", metadata: ["role": "\(role)"])
            return
        }
        await node.ready()
        guard !Task.isCancelled else { return }
        logger.info("running role", metadata: ["role": "\(role)", "interval": "\(interval)"])
        let clock = ContinuousClock()
        var due = clock.now
        var runs = 0
        while !Task.isCancelled {
            if running.exchange(true, ordering: .relaxed) {
                logger.warning("workflow run \(runs) did not complete within \(interval); are provider and agent nodes on the mesh?")
            }
            runs += 1
            workflow.run()
            due = due + interval
            // Behind schedule (a stopped process, say): start again from now, without a burst.
            if due < clock.now { due = clock.now + interval }
            try? await Task.sleep(until: due, clock: clock)
        }
    }
}
