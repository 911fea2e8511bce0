import EventBus
import Logging
import Testing
@testable import EventMesh

@Suite(.serialized, .timeLimit(.minutes(2))) struct RelayTests {
    func quiet(_ configuration: MeshConfiguration) -> MeshConfiguration {
        var configuration = configuration
        configuration.logger.logLevel = .error
        configuration.heartbeatIntervalMilliseconds = 100
        configuration.historyCapacity = 10_000
        return configuration
    }

    @Test func aRelayRingOverThreeBrokerNetworksTerminatesAndDeliversEverythingOnce() async throws {
        let brokers = try (0..<3).map { _ in try Broker() }
        let addresses = try brokers.map { try $0.start() }
        defer { for broker in brokers { broker.stop() } }
        // Relays A-B, B-C and C-A: a ring.
        var relays: [MeshRelay] = []
        for index in 0..<3 {
            let next = (index + 1) % 3
            relays.append(try MeshRelay(networks: [
                quiet(MeshConfiguration(nodeID: "relay-\(index)\(next)", brokers: [addresses[index]])),
                quiet(MeshConfiguration(nodeID: "relay-\(index)\(next)", brokers: [addresses[next]])),
            ]))
        }
        for relay in relays { try relay.start() }
        defer { for relay in relays { relay.stop() } }
        var leaves: [MeshNode] = []
        var seen: [Seen] = []
        for index in 0..<3 {
            let leaf = try MeshNode(configuration: quiet(MeshConfiguration(nodeID: "leaf-\(index)", brokers: [addresses[index]])))
            let leafSeen = Seen()
            leaf.bus.subscribe("ring.ping") { event in leafSeen.ids.withLockedValue { $0.append(event.id) } }
            try leaf.start()
            leaves.append(leaf)
            seen.append(leafSeen)
        }
        defer { for leaf in leaves { leaf.stop() } }
        for relay in relays { await relay.ready() }
        for leaf in leaves { await leaf.ready() }

        var published = Set<EventID>()
        for round in 0..<100 {
            for leaf in leaves { published.insert(try leaf.publish("ring.ping", data: .int(Int64(round)))) }
        }
        for (index, leafSeen) in seen.enumerated() {
            let complete = await eventually { leafSeen.count >= 300 }
            #expect(complete, "leaf \(index) got \(leafSeen.count) of 300")
            #expect(Set(leafSeen.all).symmetricDifference(published).isEmpty, "leaf \(index): the id sets differ")
            #expect(leafSeen.count == 300, "leaf \(index): an event was delivered twice")
        }
        // Every relay re-published every event exactly once, and the copies that came back
        // around the ring stopped there.
        for relay in relays {
            #expect(await eventually { relay.stats.relayed == 300 }, "relayed \(relay.stats.relayed)")
        }
        // A copy that went round the ring was seen again by a relay and stopped: no relay
        // re-published anything twice (a loop would push `relayed` past 300).
        for relay in relays {
            #expect(relay.stats.relayed == 300)
            #expect(relay.stats.alreadyRelayed > 0)
        }
        for leaf in leaves { #expect(leaf.bridge.stats.lost == 0) }
    }

    @Test func theHopLimitStopsAnEventAndIsCounted() async throws {
        let brokers = try (0..<4).map { _ in try Broker() }
        let addresses = try brokers.map { try $0.start() }
        defer { for broker in brokers { broker.stop() } }
        // A chain A-B-C-D with a hop limit of 2: A's events reach B (1 hop) and C (2 hops), not D.
        var relays: [MeshRelay] = []
        for index in 0..<3 {
            relays.append(try MeshRelay(networks: [
                quiet(MeshConfiguration(nodeID: "relay-\(index)", brokers: [addresses[index]])),
                quiet(MeshConfiguration(nodeID: "relay-\(index)", brokers: [addresses[index + 1]])),
            ], hopLimit: 2))
        }
        for relay in relays { try relay.start() }
        defer { for relay in relays { relay.stop() } }
        var leaves: [MeshNode] = []
        var seen: [Seen] = []
        for index in 0..<4 {
            let leaf = try MeshNode(configuration: quiet(MeshConfiguration(nodeID: "leaf-\(index)", brokers: [addresses[index]])))
            let leafSeen = Seen()
            leaf.bus.subscribe("chain.ping") { event in leafSeen.ids.withLockedValue { $0.append(event.id) } }
            try leaf.start()
            leaves.append(leaf)
            seen.append(leafSeen)
        }
        defer { for leaf in leaves { leaf.stop() } }
        for relay in relays { await relay.ready() }
        for leaf in leaves { await leaf.ready() }

        for index in 0..<10 { try leaves[0].publish("chain.ping", data: .int(Int64(index))) }
        #expect(await eventually { seen[2].count == 10 }, "C got \(seen[2].count)")
        #expect(seen[1].count == 10)
        let dropped = await eventually { relays[2].nodes[1].bridge.stats.hopLimitDrops == 10 }
        #expect(dropped, "hop-limit drops: \(relays[2].nodes[1].bridge.stats.hopLimitDrops)")
        #expect(seen[3].count == 0, "an event travelled past the hop limit")
        let hops = leaves[2].bus.history(matching: "chain.ping").compactMap { $0.origin?.hops }
        #expect(hops.count == 10 && hops.allSatisfy { $0 == 2 })
    }
}
