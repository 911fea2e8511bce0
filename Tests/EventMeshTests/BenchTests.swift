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

    /// The steps of a sweep (one without a sweep) in a bench JSON document.
    func steps(_ document: [String: Any]) throws -> [[String: Any]] {
        try #require(document["steps"] as? [[String: Any]], "no steps in the report")
    }

    /// The first run of a kind (`mesh` or `raw`) of a step (by default the first).
    func firstRun(_ document: [String: Any], _ kind: String = "mesh", step: Int = 0) throws -> [String: Any] {
        let all = try steps(document)
        try #require(all.count > step, "the report has \(all.count) step(s)")
        return try #require((all[step][kind] as? [[String: Any]])?.first, "no \(kind) run in step \(step) of the report")
    }

    /// Events every publisher of a run reported sending.
    func published(_ run: [String: Any]) -> Int? {
        (run["published"] as? [String: Any])?.values.compactMap { $0 as? Int }.reduce(0, +)
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

    @Test func aSweepOverThePeerTopologyRunsEveryStepMeshAndRaw() async throws {
        let document = try await runBench(["--topology", "peer", "--raw", "--subscribers", "1,2", "--count", "1500"])
        let environment = try #require(document["environment"] as? [String: Any])
        #expect((environment["cpus"] as? Int ?? 0) >= 1)
        #expect((environment["command"] as? String)?.contains("--topology peer") == true)
        #expect(try steps(document).map { $0["subscribers"] as? Int } == [1, 2])
        for step in 0..<2 {
            for kind in ["mesh", "raw"] {
                let run = try firstRun(document, kind, step: step)
                #expect((run["plan"] as? [String: Any])?["topology"] as? String == "peer")
                #expect(published(run) == 1500, "\(kind), step \(step)")
                let subscribers = try #require(run["subscribers"] as? [[String: Any]])
                #expect(subscribers.count == step + 1, "\(kind), step \(step)")
                for subscriber in subscribers {
                    #expect(subscriber["distinct"] as? Int == 1500, "\(kind), step \(step)")
                    #expect(subscriber["lost"] as? Int == 0, "\(kind), step \(step)")
                }
            }
        }
    }

    @Test func aTimedRunLeavesItsWarmUpOutOfThroughputAndLatency() async throws {
        let run = try firstRun(try await runBench(["--rate", "1000", "--duration", "2", "--warmup", "1"]))
        let sent = try #require(published(run))
        // 1000/s for 2 s, by the schedule: every slot in the duration is published.
        #expect(sent == 2000)
        let subscriber = try #require((run["subscribers"] as? [[String: Any]])?.first)
        #expect(subscriber["distinct"] as? Int == sent)
        #expect(subscriber["lost"] as? Int == 0)
        // The first second's events are warm-up: counted, but not in throughput.
        #expect(subscriber["warmupEvents"] as? Int == 1000)
        let throughput = try #require(subscriber["throughput"] as? Double)
        #expect(throughput > 800 && throughput < 1250, "throughput \(throughput) is not the 1000/s published after the warm-up")
        let timeline = try #require(subscriber["rssTimeline"] as? [[String: Any]])
        #expect(timeline.count >= 2, "memory was not sampled every second")
    }

    @Test func aRepeatedSaturationSearchReportsEveryRoundAndTheirMedians() async throws {
        let document = try await runBench(["--saturation", "--raw", "--repeat", "2", "--rate", "20k", "--duration", "0.2"])
        let searches = try #require(document["saturation"] as? [[String: Any]], "no saturation searches in the report")
        #expect(searches.map { $0["round"] as? Int } == [1, 2])
        var meshRates: [Double] = []
        var ratios: [Double] = []
        for search in searches {
            var rates: [String: Double] = [:]
            for kind in ["mesh", "raw"] {
                let result = try #require(search[kind] as? [String: Any], "no \(kind) search")
                let rate = try #require(result["rate"] as? Double, "the \(kind) search found no rate")
                let probes = try #require(result["probes"] as? [[String: Any]])
                // The rate found is the highest probe that kept pace.
                let passed = probes.filter { $0["passed"] as? Bool == true }.compactMap { $0["rate"] as? Double }
                #expect(passed.max() == rate, "\(kind): \(probes)")
                rates[kind] = rate
            }
            meshRates.append(rates["mesh"] ?? 0)
            ratios.append((rates["mesh"] ?? 0) / (rates["raw"] ?? 1))
        }
        let summary = try #require((document["saturationSummary"] as? [[String: Any]])?.first, "no summary of the rounds")
        #expect(summary["rounds"] as? Int == 2)
        #expect(summary["meshRate"] as? Double == (meshRates[0] + meshRates[1]) / 2)
        let reported = try #require(summary["ratios"] as? [Double])
        #expect(reported.count == 2)
        for (reported, expected) in zip(reported, ratios) { #expect(abs(reported - expected) < 1e-9) }
        #expect(abs((summary["ratio"] as? Double ?? 0) - (ratios[0] + ratios[1]) / 2) < 1e-9)
    }

    @Test func badOptionsAreRefusedWithAClearMessage() async throws {
        for (arguments, message) in [
            (["--count", "10", "--duration", "1"], "exclude each other"),
            (["--rates", "1k,fast"], "'fast' is not a rate"),
            (["--subscribers", "1,0"], "--subscribers must be"),
            (["--topology", "ring"], "--topology must be broker or peer"),
            (["--duration", "2", "--warmup", "2"], "must be shorter than --duration"),
        ] {
            let bench = try MeshProcess(["bench", "fanout"] + arguments)
            #expect(await bench.waitForExit(within: 30))
            #expect(bench.process.terminationStatus == 64, "\(arguments)")
            #expect(bench.errorOutput.joined(separator: "\n").contains(message), "\(arguments): \(bench.errorOutput)")
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
        // The mesh's own count agrees, plus the end marker's second copy (the subscriber reports
        // once the marker has come through both brokers, so no copy is still on its way).
        #expect(subscriber["meshDuplicates"] as? Int == 2001)
        #expect(subscriber["lost"] as? Int == 0)
    }
}
