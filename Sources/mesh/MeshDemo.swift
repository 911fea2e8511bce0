import ArgumentParser
import EventBus
import EventMesh
import Logging

/// The demo over the mesh: a broker and three nodes in this process, on loopback TCP.
struct MeshDemo {
    let quiet: Bool
    let logger: Logger

    func run() async throws {
        var brokerLogger = logger
        brokerLogger.logLevel = max(logger.logLevel, .warning)
        let broker = try Broker(logger: brokerLogger)
        let address = try broker.start()
        defer { broker.stop() }

        var nodes: [MeshNode] = []
        for name in ["providers", "agents", "workflows"] {
            var configuration = MeshConfiguration(nodeID: name, brokers: [address], logger: brokerLogger)
            configuration.heartbeatIntervalMilliseconds = 200
            // Every node keeps every event (not only those its role subscribes to), so that the
            // summary can compare their histories.
            configuration.receiveAll = true
            let node = try MeshNode(configuration: configuration)
            try node.start()
            nodes.append(node)
        }
        defer { for node in nodes { node.stop() } }
        let (providersNode, agentsNode, workflowsNode) = (nodes[0], nodes[1], nodes[2])
        for node in nodes {
            guard await waitUntilReady(node, seconds: 10) else {
                printError("FAILED: node \(node.configuration.nodeID) did not become ready within 10 s")
                throw ExitCode.failure
            }
        }
        Swift.print("Broker on \(address.publishEndpoint) (publish) and \(address.subscribeEndpoint) (subscribe); nodes providers, agents and workflows are ready.")

        let quiet = quiet
        workflowsNode.bus.subscribe(">") { event in
            guard !quiet else { return }
            // The scope path starts with the publishing node's id (its bus's scope).
            let scope = event.scope.joined(separator: "/")
            let data = event.data.isNull ? "" : " \(EventJSON.text(of: event.data))"
            Swift.print("  [\(scope)] \(event.type)\(data)")
        }
        let completed = StartTrigger()
        workflowsNode.bus.subscribe(.workflowCompleted) { _ in completed.fire() }

        // Each role lives on its own node and knows the others only through events.
        let providers = ProviderManager(app: providersNode.bus)
        let agents = AgentController(app: agentsNode.bus)
        let workflow = WorkflowEngine(app: workflowsNode.bus, name: "summarize", nodes: ["plan", "draft", "review"])
        providers.start()
        agents.start()
        workflow.start()

        Swift.print("Running workflow \"summarize\" (plan → draft → review) across three nodes:")
        workflow.run()
        let finished = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await completed.wait()
                return true
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(10))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        guard finished else {
            printError("FAILED: the workflow did not complete within 10 s")
            throw ExitCode.failure
        }
        // Every node should end up with every event: wait (with a deadline) until their
        // histories agree.
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            let counts = Set(nodes.map { $0.bus.stats.historyCount })
            let published = nodes.reduce(0) { $0 + Int($1.bridge.stats.published) }
            if counts.count == 1 && counts.first == published { break }
            try? await Task.sleep(for: .milliseconds(20))
        }

        let published = nodes.reduce(UInt64(0)) { $0 + $1.bridge.stats.published }
        Swift.print("")
        Swift.print("Summary (\(published) events published in all)")
        Swift.print("  node       published  delivered-remote  history  duplicates  lost  malformed")
        var failures: [String] = []
        for node in nodes {
            let stats = node.stats
            let bridge = stats.bridge
            let name = node.configuration.nodeID.padding(to: 10)
            Swift.print("  \(name) \(String(bridge.published).padding(to: 10)) \(String(bridge.delivered).padding(to: 17)) \(String(stats.historySize).padding(to: 8)) \(String(bridge.duplicates).padding(to: 11)) \(String(bridge.lost).padding(to: 5)) \(bridge.malformed.values.reduce(0, +))")
            if UInt64(stats.historySize) != published { failures.append("node \(name) has \(stats.historySize) events in history, expected \(published)") }
            if bridge.delivered + bridge.published != published { failures.append("node \(name) delivered \(bridge.delivered) remote events, expected \(published - bridge.published)") }
            if bridge.lost != 0 { failures.append("node \(name) lost \(bridge.lost) events") }
        }
        let workflowEvents = workflowsNode.bus.history(matching: "workflow.completed").count
        if workflowEvents != 1 { failures.append("the workflow completed \(workflowEvents) times, expected once") }
        guard failures.isEmpty else {
            for failure in failures { printError("FAILED: \(failure)") }
            throw ExitCode.failure
        }
        Swift.print("  every node saw every event exactly once; all checks passed")
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
