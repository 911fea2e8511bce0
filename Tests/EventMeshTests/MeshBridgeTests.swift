import Dispatch
import EventBus
import Logging
import Testing
@testable import EventMesh

/// Waits until `condition` holds or `seconds` pass, re-checking it whenever something in this
/// process may have changed it (see ``Activity``): the one waiting helper, for conditions no
/// single event announces (counters of mesh threads, child processes and sockets).
func eventually(within seconds: Int = 30, _ condition: () -> Bool) async -> Bool {
    let activity = Activity.shared
    let deadline = DispatchTime.now() + .seconds(seconds)
    // The deadline wakes this wait too (and, harmlessly, any other).
    DispatchQueue.global().asyncAfter(deadline: deadline) { activity.signal() }
    while true {
        let seen = activity.generation
        if condition() { return true }
        guard DispatchTime.now() < deadline else { return false }
        await activity.wait(past: seen)
    }
}

/// Announces that something in this process may have changed: every pass of a bridge or broker
/// I/O loop (``MeshActivity``, which includes every heartbeat and every delivery), every line
/// or exit of a child process, every connection a ``SilentListener`` accepts. A counter of
/// announcements lets a waiter that was busy checking see that it missed one.
final class Activity: Sendable {
    static let shared: Activity = {
        let activity = Activity()
        MeshActivity.observe { activity.signal() }
        return activity
    }()

    private struct State {
        var generation: UInt64 = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let state = LockedValueBox(State())

    /// How many announcements there have been.
    var generation: UInt64 { state.withLockedValue { $0.generation } }

    /// Announces a change and wakes every waiter.
    func signal() {
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>] in
            state.generation &+= 1
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns at the first announcement after the `seen`-th (at once if it has come already).
    func wait(past seen: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiting = state.withLockedValue { state -> Bool in
                guard state.generation == seen else { return false }
                state.waiters.append(continuation)
                return true
            }
            if !waiting { continuation.resume() }
        }
    }
}

/// The ids of the events of one type a node's subscriber saw, in order of arrival.
final class Seen: Sendable {
    let ids = LockedValueBox<[EventID]>([])
    var all: [EventID] { ids.withLockedValue { $0 } }
    var count: Int { ids.withLockedValue { $0.count } }
}

/// Brokers and nodes in this process, on 127.0.0.1 with OS-assigned ports.
final class TestMesh {
    var brokers: [Broker] = []
    var addresses: [BrokerAddress] = []
    var nodes: [MeshNode] = []
    var seen: [Seen] = []

    init(
        brokers brokerCount: Int, nodes nodeCount: Int, dedup: Bool = true, type: EventType = "test.ping",
        heartbeatMilliseconds: Int = 200, subscribing: (Int) -> Bool = { _ in true },
        configure: (inout MeshConfiguration) -> Void = { _ in }
    ) async throws {
        for _ in 0..<brokerCount {
            let broker = try Broker()
            addresses.append(try broker.start())
            brokers.append(broker)
        }
        for index in 0..<nodeCount {
            var configuration = MeshConfiguration(nodeID: "node-\(index)", brokers: addresses, logger: Logger(label: "test"))
            configuration.dedupEnabled = dedup
            configuration.historyCapacity = 50_000
            configuration.sendHighWaterMark = 100_000
            configuration.receiveHighWaterMark = 100_000
            configuration.heartbeatIntervalMilliseconds = heartbeatMilliseconds
            configure(&configuration)
            let node = try MeshNode(configuration: configuration)
            let seen = Seen()
            if subscribing(index) {
                node.bus.subscribe(EventPattern(type)) { event in seen.ids.withLockedValue { $0.append(event.id) } }
            }
            try node.start()
            nodes.append(node)
            self.seen.append(seen)
        }
        for node in nodes { await node.ready() }
    }

    func stop() {
        for node in nodes { node.stop() }
        for broker in brokers { broker.stop() }
    }
}

