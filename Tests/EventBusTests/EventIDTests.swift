import Testing
@testable import EventBus

@Suite struct EventIDTests {
    @Test func idsAreUniqueAndIncreasingWithinAThread() {
        var previous = EventID()
        var seen = Set<EventID>([previous])
        for _ in 0..<100_000 {
            let id = EventID()
            #expect(id > previous)
            seen.insert(id)
            previous = id
        }
        #expect(seen.count == 100_001)
    }

    @Test func idsStayIncreasingWhenTheClockStepsBack() {
        let late = EventID.next(milliseconds: Timestamp.now().millisecondsSinceEpoch + 10_000)
        let early = EventID.next(milliseconds: 1_000)
        #expect(early > late)
    }

    @Test func idsAreUniqueAcrossThreads() {
        let recorder = Recorder<[EventID]>()
        runOnThreads(8) { _ in
            recorder.append((0..<20_000).map { _ in EventID() })
        }
        let all = recorder.values.flatMap { $0 }
        #expect(all.count == 160_000)
        #expect(Set(all).count == 160_000)
        for batch in recorder.values {
            #expect(zip(batch, batch.dropFirst()).allSatisfy { $0 < $1 })
        }
    }

    @Test func idsAreUUIDv7Shaped() {
        let now = Timestamp.now().millisecondsSinceEpoch
        let id = EventID()
        #expect((id.high >> 12) & 0xF == 7, "version nibble")
        #expect(id.low >> 62 == 0b10, "RFC 9562 variant")
        #expect(abs(id.milliseconds - now) < 60_000)
    }

    @Test func textFormRoundTrips() throws {
        let id = EventID(high: 0x0192_F0C4_8A1E_7000, low: 0x8000_3B1F_9D2C_4E5A)
        #expect(id.description == "0192f0c4-8a1e-7000-8000-3b1f9d2c4e5a")
        #expect(EventID("0192f0c4-8a1e-7000-8000-3b1f9d2c4e5a") == id)
        #expect(EventID("0192F0C4-8A1E-7000-8000-3B1F9D2C4E5A") == id)
        let fresh = EventID()
        #expect(EventID(fresh.description) == fresh)
    }

    @Test(arguments: [
        "", "0192f0c4-8a1e-7000-8000-3b1f9d2c4e5", "0192f0c4-8a1e-7000-8000-3b1f9d2c4e5a0",
        "0192f0c48a1e-7000-8000-3b1f9d2c4e5a0", "0192f0c4-8a1e-7000-8000_3b1f9d2c4e5a",
        "g192f0c4-8a1e-7000-8000-3b1f9d2c4e5a", "0192f0c4-8a1e-7000-8000-3b1f9d2c4é",
    ])
    func malformedTextIsRejected(text: String) {
        #expect(EventID(text) == nil)
    }

    @Test func bytesRoundTrip() {
        let id = EventID()
        #expect(id.bytes.count == 16)
        #expect(EventID(bytes: id.bytes) == id)
        #expect(EventID(bytes: [UInt8](repeating: 0, count: 15)) == nil)
        #expect(EventID(bytes: [UInt8](repeating: 0, count: 17)) == nil)
        #expect(EventID(bytes: Array(0..<16)) == EventID(high: 0x0001_0203_0405_0607, low: 0x0809_0A0B_0C0D_0E0F))
    }

    @Test func timestampsHaveNanosecondFields() {
        let stamp = Timestamp(nanosecondsSinceEpoch: 1_764_398_469_000_000_042)
        #expect(stamp.description == "1764398469.000000042")
        #expect(stamp.millisecondsSinceEpoch == 1_764_398_469_000)
        #expect(Timestamp(nanosecondsSinceEpoch: -1).millisecondsSinceEpoch == -1)
        #expect(Timestamp.now() > stamp)
    }
}
