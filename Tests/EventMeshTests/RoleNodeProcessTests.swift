import EventMesh
import Foundation
import Testing

/// `mesh node --role`: the demo's three roles as separate node processes around a broker
/// process, on 127.0.0.1 with OS-assigned ports, as a cluster runs them.
@Suite(.serialized, .timeLimit(.minutes(2))) struct RoleNodeProcessTests {
    @Test func aWorkflowCompletesAcrossThreeRoleNodeProcesses() async throws {
        let broker = try MeshProcess([
            "broker", "--publish-bind", "tcp://127.0.0.1:*", "--subscribe-bind", "tcp://127.0.0.1:*",
            "--control", "tcp://127.0.0.1:*", "--stats-interval", "0",
        ])
        let endpoints = fields(try #require(await broker.waitForLine { $0.hasPrefix("broker publish=") }, "the broker printed no endpoints"))
        let address = "\(try #require(endpoints["publish"])),\(try #require(endpoints["subscribe"]))"

        // Provider and agent first, through their variables (as docker-compose.yml configures
        // them); the workflow node once they are ready, so that its first run can complete.
        var nodes: [String: MeshProcess] = [:]
        for role in ["provider", "agent"] {
            nodes[role] = try MeshProcess(["node", "--json"], environment: [
                "MESH_ROLE": role, "MESH_NODE_ID": role, "MESH_BROKERS": address,
                "MESH_CONTROL": "tcp://127.0.0.1:*", "MESH_HEARTBEAT_MS": "200",
            ])
        }
        for (role, node) in nodes {
            let ready = await node.waitForLine { $0.contains("\"kind\":\"ready\"") }
            #expect(ready?.contains("\"ready\":true") == true, "\(role) not ready: \(node.errorOutput.suffix(5))")
        }
        let workflow = try MeshProcess([
            "node", "--role", "workflow", "--interval", "0.2", "--node-id", "workflow", "--broker", address,
            "--control", "tcp://127.0.0.1:*", "--heartbeat-ms", "200", "--subscribe", ">", "--json",
        ])
        nodes["workflow"] = workflow

        // Two completed runs: the workflow keeps starting them.
        let completedTwice = await eventually(within: 30) {
            workflow.output.filter { $0.contains("\"type\":\"workflow.completed\"") }.count >= 2
        }
        #expect(completedTwice, "no two workflow.completed within 30 s; workflow stderr: \(workflow.errorOutput.suffix(5))")

        // The workflow node saw each role's events, each from the node that published it.
        let events = workflow.output.compactMap(jsonObject).filter { $0["kind"] as? String == "event" }.compactMap { $0["event"] as? [String: Any] }
        func origins(of type: String) -> Set<String> {
            Set(events.filter { $0["type"] as? String == type }.compactMap { $0["node"] as? String })
        }
        #expect(origins(of: "stream.completed") == ["provider"])
        #expect(origins(of: "provider.connected") == ["provider"])
        #expect(origins(of: "agent.started") == ["agent"])
        #expect(origins(of: "agent.stopped") == ["agent"])
        // The workflow node's own events are local there: no origin.
        #expect(events.contains { $0["type"] as? String == "workflow.node_entered" && $0["node"] == nil })
        let ids = events.compactMap { $0["id"] as? String }
        #expect(Set(ids).count == ids.count, "the workflow node delivered an event twice")

        // SIGTERM: every process exits 0 promptly; the nodes print their stats.
        for (role, node) in nodes {
            let exit = try #require(await node.terminate(), "\(role) did not exit")
            #expect(exit.status == 0, "\(role) exited \(exit.status)")
            #expect(exit.elapsed < .seconds(3), "\(role) took \(exit.elapsed) to stop")
            #expect(node.output.contains { $0.contains("\"kind\":\"stats\"") }, "\(role) printed no stats")
        }
        let brokerExit = try #require(await broker.terminate())
        #expect(brokerExit.status == 0)
    }

    @Test func badRoleSettingsAreClearErrors() async throws {
        let cases: [([String], [String: String], String)] = [
            (["node", "--role", "cook"], [:], "--role 'cook' is not a role; use provider, agent or workflow"),
            (["node"], ["MESH_ROLE": "cook"], "MESH_ROLE 'cook' is not a role"),
            (["node", "--interval", "2"], [:], "--interval needs --role workflow"),
            (["node", "--role", "agent", "--interval", "2"], [:], "--interval needs --role workflow"),
            (["node", "--role", "workflow", "--interval", "0"], [:], "--interval must be a number of seconds from 0.01 to 86400, not '0'"),
            (["node", "--role", "workflow", "--interval", "soon"], [:], "--interval must be a number of seconds"),
            (["node", "--role", "workflow"], ["MESH_WORKFLOW_INTERVAL": "-1"], "MESH_WORKFLOW_INTERVAL must be a number of seconds"),
            (["node"], ["MESH_SUBSCRIBE": "a.>.b"], "is not a pattern"),
        ]
        for (arguments, environment, message) in cases {
            let process = try MeshProcess(arguments, environment: environment)
            #expect(await process.waitForExit(within: 10))
            #expect(process.process.terminationStatus == 64, "\(arguments) \(environment): exit \(process.process.terminationStatus), usage errors exit 64")
            let said = await eventually(within: 5) { process.errorOutput.joined(separator: "\n").contains(message) }
            #expect(said, "\(arguments) \(environment): stderr was \(process.errorOutput)")
        }
    }
}
