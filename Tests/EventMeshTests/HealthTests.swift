import Logging
import Testing
@testable import EventMesh

/// A node's health follows its connections after it is ready: degraded while a broker is away,
/// unhealthy when none is left.
@Suite(.timeLimit(.minutes(2))) struct HealthTests {
    @Test func healthIsDegradedWithoutOneBrokerAndUnhealthyWithoutAny() async throws {
        let first = try Broker()
        let second = try Broker()
        let addresses = [try first.start(), try second.start()]
        defer {
            first.stop()
            second.stop()
        }
        var configuration = MeshConfiguration(nodeID: "watched", brokers: addresses, logger: Logger(label: "test"))
        configuration.logger.logLevel = .error
        configuration.heartbeatIntervalMilliseconds = 100
        let node = try MeshNode(configuration: configuration)
        node.bus.subscribe("test.ping") { _ in }
        #expect(node.bridge.health().healthy == false, "healthy before it started")
        try node.start()
        defer { node.stop() }
        await node.ready()

        #expect(await eventually { node.bridge.health().connectedEndpoints == 4 }, "\(node.bridge.health())")
        let whole = node.bridge.health()
        #expect(whole.healthy && whole.endpoints == 4 && whole.detail.hasPrefix("ready"), "\(whole)")

        second.stop()
        #expect(await eventually { node.bridge.health().connectedEndpoints == 2 }, "\(node.bridge.health())")
        let degraded = node.bridge.health()
        #expect(degraded.healthy, "one broker still carries the node's events")
        #expect(degraded.detail.hasPrefix("degraded: 2 of the 4"), "\(degraded)")

        // Back on the same ports: whole again.
        let again = try Broker(publishBind: addresses[1].publishEndpoint, subscribeBind: addresses[1].subscribeEndpoint)
        _ = try again.start()
        defer { again.stop() }
        #expect(await eventually { node.bridge.health().connectedEndpoints == 4 }, "\(node.bridge.health())")
        #expect(node.bridge.health().detail.hasPrefix("ready"), "\(node.bridge.health())")
        again.stop()

        first.stop()
        #expect(await eventually { !node.bridge.health().healthy }, "\(node.bridge.health())")
        #expect(node.bridge.health().detail.hasPrefix("disconnected"), "\(node.bridge.health())")
    }
}
