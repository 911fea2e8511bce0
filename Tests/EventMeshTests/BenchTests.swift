import EventMesh
import Foundation
import Testing

@Suite struct BenchTallyTests {
    @Test func countsLossDuplicatesAndOrderFromSequenceNumbers() {
        var tally = BenchTally()
        for sequence: UInt64 in [1, 2, 4, 3, 3, 6] { tally.record(sequence) }
        #expect(tally.received == 6)
        #expect(tally.distinct == 5)
        #expect(tally.duplicates == 1)
        #expect(tally.outOfOrder == 1)
        #expect(tally.lost == 1)  // 5, before the end marker
        tally.end(at: 9)
        #expect(tally.lost == 4)  // 5, 7, 8, 9: the tail counts once the end marker is in
    }
}

/// `mesh bench fanout` as a user runs it, with its JSON report checked against what the
/// publishers and subscribers say independently.
@Suite(.serialized, .timeLimit(.minutes(3))) struct BenchProcessTests {
    func runBench(_ arguments: [String]) async throws -> [String: Any] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bench = try MeshProcess(["bench", "fanout", "--json", path] + arguments)
        #expect(await bench.waitForExit(within: 150), "the bench did not finish")
        #expect(bench.process.terminationStatus == 0, "bench exited \(bench.process.terminationStatus): \(bench.errorOutput.suffix(5))")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The first run of a kind (`mesh` or `raw`) in a bench JSON document.
    func firstRun(_ document: [String: Any], _ kind: String = "mesh") throws -> [String: Any] {
        try #require((document[kind] as? [[String: Any]])?.first, "no \(kind) run in the report")
    }

    @Test func theRawBaselineRunsTheSameTrafficOverBareLibzmq() async throws {
        let document = try await runBench(["--count", "3000", "--raw"])
        for kind in ["mesh", "raw"] {
            let run = try firstRun(document, kind)
            let published = (run["published"] as? [String: Any])?.values.compactMap { $0 as? Int }.reduce(0, +)
            #expect(published == 3000, "\(kind)")
            let subscriber = try #require((run["subscribers"] as? [[String: Any]])?.first)
            #expect(subscriber["distinct"] as? Int == 3000, "\(kind)")
            #expect(subscriber["lost"] as? Int == 0, "\(kind)")
            #expect((subscriber["throughput"] as? Double ?? 0) > 0, "\(kind)")
        }
    }

    @Test func aTinyHighWaterMarkLosesAndTheReportedLossIsExact() async throws {
        // A slow consumer (200 µs per event) behind queues of 10: the broker must drop.
        let report = try firstRun(try await runBench(["--count", "20000", "--size", "1024", "--hwm", "10", "--work-us", "200", "--subscribers", "2"]))
        let published = try #require((report["published"] as? [String: Any])?.values.compactMap { $0 as? Int }.reduce(0, +))
        #expect(published == 20_000)
        let subscribers = try #require(report["subscribers"] as? [[String: Any]])
        #expect(subscribers.count == 2)
        for subscriber in subscribers {
            let lost = try #require(subscriber["lost"] as? Int)
            let distinct = try #require(subscriber["distinct"] as? Int)
            #expect(lost > 0, "nothing was lost: the test did not force loss")
            #expect(lost == published - distinct, "reported loss \(lost) != sent \(published) - distinct received \(distinct)")
            // The mesh's own counters agree with the bench's.
            #expect(subscriber["meshLost"] as? Int == lost)
            #expect(subscriber["duplicates"] as? Int == 0)
        }
    }

    @Test func withDedupOffOnTwoBrokersTheReportedDuplicatesAreTheTrueOnes() async throws {
        let report = try firstRun(try await runBench(["--count", "2000", "--brokers", "2", "--dedup", "off"]))
        let subscribers = try #require(report["subscribers"] as? [[String: Any]])
        let subscriber = try #require(subscribers.first)
        // Every event arrives once through each broker: one true duplicate per event.
        #expect(subscriber["distinct"] as? Int == 2000)
        #expect(subscriber["received"] as? Int == 4000)
        #expect(subscriber["duplicates"] as? Int == 2000)
        #expect(subscriber["meshDuplicates"] as? Int == 2000)  // the mesh's own count agrees
        #expect(subscriber["lost"] as? Int == 0)
    }
}
