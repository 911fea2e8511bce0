import EventBus
import Testing
@testable import EventMesh

@Suite struct SequenceWindowTests {
    @Test func inOrderSequencesAreDeliveredOnce() {
        var window = SequenceWindow(baseline: 0)
        for sequence in UInt64(1)...3000 {
            #expect(window.accept(sequence) == .deliver)
        }
        #expect(window.accept(3000) == .duplicate)
        #expect(window.accept(2500) == .duplicate)
        #expect(window.lost == 0)
        #expect(window.pending == 0)
    }

    @Test func gapsArePendingThenLostWhenTheyLeaveTheWindow() {
        var window = SequenceWindow(baseline: 0)
        #expect(window.accept(1) == .deliver)
        #expect(window.accept(5) == .deliver)  // 2, 3, 4 missing
        #expect(window.pending == 3)
        #expect(window.lost == 0)
        #expect(window.accept(3) == .deliver)  // late, still in the window
        #expect(window.pending == 2)
        #expect(window.accept(5 + SequenceWindow.size) == .deliver)  // 2 and 4 leave, plus 6…1028 were never seen
        #expect(window.lost + window.pending == 2 + (SequenceWindow.size - 1))
        #expect(window.accept(4) == .tooOld)
    }

    @Test func aHugeJumpCountsEverythingInBetween() {
        var window = SequenceWindow(baseline: 10)
        #expect(window.accept(11) == .deliver)
        #expect(window.accept(1_000_011) == .deliver)
        #expect(window.lost + window.pending == 999_999)
    }

    @Test func announcementsRevealTailLoss() {
        var window = SequenceWindow(baseline: 0)
        for sequence in UInt64(1)...10 { _ = window.accept(sequence) }
        window.announce(15)  // 11…15 were published but never arrived
        #expect(window.pending == 5)
        #expect(window.accept(12) == .deliver)
        #expect(window.pending == 4)
        window.announce(3)  // old news changes nothing
        #expect(window.pending == 4)
    }

    @Test func theBaselineIsNotCounted() {
        var window = SequenceWindow(baseline: 99)
        #expect(window.accept(100) == .deliver)
        #expect(window.lost == 0 && window.pending == 0)
        // An earlier number arriving late (reordered) is delivered once, never counted lost.
        #expect(window.accept(99) == .deliver)
        #expect(window.accept(99) == .duplicate)
        #expect(window.lost == 0 && window.pending == 0)
    }
}

@Suite struct DedupWindowTests {
    let a = OriginID(node: "a", incarnation: 1)
    let b = OriginID(node: "b", incarnation: 2)

    @Test func duplicatesAreDroppedAndCounted() {
        var dedup = DedupWindow()
        let id = EventID()
        #expect(dedup.admit(id: id, type: "x", origin: a, sequence: 1, now: 0) == .deliver)
        #expect(dedup.admit(id: id, type: "x", origin: a, sequence: 1, now: 0) == .duplicate)
        #expect(dedup.totals.delivered == 1)
        #expect(dedup.totals.duplicates == 1)
    }

    @Test func sequencesRunPerOriginAndType() {
        var dedup = DedupWindow()
        #expect(dedup.admit(id: EventID(), type: "x", origin: a, sequence: 1, now: 0) == .deliver)
        #expect(dedup.admit(id: EventID(), type: "y", origin: a, sequence: 1, now: 0) == .deliver)
        #expect(dedup.admit(id: EventID(), type: "x", origin: b, sequence: 1, now: 0) == .deliver)
        // A restarted node (same id, new incarnation) is a new origin.
        #expect(dedup.admit(id: EventID(), type: "x", origin: OriginID(node: "a", incarnation: 9), sequence: 1, now: 0) == .deliver)
        #expect(dedup.originCount == 3)
        #expect(dedup.windowCount == 4)
    }

