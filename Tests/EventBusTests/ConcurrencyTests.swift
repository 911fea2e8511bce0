import Synchronization
import Testing
@testable import EventBus

/// Per-publisher progress, read by churning subscribers to decide what they must and must not see.
private final class PublisherProgress: Sendable {
    final class Counter: Sendable {
        let value = Atomic<Int>(-1)
        func load() -> Int { value.load(ordering: .sequentiallyConsistent) }
        func store(_ newValue: Int) { value.store(newValue, ordering: .sequentiallyConsistent) }
    }

    /// The sequence number each publisher is about to publish (stored before `publish` begins).
    let started: [Counter]
    /// The last sequence number whose `publish` returned.
    let completed: [Counter]

    init(publishers: Int) {
        started = (0..<publishers).map { _ in Counter() }
        completed = (0..<publishers).map { _ in Counter() }
    }

    func snapshotStarted() -> [Int] { started.map { $0.load() } }
    func snapshotCompleted() -> [Int] { completed.map { $0.load() } }
}

/// One subscribe…cancel window of a churning subscriber and what it received.
private struct ChurnWindow: Sendable {
    var completedBeforeSubscribe: [Int]
    var startedAfterSubscribe: [Int]
    var completedBeforeCancel: [Int]
    var startedAfterCancel: [Int]
    var received: [(publisher: Int, sequence: Int)]
}

/// Concurrency suites: `swift test --sanitize=thread --filter Concurrency` runs these under TSan.
@Suite struct ConcurrencyTests {
    @Test func stressPublishSubscribeCancelAndMiddleware() throws {
        let publishers = 4
        let perPublisher = 40_000
        let churners = 3
        let churnRounds = 5_000
        let middlewareRounds = 10_000
        let bus = EventBus(historyCapacity: 256)
        let progress = PublisherProgress(publishers: publishers)

        let stableA = LockedValueBox(Set<EventID>())
        let stableB = LockedValueBox(Set<EventID>())
        let stableACalls = Atomic<Int>(0)
        bus.subscribe("load.>") { event in
            stableACalls.add(1, ordering: .relaxed)
            _ = stableA.withLockedValue { $0.insert(event.id) }
        }
        bus.subscribe(">") { event in
            if event.type.name.hasPrefix("load.") { _ = stableB.withLockedValue { $0.insert(event.id) } }
        }
        let published = LockedValueBox([EventID]())
        let windows = LockedValueBox([ChurnWindow]())
        let operations = Atomic<Int>(0)

        runOnThreads(publishers + churners + 1) { thread in
            if thread < publishers {
                let type = EventType(stringLiteral: "load.p\(thread)")
                var ids: [EventID] = []
                ids.reserveCapacity(perPublisher)
                for sequence in 0..<perPublisher {
                    progress.started[thread].store(sequence)
                    ids.append(bus.publish(type, data: ["p": .int(Int64(thread)), "seq": .int(Int64(sequence))]))
                    progress.completed[thread].store(sequence)
                }
                operations.add(perPublisher, ordering: .relaxed)
                published.withLockedValue { $0.append(contentsOf: ids) }
            } else if thread < publishers + churners {
                var mine: [ChurnWindow] = []
                for round in 0..<churnRounds {
                    let received = LockedValueBox([(publisher: Int, sequence: Int)]())
                    let before = progress.snapshotCompleted()
                    let pattern: EventPattern = round.isMultiple(of: 2) ? "load.*" : ">"
                    let subscription = bus.subscribe(pattern) { event in
                        guard let p = event.data["p"]?.intValue, let s = event.data["seq"]?.intValue else { return }
                        received.withLockedValue { $0.append((Int(p), Int(s))) }
                    }
                    let afterSubscribe = progress.snapshotStarted()
                    // Let some events through before cancelling.
                    var spins = 0
                    while progress.snapshotCompleted() == afterSubscribe.map({ $0 - 1 }) && spins < 10_000 { spins += 1 }
                    let beforeCancel = progress.snapshotCompleted()
                    subscription.cancel()
                    let afterCancel = progress.snapshotStarted()
                    mine.append(ChurnWindow(
                        completedBeforeSubscribe: before, startedAfterSubscribe: afterSubscribe,
                        completedBeforeCancel: beforeCancel, startedAfterCancel: afterCancel,
                        received: received.withLockedValue { $0 }))
                }
                operations.add(churnRounds * 2, ordering: .relaxed)
                windows.withLockedValue { $0.append(contentsOf: mine) }
            } else {
                for round in 0..<middlewareRounds {
                    let registration = bus.addMiddleware(name: "pass-\(round)") { event, next in next(event) }
                    registration.remove()
                }
                operations.add(middlewareRounds * 2, ordering: .relaxed)
            }
        }

        let ids = published.withLockedValue { $0 }
        #expect(operations.load(ordering: .relaxed) >= 200_000)
        #expect(ids.count == publishers * perPublisher)
        #expect(Set(ids).count == ids.count)
        #expect(stableA.withLockedValue { $0 } == Set(ids), "stable subscriber A got exactly the published ids")
        #expect(stableB.withLockedValue { $0 } == Set(ids), "stable subscriber B got exactly the published ids")
        #expect(stableACalls.load(ordering: .relaxed) == ids.count, "and each once")

        var checkedWindows = 0
        var mustReceiveTotal = 0
        for window in windows.withLockedValue({ $0 }) {
            var seen = Set<Int>()
            for (publisher, sequence) in window.received {
                #expect(sequence > window.completedBeforeSubscribe[publisher], "received an event published before subscribe was called")
                #expect(sequence <= window.startedAfterCancel[publisher], "received an event published after cancel returned")
                #expect(seen.insert(publisher << 32 | sequence).inserted, "received an event twice")
            }
            for publisher in 0..<publishers {
                let first = window.startedAfterSubscribe[publisher] + 1
                let last = window.completedBeforeCancel[publisher]
                guard first <= last else { continue }
                for sequence in first...last {
                    mustReceiveTotal += 1
                    #expect(seen.contains(publisher << 32 | sequence), "missed an event published inside the window")
                }
            }
            checkedWindows += 1
        }
        #expect(checkedWindows == churners * churnRounds)
        #expect(mustReceiveTotal > 0, "some windows overlapped publishing, so the test can fail")
        #expect(bus.stats.subscribers == 2)
        #expect(bus.stats.middleware == 0)
    }