@Suite(.timeLimit(.minutes(2))) struct MeshBridgeTests {
    @Test func oneBrokerThreeNodesDeliverEveryEventExactlyOnceEverywhere() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 3)
        defer { mesh.stop() }
        var published = Set<EventID>()
        for round in 0..<200 {
            for node in mesh.nodes {
                published.insert(try node.publish("test.ping", data: ["round": .int(Int64(round))]))
            }
        }
        for (index, seen) in mesh.seen.enumerated() {
            let complete = await eventually { seen.count >= published.count }
            #expect(complete, "node \(index) saw \(seen.count) of \(published.count)")
            #expect(Set(seen.all) == published, "node \(index): the set of ids differs")
            #expect(seen.count == published.count, "node \(index): an event was delivered twice")
            let history = mesh.nodes[index].bus.history(matching: "test.ping")
            #expect(Set(history.map(\.id)) == published, "node \(index): history differs")
            // A node's own events reach its bus locally; their echoes from the broker arrive on
            // their own schedule, after the node may already have seen everything.
            let bridge = mesh.nodes[index].bridge
            let echoed = await eventually { bridge.stats.ownEchoes >= 200 }
            #expect(echoed, "node \(index): \(bridge.stats.ownEchoes) of its 200 events echoed back")
            let stats = bridge.stats
            #expect(stats.delivered == 400)
            #expect(stats.lost == 0)
            #expect(stats.duplicates == 0)
            #expect(stats.ownEchoes == 200)
        }
    }

    @Test func twoBrokersDoubleEveryEventAndDedupHidesTheCopies() async throws {
        let mesh = try await TestMesh(brokers: 2, nodes: 3)
        defer { mesh.stop() }
        var published = Set<EventID>()
        var own = [Int](repeating: 0, count: 3)
        for index in 0..<10_000 {
            published.insert(try mesh.nodes[index % 3].publish("test.ping", data: .int(Int64(index))))
            own[index % 3] += 1
        }
        for (index, seen) in mesh.seen.enumerated() {
            let remote = UInt64(10_000 - own[index])
            let node = mesh.nodes[index]
            // Every remote event arrives twice, once through each broker.
            let settled = await eventually { node.bridge.stats.duplicates >= remote && seen.count >= 10_000 }
            #expect(settled, "node \(index): \(seen.count) delivered, \(node.bridge.stats.duplicates) duplicates")
            #expect(Set(seen.all) == published)
            #expect(seen.count == 10_000, "node \(index): an event was delivered twice")
            let stats = node.bridge.stats
            #expect(stats.delivered == remote)
            #expect(stats.duplicates == remote, "the duplicates counter equals the copies that arrived")
            #expect(stats.lost == 0)
        }
    }

    /// A publisher wakes the I/O thread only when it waits in its poll: an event published to
    /// an idle bridge must still leave at once. With a heartbeat once a minute, a lost wakeup
    /// would hold the event until the next heartbeat, beyond the wait below.
    @Test func anEventPublishedToAnIdleBridgeLeavesWithoutWaitingForTheHeartbeat() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 2, heartbeatMilliseconds: 60_000)
        defer { mesh.stop() }
        for round in 0..<20 {
            // Each event is published once the last one has arrived: the sending I/O thread
            // has gone back to waiting by then.
            let id = try mesh.nodes[0].publish("test.ping", data: .int(Int64(round)))
            let arrived = await eventually(within: 20) { mesh.seen[1].all.contains(id) }
            #expect(arrived, "event \(round) did not arrive before the next heartbeat")
            if !arrived { return }
        }
        // The sender counts a batch once it is sent: the receiver may have the event first.
        let sender = mesh.nodes[0].bridge
        #expect(await eventually { sender.stats.sent >= 20 })
        #expect(sender.stats.sent == 20)
    }

    /// A burst batches (the I/O thread stops being woken per event and comes back after the
    /// interval), and every event still arrives, once and in order, the last included: with a
    /// heartbeat once a minute, and a sender that subscribes to nothing (no echoes of its own
    /// events to wake it), a batching thread that never came back would hold the tail.
    @Test func aBurstIsSentInBatchesAndEveryEventArrivesOnceInOrder() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 2, heartbeatMilliseconds: 60_000, subscribing: { $0 == 1 },
            configure: { $0.batchingThreshold = 4 })
        defer { mesh.stop() }
        var published: [EventID] = []
        for index in 0..<5000 { published.append(try mesh.nodes[0].publish("test.ping", data: .int(Int64(index)))) }
        let receiver = mesh.seen[1]
        let complete = await eventually(within: 20) { receiver.count >= published.count }
        #expect(complete, "saw \(receiver.count) of \(published.count) before the next heartbeat")
        if !complete { return }
        // Compared as one flag: the arrays' own description would be 10 000 ids long.
        let inOrder = receiver.all == published
        #expect(inOrder, "the 5 000 events arrived, but not once each in the order published")
        let sender = mesh.nodes[0].bridge
        #expect(await eventually { sender.stats.sent >= 5000 })
        #expect(sender.stats.sent == 5000)
        #expect(sender.stats.batchedSends > 0, "5 000 events published at once never made a batch of 4")
    }

    /// A batching I/O thread whose interval has not brought it back (here a minute, as a
    /// timer that fires late would) is woken by the publisher that finds 16 × the threshold
    /// events queued: a burst goes out but for its last few events, which wait for the interval
    /// (or, here, for the stop that flushes them).
    @Test func aFullBatchWakesTheIOThreadBeforeItsInterval() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 2, heartbeatMilliseconds: 60_000, subscribing: { $0 == 1 },
            configure: {
                $0.batchingThreshold = 4
                $0.batchingIntervalMilliseconds = 60_000
            })
        defer { mesh.stop() }
        let wakeCount = MeshBridge.batchWakeCount(threshold: 4)
        #expect(wakeCount == 64)
        for index in 0..<5000 { _ = try mesh.nodes[0].publish("test.ping", data: .int(Int64(index))) }
        let receiver = mesh.seen[1]
        let sentEarly = await eventually(within: 20) { receiver.count > 5000 - wakeCount }
        #expect(sentEarly, "saw \(receiver.count) of 5 000 events: the batching thread waited for its interval")
        let stats = mesh.nodes[0].bridge.stats
        #expect(stats.batchedSends > 0, "5 000 events published at once never made a batch of 4")
        #expect(stats.batchWakeups > 0)
    }

    /// A threshold of 0 turns batching off: every send pass leaves the I/O thread to be woken.
    @Test func batchingOffNeverBatches() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 2, configure: { $0.batchingThreshold = 0 })
        defer { mesh.stop() }
        for index in 0..<5000 { _ = try mesh.nodes[0].publish("test.ping", data: .int(Int64(index))) }
        let receiver = mesh.seen[1]
        #expect(await eventually { receiver.count >= 5000 })
        #expect(receiver.count == 5000)
        #expect(mesh.nodes[0].bridge.stats.batchedSends == 0)
        #expect(mesh.nodes[0].bridge.stats.batchWakeups == 0)
    }

    @Test func withDedupOffTheSecondCopiesAreDelivered() async throws {
        let mesh = try await TestMesh(brokers: 2, nodes: 2, dedup: false)
        defer { mesh.stop() }
        var published: [EventID] = []
        for index in 0..<500 { published.append(try mesh.nodes[0].publish("test.ping", data: .int(Int64(index)))) }
        let receiver = mesh.seen[1]
        // 500 events, each through both brokers: 1000 deliveries on the other node.
        let complete = await eventually { receiver.count >= 1000 }
        #expect(complete, "saw \(receiver.count) deliveries")
        #expect(receiver.count == 1000)
        #expect(Set(receiver.all) == Set(published))
        #expect(mesh.nodes[1].bridge.stats.duplicates == 500)
    }

    @Test func publishingAfterStopIsATypedError() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 1)
        mesh.stop()
        let error = #expect(throws: MeshError.self) { try mesh.nodes[0].publish("test.ping") }
        #expect(error?.code == .stopped)
    }

    @Test func localEventsNeverLeaveTheNode() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 2)
        defer { mesh.stop() }
        mesh.nodes[0].bus.publish(Event(type: "test.ping", isLocal: true))
        let marker = try mesh.nodes[0].publish("test.ping")
        let arrived = await eventually { mesh.seen[1].all.contains(marker) }
        #expect(arrived)
        #expect(mesh.seen[1].count == 1, "the local event reached the other node")
        #expect(mesh.seen[0].count == 2)
    }

    @Test func aRestartedNodeIsANewOrigin() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 2)
        defer { mesh.stop() }
        let first = try mesh.nodes[0].publish("test.ping")
        #expect(await eventually { mesh.seen[1].all.contains(first) })
        mesh.nodes[0].stop()
        // The same node id again, in a new bridge: its sequence numbers start over at 1.
        var configuration = mesh.nodes[0].configuration
        configuration.heartbeatIntervalMilliseconds = 200
        let restarted = try MeshNode(configuration: configuration)
        try restarted.start()
        await restarted.ready()
        defer { restarted.stop() }
        let second = try restarted.publish("test.ping")
        #expect(await eventually { mesh.seen[1].all.contains(second) }, "the restarted node's event was taken for a replay")
        #expect(restarted.bridge.origin != mesh.nodes[0].bridge.origin)
    }

    @Test func garbageIsCountedByClassAndDeliveryGoesOn() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 1)
        defer { mesh.stop() }
        let node = mesh.nodes[0]
        let garbage = try ZMQGarbageSender(broker: mesh.addresses[0])
        let sent = await eventually {
            garbage.send([Array("test.ping".utf8), [0xc1]])  // invalid format byte
            garbage.send([Array("test.ping".utf8)])  // one frame
            return node.bridge.stats.malformed["invalidFormat", default: 0] > 0 && node.bridge.stats.malformed["frameCount", default: 0] > 0
        }
        #expect(sent, "malformed: \(node.bridge.stats.malformed)")
        let marker = try mesh.nodes[0].publish("test.ping")
        #expect(await eventually { mesh.seen[0].all.contains(marker) })
    }
}