    @Test func interleavedStreamsKeepTheirOwnWindows() {
        // Runs of one stream (admitted in place) alternate with others and with heartbeats,
        // expiry and type changes, which move the origins' state.
        var dedup = DedupWindow()
        var next: [String: UInt64] = [:]
        let streams = [(a, "x"), (a, "y"), (b, "x")]
        for round in 0..<50 {
            for (origin, type) in streams {
                let key = "\(origin.node)/\(type)"
                for _ in 0..<(round % 3 + 1) {
                    let sequence = next[key, default: 0] + 1
                    next[key] = sequence
                    #expect(dedup.admit(id: EventID(), type: type, origin: origin, sequence: sequence, now: UInt64(round)) == .deliver)
                    #expect(dedup.admit(id: EventID(), type: type, origin: origin, sequence: sequence, now: UInt64(round)) == .duplicate)
                }
            }
            if round % 7 == 0 { dedup.announce(b, latest: ["x": next["b/x", default: 0]], now: UInt64(round)) }
            if round % 11 == 0 { dedup.retainTypes { _ in true } }
            if round % 13 == 0 { dedup.expireIdle(now: UInt64(round)) }
        }
        let delivered = next.values.reduce(0, +)
        #expect(dedup.totals.delivered == delivered)
        #expect(dedup.totals.duplicates == delivered)
        #expect(dedup.totals.lost == 0)
        #expect(dedup.windowCount == 3)
    }

    @Test func withDedupOffCopiesAreDeliveredButStillCounted() {
        var dedup = DedupWindow(enabled: false)
        let id = EventID()
        #expect(dedup.admit(id: id, type: "x", origin: a, sequence: 1, now: 0) == .deliver)
        #expect(dedup.admit(id: id, type: "x", origin: a, sequence: 1, now: 0) == .deliver)
        #expect(dedup.admit(id: id, type: "x", origin: nil, sequence: nil, now: 0) == .deliver)
        #expect(dedup.admit(id: id, type: "x", origin: nil, sequence: nil, now: 0) == .deliver)
        #expect(dedup.totals.duplicates == 2)
    }

