import Dispatch
import EventBus
import Logging
import Testing
@testable import EventMesh

/// A subscriber whose first delivery blocks until released.
final class StallingSubscriber: Sendable {
    let seen = Seen()
    let release = DispatchSemaphore(value: 0)

    func attach(to node: MeshNode, pattern: EventPattern) {
        node.bus.subscribe(pattern) { [seen, release] event in
            let first = seen.ids.withLockedValue { ids -> Bool in
                ids.append(event.id)
                return ids.count == 1
            }
            if first { release.wait() }
        }
    }
}

@Suite(.timeLimit(.minutes(2))) struct OverflowTests {
    func configuration(_ id: String, brokers: [BrokerAddress] = [], bind: String? = nil, peers: [String] = []) -> MeshConfiguration {
        var configuration = MeshConfiguration(nodeID: id, brokers: brokers, bindEndpoint: bind, peers: peers, logger: Logger(label: "test"))
        configuration.logger.logLevel = .error
        configuration.heartbeatIntervalMilliseconds = 100
        configuration.sendHighWaterMark = 10
        configuration.receiveHighWaterMark = 10
        configuration.socketBufferBytes = 4096
        configuration.historyCapacity = 20_000
        return configuration
    }

    @Test func dropPolicyOnlyTheStalledSubscriberLosesAndCountsIt() async throws {
        // The broker's queue per subscriber (1000) absorbs its own bursts but not a stalled
        // subscriber's backlog of 30,000: it drops for that one only.
        let broker = try Broker(highWaterMark: 1000)
        let address = try broker.start()
        defer { broker.stop() }
        var publisherConfiguration = configuration("publisher", brokers: [address])
        publisherConfiguration.sendHighWaterMark = 100_000
        publisherConfiguration.socketBufferBytes = nil
        let publisher = try MeshNode(configuration: publisherConfiguration)
        var healthyConfiguration = configuration("healthy", brokers: [address])
        healthyConfiguration.receiveHighWaterMark = 100_000
        healthyConfiguration.socketBufferBytes = nil
        let healthy = try MeshNode(configuration: healthyConfiguration)
        let stalled = try MeshNode(configuration: configuration("stalled", brokers: [address]))
        let healthySeen = Seen()
        healthy.bus.subscribe("test.ping") { event in healthySeen.ids.withLockedValue { $0.append(event.id) } }
        let staller = StallingSubscriber()
        staller.attach(to: stalled, pattern: "test.ping")
        for node in [publisher, healthy, stalled] { try node.start() }
        defer { for node in [publisher, healthy, stalled] { node.stop() } }
        defer { staller.release.signal() }
        for node in [publisher, healthy, stalled] { await node.ready() }

        var ids = Set<EventID>()
        let total = 30_000
        for index in 0..<total {
            ids.insert(try publisher.publish("test.ping", data: ["n": .int(Int64(index))]))
            // Paced by the healthy subscriber: never more than 300 events ahead of what it has
            // delivered, while the stalled one's backlog outgrows every queue on its path. The
            // margin to the broker's 1000 matters: libzmq learns what a reader consumed only
            // every half-HWM (500) messages, so 500 ahead could already look like a full queue
            // on a loaded machine.
            if index % 50 == 49 {
                let caughtUp = await eventually { healthySeen.count > index - 250 }
                try #require(caughtUp, "the healthy subscriber stopped at \(healthySeen.count) of \(index + 1)")
            }
        }
        #expect(await eventually { publisher.bridge.stats.sent == UInt64(total) })
        // The healthy subscriber gets everything while the other one is stalled.
        #expect(await eventually { healthySeen.count == total }, "healthy got \(healthySeen.count): \(healthy.bridge.stats.delivered) delivered, \(healthy.bridge.stats.lost) lost")
        #expect(Set(healthySeen.all).symmetricDifference(ids).count == 0)
        staller.release.signal()
        let accounted = await eventually {
            let stats = stalled.bridge.stats
            return stats.lost > 0 && stats.delivered + stats.lost == UInt64(total)
        }
        #expect(accounted, "stalled: \(stalled.bridge.stats.delivered) delivered, \(stalled.bridge.stats.lost) lost")
        #expect(healthy.bridge.stats.lost == 0)
        #expect(publisher.bridge.stats.queueDrops == 0)
    }

    @Test func blockPolicyTimesOutWithATypedErrorAndNobodyLosesAnything() async throws {
        var publisherConfiguration = configuration("publisher", bind: "tcp://127.0.0.1:*")
        publisherConfiguration.overflow = .block(timeoutMilliseconds: 300)
        publisherConfiguration.outboxCapacity = 100
        let publisher = try MeshNode(configuration: publisherConfiguration)
        try publisher.start()
        defer { publisher.stop() }
        let endpoint = try #require(publisher.bridge.boundEndpoint)
        let healthy = try MeshNode(configuration: configuration("healthy", peers: [endpoint]))
        let stalled = try MeshNode(configuration: configuration("stalled", peers: [endpoint]))
        let healthySeen = Seen()
        healthy.bus.subscribe("test.ping") { event in healthySeen.ids.withLockedValue { $0.append(event.id) } }
        let staller = StallingSubscriber()
        staller.attach(to: stalled, pattern: "test.ping")
        for node in [healthy, stalled] { try node.start() }
        defer { for node in [healthy, stalled] { node.stop() } }
        defer { staller.release.signal() }
        await healthy.ready()
        await stalled.ready()

        // Publish until the publisher is told the queue is full.
        var published: [EventID] = []
        var failure: MeshError?
        let deadline = ContinuousClock.now + .seconds(30)
        while failure == nil && ContinuousClock.now < deadline {
            do {
                published.append(try publisher.publish("test.ping", data: ["pad": .string(String(repeating: "p", count: 200))]))
            } catch {
                failure = error
            }
        }
        #expect(failure?.code == .queueFull, "publishing never blocked: \(published.count) events")
        #expect(publisher.bridge.stats.publishTimeouts >= 1)
        // Let the stalled subscriber go: everything published reaches both, nothing is lost.
        staller.release.signal()
        let all = Set(published)
        #expect(await eventually { Set(healthySeen.all).symmetricDifference(all).count == 0 }, "healthy got \(healthySeen.count) of \(all.count)")
        #expect(await eventually { Set(staller.seen.all).symmetricDifference(all).count == 0 }, "stalled got \(staller.seen.count) of \(all.count)")
        #expect(healthySeen.count == all.count && staller.seen.count == all.count)
        #expect(healthy.bridge.stats.lost == 0)
        #expect(stalled.bridge.stats.lost == 0)
        #expect(publisher.bridge.stats.queueDrops == 0)
    }
}