@Suite struct EventuallyTests {
    @Test func aConditionThatNeverHoldsFailsAtTheDeadline() async {
        let start = ContinuousClock.now
        #expect(await eventually(within: 1) { false } == false)
        #expect(ContinuousClock.now - start >= .seconds(1))
    }
}

@Suite struct SpareFrameTests {
    /// Where an array's elements are (`nil` for an empty array).
    private static func address(of array: [UInt8]) -> UInt? {
        array.withUnsafeBufferPointer { $0.baseAddress.map { UInt(bitPattern: $0) } }
    }

    /// Each type is numbered on its own, from 1, whether or not it is the type of the event
    /// before; a heartbeat's `latest` has every type's last number.
    @Test func sequenceNumbersRunPerTypeAcrossInterleavedTypes() {
        var counters = SequenceCounters()
        let types = ["a", "a", "b", "a", "c", "b", "b", "a"]
        let numbers = types.map { counters.next(for: $0) }
        #expect(numbers == [1, 2, 1, 3, 1, 2, 3, 4])
        #expect(counters.latest == ["a": 4, "b": 3, "c": 1])
        // A heartbeat's copy of `latest` shares its storage: the next number copies it first,
        // and the copy taken keeps what it had.
        let heartbeat = counters.latest
        #expect(counters.next(for: "a") == 5)
        #expect(counters.next(for: "d") == 1)
        #expect(counters.next(for: "a") == 6)
        #expect(heartbeat == ["a": 4, "b": 3, "c": 1])
        #expect(counters.latest == ["a": 6, "b": 3, "c": 1, "d": 1])
        #expect(SequenceCounters().latest.isEmpty)
    }

