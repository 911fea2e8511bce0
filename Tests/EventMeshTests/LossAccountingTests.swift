import Dispatch
import EventBus
import Logging
import Testing
@testable import EventMesh

@Suite(.timeLimit(.minutes(2))) struct LossAccountingTests {
    @Test func forcedLossIsCountedExactlyIncludingTheTail() async throws {
        // A broker with tiny queues and small kernel buffers, and a subscriber that stalls:
        // the broker must drop, the tail of the burst included.
        let broker = try Broker(highWaterMark: 10, socketBufferBytes: 4096)
        let address = try broker.start()
        defer { broker.stop() }
        func configuration(_ id: String) -> MeshConfiguration {
            var configuration = MeshConfiguration(nodeID: id, brokers: [address], logger: Logger(label: "test"))
            configuration.heartbeatIntervalMilliseconds = 100
            configuration.receiveHighWaterMark = 10
            configuration.socketBufferBytes = 4096
            configuration.historyCapacity = 10_000
            return configuration
        }
        let publisher = try MeshNode(configuration: configuration("publisher"))
        let receiver = try MeshNode(configuration: configuration("receiver"))
        let seen = Seen()
        // The receiver stalls on its first event until everything has been sent.
        let release = DispatchSemaphore(value: 0)
        receiver.bus.subscribe("test.ping") { event in
            let first = seen.ids.withLockedValue { ids -> Bool in
                ids.append(event.id)
                return ids.count == 1
            }
            if first { release.wait() }
        }
        try publisher.start()
        try receiver.start()
        defer {
            publisher.stop()
            receiver.stop()
        }
        // Runs first (defers run in reverse): the stalled I/O thread must be let go before
        // the receiver can stop.
        defer { release.signal() }
        await publisher.ready()
        await receiver.ready()

        let published = 5000
        let filler = EventValue.string(String(repeating: "x", count: 200))
        for index in 0..<published { try publisher.publish("test.ping", data: ["n": .int(Int64(index)), "filler": filler]) }
        let sent = await eventually { publisher.bridge.stats.sent == UInt64(published) }
        #expect(sent)
        release.signal()

        // Once the publisher's heartbeat has announced its last sequence number, every event is
        // either delivered or counted lost: exactly, with none counted twice.
        let accounted = await eventually {
            let stats = receiver.bridge.stats
            return stats.delivered + stats.lost == UInt64(published) && stats.delivered == UInt64(seen.count)
        }
        let stats = receiver.bridge.stats
        #expect(accounted, "delivered \(stats.delivered) + lost \(stats.lost) != \(published)")
        #expect(stats.lost > 0, "nothing was lost: the test did not force loss")
        #expect(Set(seen.all).count == seen.count, "an event was delivered twice")
        let origin = try #require(stats.origins.first { $0.node == "publisher" })
        #expect(origin.counts.delivered + origin.counts.lost == UInt64(published))
        // Later heartbeats change nothing.
        let heartbeats = receiver.bridge.stats.controlReceived
        #expect(await eventually { receiver.bridge.stats.controlReceived > heartbeats + 2 })
        let later = receiver.bridge.stats
        #expect(later.delivered + later.lost == UInt64(published))
        print("forced loss: \(later.delivered) delivered + \(later.lost) lost of \(published) published")
    }

    @Test func dedupMemoryStaysBoundedAfterAMillionEventsFromTenThousandOrigins() {
        var dedup = DedupWindow()
        for origin in 0..<10_000 {
            let id = OriginID(node: "one-shot-\(origin)", incarnation: UInt64(origin))
            for sequence in UInt64(1)...100 {
                _ = dedup.admit(id: EventID(), type: "load.event", origin: id, sequence: sequence, now: UInt64(origin))
            }
        }
        #expect(dedup.totals.delivered == 1_000_000)
        #expect(dedup.totals.lost == 0)
        #expect(dedup.originCount <= dedup.limits.origins)
        #expect(dedup.windowCount <= dedup.limits.origins)
        #expect(dedup.originsEvicted >= UInt64(10_000 - dedup.limits.origins))
        #expect(dedup.unsequencedCount == 0)
    }
}
