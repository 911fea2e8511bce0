import EventBus
import Foundation
import Logging
import Testing
@testable import EventMesh

/// Run under ThreadSanitizer by `make test-tsan` (the name ends in ConcurrencyTests).
@Suite(.timeLimit(.minutes(2))) struct MeshConcurrencyTests {
    @Test func publishersOnManyThreadsWhileStatsAreRead() async throws {
        let broker = try Broker()
        let address = try broker.start()
        defer { broker.stop() }
        var nodes: [MeshNode] = []
        for index in 0..<2 {
            var configuration = MeshConfiguration(nodeID: "c\(index)", brokers: [address], logger: Logger(label: "test"))
            configuration.heartbeatIntervalMilliseconds = 50
            configuration.controlEndpoint = "tcp://127.0.0.1:*"
            configuration.sendHighWaterMark = 100_000
            configuration.receiveHighWaterMark = 100_000
            nodes.append(try MeshNode(configuration: configuration))
        }
        // Subscribed before start, so that ready covers the subscription.
        let seen = Seen()
        nodes[1].bus.subscribe("conc.>") { event in seen.ids.withLockedValue { $0.append(event.id) } }
        for node in nodes { try node.start() }
        defer { for node in nodes { node.stop() } }
        for node in nodes { await node.ready() }

        let threads = 4
        let perThread = 500
        let done = LockedValueBox(0)
        let publisher = nodes[0]
        for thread in 0..<threads {
            Thread.detachNewThread {
                for index in 0..<perThread {
                    _ = try? publisher.publish(EventType(unchecked: "conc.t\(thread % 2)"), data: .int(Int64(index)))
                }
                done.withLockedValue { $0 += 1 }
            }
        }
        // Read stats and ask the control endpoints while the publishers run.
        let controls = nodes.compactMap { $0.bridge.controlEndpoint }
        #expect(controls.count == 2)
        while done.withLockedValue({ $0 }) < threads {
            _ = nodes[0].stats
            _ = nodes[1].bridge.stats
            _ = try? ControlClient.request("stats", to: controls[0], timeoutMilliseconds: 1000)
        }
        let total = threads * perThread
        let complete = await eventually { seen.count >= total }
        #expect(complete, "received \(seen.count) of \(total)")
        #expect(Set(seen.all).count == total)
        #expect(nodes[1].bridge.stats.lost == 0)
        // The sender counts a batch once it is sent: the receiver may have the events first.
        let sender = nodes[0].bridge
        #expect(await eventually { sender.stats.sent >= UInt64(total) })
        #expect(sender.stats.sent == UInt64(total))
    }
}

extension MeshConcurrencyTests {
    @Test func subscriptionsChangeOnManyThreadsWhileEventsFlow() async throws {
        let pair = try await BlockingPair(listeningTo: "steady.>", timeoutMilliseconds: 2000, outboxCapacity: 64)
        defer { pair.stop() }
        let (publisher, listener, seen) = (pair.publisher, pair.listener, pair.seen)

        let done = LockedValueBox(0)
        // Two threads subscribe and cancel other patterns (each change reaches the bridge's
        // filter), two publish through a small blocking outbox.
        for thread in 0..<2 {
            Thread.detachNewThread {
                for round in 0..<200 {
                    let subscription = listener.bus.subscribe(EventPattern(EventType(unchecked: "churn\(thread).t\(round % 7)"))) { _ in }
                    subscription.cancel()
                }
                done.withLockedValue { $0 += 1 }
            }
        }
        for thread in 0..<2 {
            Thread.detachNewThread {
                for index in 0..<300 {
                    _ = try? publisher.publish(EventType(unchecked: "steady.t\(thread)"), data: .int(Int64(index)))
                }
                done.withLockedValue { $0 += 1 }
            }
        }
        #expect(await eventually { done.withLockedValue { $0 } == 4 })
        #expect(await eventually { seen.count == 600 }, "received \(seen.count) of 600")
        #expect(listener.bridge.stats.lost == 0)
        #expect(await eventually { listener.bridge.stats.subscribedPrefixes == ["_mesh.", "steady."] })
    }
}

extension MeshConcurrencyTests {
    /// The block policy with more publishing threads than outbox places: a thread that found
    /// room, and lost it to another before taking it, waits again instead of dropping.
    @Test func theBlockPolicyDropsNothingWhenThreadsRaceForTheLastPlace() async throws {
        let pair = try await BlockingPair(listeningTo: "race.>", timeoutMilliseconds: 10_000, outboxCapacity: 1)
        defer { pair.stop() }
        let (publisher, listener, seen) = (pair.publisher, pair.listener, pair.seen)

        let threads = 6
        let perThread = 400
        let done = LockedValueBox(0)
        let failures = LockedValueBox(0)
        for thread in 0..<threads {
            Thread.detachNewThread {
                for index in 0..<perThread {
                    do {
                        try publisher.publish(EventType(unchecked: "race.t\(thread)"), data: .int(Int64(index)))
                    } catch {
                        failures.withLockedValue { $0 += 1 }
                    }
                }
                done.withLockedValue { $0 += 1 }
            }
        }
        #expect(await eventually { done.withLockedValue { $0 } == threads })
        #expect(failures.withLockedValue { $0 } == 0, "publish timed out")
        #expect(publisher.bridge.stats.queueDrops == 0, "events dropped with the block policy")
        #expect(await eventually { seen.count == threads * perThread }, "received \(seen.count) of \(threads * perThread)")
        #expect(listener.bridge.stats.lost == 0)
    }
}

/// A broker, a publisher with the block policy, and a listener that records the ids of the
/// events it delivers for one pattern; started, and ready once made.
struct BlockingPair {
    let broker: Broker
    let publisher: MeshNode
    let listener: MeshNode
    let seen = Seen()

    init(listeningTo pattern: EventPattern, timeoutMilliseconds: Int, outboxCapacity: Int) async throws {
        broker = try Broker()
        let address = try broker.start()
        var publisherConfiguration = MeshConfiguration(nodeID: "pub", brokers: [address], logger: Logger(label: "test"))
        publisherConfiguration.overflow = .block(timeoutMilliseconds: timeoutMilliseconds)
        publisherConfiguration.outboxCapacity = outboxCapacity
        publisher = try MeshNode(configuration: publisherConfiguration)
        listener = try MeshNode(configuration: MeshConfiguration(nodeID: "sub", brokers: [address], logger: Logger(label: "test")))
        let seen = self.seen
        listener.bus.subscribe(pattern) { event in seen.ids.withLockedValue { $0.append(event.id) } }
        try publisher.start()
        try listener.start()
        await publisher.ready()
        await listener.ready()
    }

    func stop() {
        publisher.stop()
        listener.stop()
        broker.stop()
    }
}
