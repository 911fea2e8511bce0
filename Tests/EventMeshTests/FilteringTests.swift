import EventBus
import Logging
import Testing
@testable import EventMesh

@Suite(.timeLimit(.minutes(2))) struct FilteringTests {
    @Test func prefixesCoverThePatterns() {
        #expect(MeshBridge.prefixes(for: ["provider.connected"], receiveAll: false) == ["provider.connected", "_mesh."])
        #expect(MeshBridge.prefixes(for: ["provider.*", "provider.>", "provider.connected"], receiveAll: false) == ["provider.", "_mesh."])
        #expect(MeshBridge.prefixes(for: ["a.*.c", "b.x"], receiveAll: false) == ["a.", "b.x", "_mesh."])
        #expect(MeshBridge.prefixes(for: [">"], receiveAll: false) == [""])
        #expect(MeshBridge.prefixes(for: ["*.started"], receiveAll: false) == [""])
        #expect(MeshBridge.prefixes(for: [], receiveAll: false) == ["_mesh."])
        #expect(MeshBridge.prefixes(for: [], receiveAll: true) == [""])
    }

    @Test func unwantedEventsStayOffTheLinkAndSubscribingLetsThemIn() async throws {
        let broker = try Broker()
        let address = try broker.start()
        defer { broker.stop() }
        // The listener's link to the broker's subscribe side runs through a byte counter.
        let subscribePort = try #require(Int(address.subscribeEndpoint.split(separator: ":").last ?? ""))
        let forwarder = try CountingForwarder(targetPort: subscribePort)
        defer { forwarder.close() }
        let counted = BrokerAddress(publishEndpoint: address.publishEndpoint, subscribeEndpoint: "tcp://127.0.0.1:\(forwarder.port)")

        var publisherConfiguration = MeshConfiguration(nodeID: "publisher", brokers: [address], logger: Logger(label: "test"))
        publisherConfiguration.sendHighWaterMark = 100_000
        let publisher = try MeshNode(configuration: publisherConfiguration)
        var listenerConfiguration = MeshConfiguration(nodeID: "listener", brokers: [counted], logger: Logger(label: "test"))
        listenerConfiguration.heartbeatIntervalMilliseconds = 10_000
        let listener = try MeshNode(configuration: listenerConfiguration)
        let providers = Seen()
        let streams = Seen()
        listener.bus.subscribe("provider.>") { event in providers.ids.withLockedValue { $0.append(event.id) } }
        try publisher.start()
        try listener.start()
        defer {
            publisher.stop()
            listener.stop()
        }
        await publisher.ready()
        await listener.ready()

        let kilobyte = EventValue.string(String(repeating: "x", count: 1024))
        let before = forwarder.bytesToClient
        for index in 0..<10_000 {
            try publisher.publish(.streamChunk, data: ["index": .int(Int64(index)), "text": kilobyte])
        }
        let marker = try publisher.publish(.providerConnected, data: ["provider": "anthropic"])
        #expect(await eventually { providers.all.contains(marker) }, "the wanted event did not arrive")
        let carried = forwarder.bytesToClient - before
        print("filtering: \(carried) bytes crossed the link of a node without stream.* subscribers (10,000 × 1 KiB stream.chunk events)")
        #expect(carried < 64 * 1024, "\(carried) bytes crossed the listener's link for 10,000 unwanted 1 KiB events")
        #expect(listener.bridge.stats.subscribedPrefixes == ["_mesh.", "provider."])

        // Subscribing to stream.* takes effect within a deadline, without a restart.
        listener.bus.subscribe("stream.*") { event in streams.ids.withLockedValue { $0.append(event.id) } }
        let arrived = await eventually(within: 10) {
            _ = try? publisher.publish(.streamChunk, data: ["text": "after"])
            return streams.count > 0
        }
        #expect(arrived, "stream events did not arrive after subscribing")
        #expect(listener.bridge.stats.subscribedPrefixes == ["_mesh.", "provider.", "stream."])
        #expect(listener.bridge.stats.lost == 0)
    }

    @Test func aPrefixMatchIsCheckedExactlyAfterDecoding() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 2, type: "test.ping")
        defer { mesh.stop() }
        // "test.ping" is also a prefix of "test.pingpong": it crosses the link but is not delivered.
        try mesh.nodes[0].publish("test.pingpong")
        let marker = try mesh.nodes[0].publish("test.ping")
        #expect(await eventually { mesh.seen[1].all.contains(marker) })
        #expect(await eventually { mesh.nodes[1].bridge.stats.filtered == 1 })
        #expect(mesh.nodes[1].bus.history(matching: "test.pingpong").isEmpty)
        // Alternating types are each checked (the type before is remembered, not trusted).
        for _ in 0..<3 {
            try mesh.nodes[0].publish("test.pingpong")
            try mesh.nodes[0].publish("test.ping")
        }
        #expect(await eventually { mesh.nodes[1].bridge.stats.filtered == 4 })
        #expect(mesh.nodes[1].bus.history(matching: "test.pingpong").isEmpty)
    }

    @Test func aTypeNoLongerSubscribedIsFilteredAgain() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 2, type: "test.ping")
        defer { mesh.stop() }
        // A subscription that the prefix "test.ping" already covers: the socket's filter stays
        // the same, so only the exact check keeps the type out once it is cancelled.
        let extra = Seen()
        let token = mesh.nodes[1].bus.subscribe("test.pingpong") { event in extra.ids.withLockedValue { $0.append(event.id) } }
        let first = try mesh.nodes[0].publish("test.pingpong")
        #expect(await eventually { extra.all.contains(first) })
        token.cancel()
        try mesh.nodes[0].publish("test.pingpong")
        let marker = try mesh.nodes[0].publish("test.ping")
        #expect(await eventually { mesh.seen[1].all.contains(marker) })
        #expect(mesh.nodes[1].bridge.stats.filtered == 1)
        #expect(mesh.nodes[1].bus.history(matching: "test.pingpong").map(\.id) == [first])
    }
}