    /// A heartbeat announces the latest sequence numbers only once no event waits in the
    /// outbox: it leaves before them, and a receiver told of numbers far beyond what it has seen
    /// would count the queued events lost and drop them as too old when they came.
    @Test func heartbeatsAnnounceNoSequenceNumbersWhileEventsAreQueued() {
        var state = MeshBridge.State(dedup: DedupWindow())
        #expect(state.announceableSequences.isEmpty)
        for _ in 0..<3 { _ = state.sequences.next(for: "test.ping") }
        #expect(state.announceableSequences == ["test.ping": 3])
        state.outbox.append(OutboundMessage(type: "test.ping", body: [0xc0]))
        #expect(state.announceableSequences.isEmpty, "a heartbeat would announce an event still queued")
        state.outbox.removeAll()
        #expect(state.announceableSequences == ["test.ping": 3])
    }

    @Test func sentFramesBecomeSparesThatNothingElseReferences() {
        var batch = (0..<5).map { n in OutboundMessage(type: "test.frame", body: [UInt8](repeating: UInt8(n), count: 300)) }
        let addresses = batch.map { Self.address(of: $0.body) }
        var spares: [[UInt8]] = []
        // Three of the five were sent: their arrays become spares, the other two stay queued.
        MeshBridge.recycleSentFrames(of: &batch, sent: 3, into: &spares)
        #expect(spares.count == 3)
        #expect(batch[0..<3].allSatisfy { $0.body.isEmpty }, "a recycled frame is moved out of the batch, not shared with it")
        #expect(batch[3..<5].map { Self.address(of: $0.body) } == Array(addresses[3..<5]))
        for index in spares.indices {
            #expect(Self.address(of: spares[index]) == addresses[index])
            // Writing into a uniquely referenced array keeps its memory; a shared one is copied.
            spares[index][0] = 0xff
            #expect(Self.address(of: spares[index]) == addresses[index], "spare \(index) is shared, so encoding into it would copy it")
        }
    }

    @Test func sparesStopAtTheLimitAndSkipLargeFrames() {
        var batch = [
            OutboundMessage(type: "test.frame", body: [UInt8](repeating: 1, count: MeshBridge.spareFrameMaxCapacity + 1)),
            OutboundMessage(type: "test.frame", body: [UInt8](repeating: 2, count: 10)),
        ]
        var spares: [[UInt8]] = []
        MeshBridge.recycleSentFrames(of: &batch, sent: 2, into: &spares)
        #expect(spares == [[UInt8](repeating: 2, count: 10)], "a frame larger than a spare may be is not kept")
        var full = Array(repeating: [UInt8](), count: MeshBridge.spareFrameLimit)
        var more = [OutboundMessage(type: "test.frame", body: [1, 2, 3])]
        MeshBridge.recycleSentFrames(of: &more, sent: 1, into: &full)
        #expect(full.count == MeshBridge.spareFrameLimit)
        #expect(more[0].body == [1, 2, 3], "with the spares full, the frame stays where it was, to be freed")
    }
}
