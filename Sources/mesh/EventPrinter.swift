import EventBus
import EventMesh

/// Prints events, readiness and stats as plain lines or as NDJSON (`--json`).
struct EventPrinter: Sendable {
    let json: Bool

    /// One delivered event: `TYPE ID from NODE DATA`, or `{"kind":"event","event":{…}}`.
    func print(_ event: Event) {
        if json {
            emit("{\"kind\":\"event\",\"event\":\(EventJSON.line(for: event))}")
        } else {
            let node = event.origin?.node ?? "local"
            let data = event.data.isNull ? "" : " \(EventJSON.text(of: event.data))"
            emit("\(event.type) \(event.id) from \(node)\(data)")
        }
    }

    /// The node is ready (its subscriptions are live on every broker).
    func ready(_ node: MeshNode) {
        let control = node.bridge.controlEndpoint
        let bound = node.bridge.boundEndpoint
        if json {
            let controlField = control.map { ",\"control\":\"\($0)\"" } ?? ""
            let boundField = bound.map { ",\"bound\":\"\($0)\"" } ?? ""
            emit("{\"kind\":\"ready\",\"node\":\"\(node.configuration.nodeID)\",\"ready\":\(node.bridge.isReady)\(controlField)\(boundField)}")
        } else {
            let state = node.bridge.isReady ? "ready" : "started (not ready yet)"
            var line = "node \(node.configuration.nodeID) \(state)"
            if !node.configuration.brokers.isEmpty { line += "; brokers: \(node.configuration.brokers.map(\.description).joined(separator: " "))" }
            if !node.configuration.peers.isEmpty { line += "; peers: \(node.configuration.peers.joined(separator: " "))" }
            if let bound { line += "; bound \(bound)" }
            if let control { line += "; control \(control)" }
            emit(line)
        }
    }

    /// The node's stats on exit.
    func stats(_ stats: MeshNodeStats) {
        if json {
            emit("{\"kind\":\"stats\",\"stats\":\(StatsText.json(stats))}")
        } else {
            emit(StatsText.summary(stats))
        }
    }
}

/// Renders stats.
enum StatsText {
    static func json(_ stats: MeshNodeStats) -> String {
        String(decoding: JSONText.encode(stats), as: UTF8.self)
    }

    /// One line: the figures a person looks at first.
    static func summary(_ stats: MeshNodeStats) -> String {
        let bridge = stats.bridge
        let malformed = bridge.malformed.values.reduce(0, +)
        return "node \(bridge.nodeID): published \(bridge.published) sent \(bridge.sent) delivered \(bridge.delivered) "
            + "duplicates \(bridge.duplicates) lost \(bridge.lost) too-old \(bridge.tooOld) malformed \(malformed) "
            + "queue-drops \(bridge.queueDrops) history \(stats.historySize) origins \(bridge.trackedOrigins)"
    }
}