    @Test func concurrentTypedConversionsHappenOncePerEvent() {
        let event = Event(type: CountedPayload.eventType, data: ["value": 2005])
        let values = LockedValueBox([Int]())
        runOnThreads(8) { _ in
            for _ in 0..<100 {
                let value = (try? event.payload(as: CountedPayload.self).value) ?? -1
                values.withLockedValue { $0.append(value) }
            }
        }
        #expect(values.withLockedValue { $0 }.allSatisfy { $0 == 2005 })
        // Racing first readers may each convert, but the cache settles on one result at once.
        #expect(CountedPayload.decodeCount(of: 2005) <= 8)
    }

    /// Conversions to two types race on one event: the first type's is held inline, the
    /// second's after it, and each settles on one result that every later read finds.
    @Test func concurrentConversionsToTwoTypesEachSettleOnce() {
        let event = Event(type: CountedPayload.eventType, data: ["value": 3007])
        let values = LockedValueBox([Int]())
        runOnThreads(8) { thread in
            for index in 0..<100 {
                // Half the threads start with each type, so either may be converted first.
                let value =
                    (index + thread) % 2 == 0
                    ? (try? event.payload(as: CountedPayload.self).value) ?? -1
                    : (try? event.payload(as: CountedTwin.self).value) ?? -1
                values.withLockedValue { $0.append(value) }
            }
        }
        #expect(values.withLockedValue { $0 }.count == 800)
        #expect(values.withLockedValue { $0 }.allSatisfy { $0 == 3007 })
        #expect(CountedPayload.decodeCount(of: 3007) <= 8)
        #expect(CountedTwin.decodes.load(ordering: .relaxed) <= 8)
    }

    /// The first reads of a typed event's dynamic form race without a lock until one stores
    /// its result: every reader must still see the same, complete value.
    @Test func concurrentFirstReadsOfTheDynamicFormAgree() {
        for round in 0..<50 {
            let event = Event(CountedPayload(value: round))
            let seen = LockedValueBox([EventValue]())
            runOnThreads(8) { _ in
                let value = event.data
                seen.withLockedValue { $0.append(value) }
            }
            let values = seen.withLockedValue { $0 }
            #expect(values.count == 8)
            #expect(values.allSatisfy { $0 == ["value": .int(Int64(round))] }, "round \(round): \(values)")
        }
    }

    /// Fields read alone race with the conversion of the whole payload (which may be stored
    /// while a field is being read): every read sees the field.
    @Test func fieldReadsRaceWithTheConversionOfTheWholePayload() {
        for _ in 0..<50 {
            let event = Event(id: EventID(), type: .streamStarted, payload: .encoded(CountedBytes()), timestamp: .now())
            let seen = LockedValueBox([EventValue?]())
            runOnThreads(8) { thread in
                let value = thread % 2 == 0 ? event.data(forKey: "provider") : event.data["provider"]
                seen.withLockedValue { $0.append(value) }
            }
            let values = seen.withLockedValue { $0 }
            #expect(values.count == 8)
            #expect(values.allSatisfy { $0 == "wire" }, "\(values)")
        }
    }

    @Test func concurrentScopedPublishesReachTheRootOnce() {
        let root = EventBus(historyCapacity: 0)
        let children = (0..<4).map { root.scoped("c\($0)") }
        let ids = LockedValueBox(Set<EventID>())
        let count = Atomic<Int>(0)
        root.subscribe(">") { event in
            count.add(1, ordering: .relaxed)
            _ = ids.withLockedValue { $0.insert(event.id) }
        }
        let published = LockedValueBox(Set<EventID>())
        runOnThreads(8) { thread in
            let child = children[thread % children.count]
            var mine = Set<EventID>()
            for _ in 0..<5_000 { mine.insert(child.publish("scoped.event")) }
            published.withLockedValue { $0.formUnion(mine) }
        }
        #expect(count.load(ordering: .relaxed) == 40_000)
        #expect(ids.withLockedValue { $0 } == published.withLockedValue { $0 })
    }

    @Test(.timeLimit(.minutes(1))) func streamsAreSafeAcrossThreads() async {
        let bus = EventBus()
        let stream = bus.events(bufferSize: 100_000)
        runOnThreads(4) { _ in
            for _ in 0..<2_000 { bus.publish("x") }
        }
        var received = 0
        for await _ in stream {
            received += 1
            if received == 8_000 { break }
        }
        #expect(received == 8_000)
        #expect(stream.droppedCount == 0)
    }
}

/// A second type that counts its decodes, for conversions of one event to two types.
private struct CountedTwin: Decodable, Sendable {
    static let decodes = Atomic<Int>(0)
    var value: Int

    private enum CodingKeys: String, CodingKey { case value }

    init(from decoder: any Decoder) throws {
        CountedTwin.decodes.add(1, ordering: .relaxed)
        value = try decoder.container(keyedBy: CodingKeys.self).decode(Int.self, forKey: .value)
    }
}
