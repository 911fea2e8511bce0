import EventBus
import Synchronization

// The three roles of the demo. Each one talks to the others only through events: none holds a
// reference to another.

/// Payload of `stream.started`.
struct StreamStarted: EventPayload {
    static let eventType: EventType = .streamStarted
    var streamID: String
    var provider: String
    var agent: String
}

/// Payload of `stream.completed`.
struct StreamCompleted: EventPayload {
    static let eventType: EventType = .streamCompleted
    var streamID: String
    var agent: String
    var chunks: Int
}

/// Creates providers on demand and runs streams for agents.
final class ProviderManager: Sendable {
    private let app: EventBus
    private let bus: ScopedEventBus
    private let streams = LockedCounter()

    /// - Parameter app: the application bus; the manager listens there and publishes in its own scope.
    init(app: EventBus) {
        self.app = app
        self.bus = app.scoped("providers")
    }

    func start() {
        // Owner-bound: the subscription ends when the manager is deallocated.
        app.subscribe(.agentStarted, owner: self) { manager, event in
            try manager.serve(agent: event)
        }
    }

    private func serve(agent event: Event) throws {
        guard let agent = event.data["agent"]?.stringValue, let provider = event.data["provider"]?.stringValue else {
            throw DemoError("agent.started without agent or provider: \(event.data)")
        }
        bus.publish(.providerCreated, data: ["provider": .string(provider)], source: "provider-manager")
        bus.publish(.providerConnected, data: ["provider": .string(provider), "latency_ms": 12], source: "provider-manager")
        let streamID = "s\(streams.next())"
        bus.publish(StreamStarted(streamID: streamID, provider: provider, agent: agent), source: "provider-manager")
        let words = ["events", "not", "calls"]
        for (index, word) in words.enumerated() {
            bus.publish(.streamChunk, data: ["stream_id": .string(streamID), "index": .int(Int64(index)), "text": .string(word)], source: "provider-manager")
        }
        bus.publish(StreamCompleted(streamID: streamID, agent: agent, chunks: words.count), source: "provider-manager")
    }
}

/// Starts an agent for each workflow node and reports when the agent's stream is done.
final class AgentController: Sendable {
    private let app: EventBus
    private let bus: ScopedEventBus

    init(app: EventBus) {
        self.app = app
        self.bus = app.scoped("agents")
    }

    func start() {
        app.subscribe(.workflowNodeEntered, owner: self) { controller, event in
            let node = event.data["node"]?.stringValue ?? "?"
            controller.bus.publish(.agentStarted, data: [
                "agent": .string("agent-\(node)"),
                "provider": node == "review" ? "local-llm" : "anthropic",
                "workflow": event.data["workflow"] ?? nil,
            ], source: "agent-controller")
        }
        app.subscribe(to: StreamCompleted.self, owner: self) { controller, event in
            controller.bus.publish(.agentStopped, data: [
                "agent": .string(event.data.agent), "chunks": .int(Int64(event.data.chunks)),
            ], source: "agent-controller")
        }
    }
}

/// Walks a workflow's nodes in order, one agent per node.
final class WorkflowEngine: Sendable {
    private let app: EventBus
    private let bus: ScopedEventBus
    private let name: String
    private let nodes: [String]

    init(app: EventBus, name: String, nodes: [String]) {
        self.app = app
        self.bus = app.scoped("workflows")
        self.name = name
        self.nodes = nodes
    }

    func start() {
        app.subscribe(.agentStopped, owner: self) { engine, event in
            guard let agent = event.data["agent"]?.stringValue, agent.hasPrefix("agent-") else { return }
            let node = String(agent.dropFirst("agent-".count))
            engine.bus.publish(.workflowNodeExited, data: ["workflow": .string(engine.name), "node": .string(node)], source: "workflow-engine")
            if let index = engine.nodes.firstIndex(of: node), index + 1 < engine.nodes.count {
                engine.enter(engine.nodes[index + 1])
            } else {
                engine.bus.publish(.workflowCompleted, data: ["workflow": .string(engine.name)], source: "workflow-engine")
            }
        }
    }

    func run() {
        bus.publish(.workflowStarted, data: ["workflow": .string(name), "nodes": .array(nodes.map { .string($0) })], source: "workflow-engine")
        if let first = nodes.first { enter(first) }
    }

    private func enter(_ node: String) {
        bus.publish(.workflowNodeEntered, data: ["workflow": .string(name), "node": .string(node)], source: "workflow-engine")
    }
}

struct DemoError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A counter that is safe to bump from any thread.
final class LockedCounter: Sendable {
    private let value = Atomic<Int>(0)
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}