@Suite struct DropLogTests {
    @Test func theFirstDropIsLoggedAtOnceThenAtMostOnceASecondWithTheCountSince() {
        var log = DropLog()
        #expect(log.note(now: 5_000) == 1)
        #expect(log.note(now: 6_000) == nil)
        #expect(log.note(now: 999_999_999) == nil)
        #expect(log.note(now: 1_000_005_000) == 3)
        #expect(log.note(now: 1_000_005_001) == nil)
    }

    @Test func anOutboxDropUnderTheDropPolicyIsCountedAndLogged() throws {
        let recorder = LogRecorder()
        var configuration = MeshConfiguration(nodeID: "full", brokers: [], logger: recorder.logger)
        configuration.outboxCapacity = 2
        // Not started: nothing drains the outbox, so the third event on finds it full.
        let node = try MeshNode(configuration: configuration)
        for index in 0..<5 { node.bus.publish("test.drop", data: .int(Int64(index))) }
        #expect(node.bridge.stats.queueDrops == 3)
        #expect(recorder.contains("events dropped: the outbox is full", "dropped=1", "type=test.drop", "capacity=2"), "\(recorder.all)")
        // The next two within the second are counted, not logged.
        #expect(recorder.all.filter { $0.contains("events dropped") }.count == 1)
    }
}