    @Test func unsequencedEventsAreRememberedByIDInABoundedSet() {
        var limits = DedupWindow.Limits()
        limits.unsequencedIDs = 4
        var dedup = DedupWindow(limits: limits)
        let ids = (0..<6).map { _ in EventID() }
        for id in ids { #expect(dedup.admit(id: id, type: "x", origin: nil, sequence: nil, now: 0) == .deliver) }
        #expect(dedup.unsequencedCount == 4)
        #expect(dedup.admit(id: ids[5], type: "x", origin: nil, sequence: nil, now: 0) == .duplicate)
        // The oldest ids fell out of the set: they can no longer be recognised.
        #expect(dedup.admit(id: ids[0], type: "x", origin: nil, sequence: nil, now: 0) == .deliver)
    }

    @Test func heartbeatsCountTailLoss() {
        var dedup = DedupWindow()
        for sequence in UInt64(1)...5 { _ = dedup.admit(id: EventID(), type: "x", origin: a, sequence: sequence, now: 0) }
        dedup.announce(a, latest: ["x": 8, "y": 40], now: 0)
        #expect(dedup.totals.lost == 3)  // x: 6, 7, 8; y: not received yet, not tracked
        #expect(dedup.perOrigin[a]?.lost == 3)
        #expect(dedup.admit(id: EventID(), type: "x", origin: a, sequence: 7, now: 0) == .deliver)  // late, not lost
        #expect(dedup.totals.lost == 2)
    }

    @Test func aHeartbeatAheadOfAnEventDoesNotMakeItADuplicate() {
        // The publisher numbered the event, its heartbeat overtook the event itself.
        var dedup = DedupWindow()
        dedup.announce(a, latest: ["end": 1], now: 0)
        #expect(dedup.admit(id: EventID(), type: "end", origin: a, sequence: 1, now: 0) == .deliver)
        // And for a known type: the announced number is pending, then delivered.
        _ = dedup.admit(id: EventID(), type: "x", origin: a, sequence: 1, now: 0)
        dedup.announce(a, latest: ["x": 2], now: 0)
        #expect(dedup.totals.lost == 1)
        #expect(dedup.admit(id: EventID(), type: "x", origin: a, sequence: 2, now: 0) == .deliver)
        #expect(dedup.totals.lost == 0)
    }

    @Test func memoryStaysBoundedWithManyOneShotOrigins() {
        var limits = DedupWindow.Limits()
        limits.origins = 256
        var dedup = DedupWindow(limits: limits)
        for index in 0..<10_000 {
            let origin = OriginID(node: "n\(index)", incarnation: UInt64(index))
            for sequence in UInt64(1)...3 {
                _ = dedup.admit(id: EventID(), type: "t", origin: origin, sequence: sequence, now: UInt64(index))
            }
        }
        #expect(dedup.originCount <= 256)
        #expect(dedup.windowCount <= 256)
        #expect(dedup.originsEvicted >= 10_000 - 256)
        // Counts of evicted origins are kept in the totals.
        #expect(dedup.totals.delivered == 30_000)
        #expect(dedup.totals.lost == 0)
    }

    @Test func idleOriginsExpire() {
        var limits = DedupWindow.Limits()
        limits.originIdleNanoseconds = 1000
        var dedup = DedupWindow(limits: limits)
        _ = dedup.admit(id: EventID(), type: "t", origin: a, sequence: 1, now: 0)
        _ = dedup.admit(id: EventID(), type: "t", origin: b, sequence: 1, now: 1500)
        dedup.expireIdle(now: 2000)
        #expect(dedup.originCount == 1)
        #expect(dedup.originsExpired == 1)
        #expect(dedup.totals.delivered == 2)
    }

    @Test func typesPerOriginAreCapped() {
        var limits = DedupWindow.Limits()
        limits.typesPerOrigin = 8
        var dedup = DedupWindow(limits: limits)
        for index in 0..<100 {
            _ = dedup.admit(id: EventID(), type: "t\(index)", origin: a, sequence: 1, now: 0)
        }
        #expect(dedup.windowCount == 8)
        #expect(dedup.typesEvicted == 92)
    }
}

@Suite struct MeshControlMessageTests {
    let origin = OriginID(node: "node-a", incarnation: 0xdead_beef)

    @Test func messagesRoundTrip() throws {
        let messages: [MeshControlMessage] = [
            .heartbeat(origin, latest: ["provider.connected": 12, "stream.started": 1 << 40]),
            .heartbeat(origin, latest: [:]),
            .probe(origin, nonce: 42),
            .nodeLeft(origin),
        ]
        for message in messages {
            #expect(message.frameType.hasPrefix(MeshControlMessage.prefix))
            #expect(try MeshControlMessage.decode(frameType: message.frameType, body: message.encode()) == message)
        }
    }

    @Test func unknownKindsAreSkippedAndMalformedOnesRejected() throws {
        #expect(try MeshControlMessage.decode(frameType: "_mesh.future", body: [0x80]) == nil)
        #expect(throws: (any Error).self) { try MeshControlMessage.decode(frameType: "_mesh.hb", body: [0x81]) }
        #expect(throws: (any Error).self) { try MeshControlMessage.decode(frameType: "_mesh.hb", body: [0x80]) }  // no origin
        #expect(throws: (any Error).self) { try MeshControlMessage.decode(frameType: "_mesh.probe", body: MeshControlMessage.nodeLeft(origin).encode()) }
    }

    @Test func garbageNeverTraps() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 {
            let body = (0..<Int.random(in: 0..<40, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? MeshControlMessage.decode(frameType: "_mesh.hb", body: body)
            _ = try? MeshControlMessage.decode(frameType: "_mesh.probe", body: body)
        }
    }
}
