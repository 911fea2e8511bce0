import Foundation
import Testing

/// `mesh bench local` and `mesh bench codec` as a user runs them: short runs whose JSON reports
/// must hold a row per workload with plausible figures, the baseline's ratio exactly 1.
@Suite(.timeLimit(.minutes(1))) struct BenchLocalTests {
    /// Runs `mesh bench ARGUMENTS --json FILE` to completion.
    /// - Returns: the process (exited) and the JSON report.
    func runBench(_ arguments: [String]) async throws -> (process: MeshProcess, report: [String: Any]) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-local-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bench = try MeshProcess(["bench"] + arguments + ["--json", path])
        #expect(await bench.waitForExit(within: 30), "the bench did not finish")
        try #require(bench.process.terminationStatus == 0, "bench exited \(bench.process.terminationStatus): \(bench.errorOutput.suffix(5))")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return (bench, try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]))
    }

    /// The report's rows by workload name, each checked for the fields every row has.
    func rows(of report: [String: Any]) throws -> [String: [String: Any]] {
        let results = try #require(report["results"] as? [[String: Any]])
        var rows: [String: [String: Any]] = [:]
        for row in results {
            let name = try #require(row["workload"] as? String)
            let median = try #require(row["nsPerEventMedian"] as? Double, "\(name)")
            let minimum = try #require(row["nsPerEventMin"] as? Double, "\(name)")
            let maximum = try #require(row["nsPerEventMax"] as? Double, "\(name)")
            #expect(minimum > 0, "\(name)")
            #expect(minimum <= median && median <= maximum, "\(name): \(minimum) / \(median) / \(maximum)")
            #expect((row["eventsPerSecond"] as? Double ?? 0) > 0, "\(name)")
            #expect((row["ratioToBaseline"] as? Double ?? 0) > 0, "\(name)")
            #expect(!(row["summary"] as? String ?? "").isEmpty, "\(name)")
            #expect((row["nsPerEventRounds"] as? [Double])?.count == 3, "\(name)")
            rows[name] = row
        }
        return rows
    }

    @Test func localTimesTheFilteredWorkloadsBesideTheBaseline() async throws {
        let (bench, report) = try await runBench(["local", "--filter", "publish_1_subscriber", "--seconds", "0.3", "--rounds", "3"])
        #expect(report["baseline"] as? String == "baseline_stored_closure")
        #expect(report["unit"] as? String == "ns per event")
        let rows = try rows(of: report)
        // The baseline runs although the filter does not name it.
        #expect(Set(rows.keys) == ["baseline_stored_closure", "publish_1_subscriber"])
        #expect(rows["baseline_stored_closure"]?["ratioToBaseline"] as? Double == 1)
        #expect(rows["publish_1_subscriber"]?["bytesPerEvent"] == nil)

        let header = try #require(report["header"] as? [String: Any])
        #expect(header["command"] as? String == "mesh bench local")
        #expect((header["commandLine"] as? [String])?.contains("publish_1_subscriber") == true)
        #expect((header["cpus"] as? Int ?? 0) > 0)
        #expect(!(header["swiftCompiler"] as? String ?? "").isEmpty)
        let configuration = try #require(header["configuration"] as? String)
        #expect(["debug", "release"].contains(configuration))
        // A debug build says on stderr, before timing, that its figures are meaningless; a
        // release build does not.
        #expect(await eventually(within: 5) { bench.output.contains { $0.hasPrefix("median and min/max") } }, "no table: \(bench.output)")
        #expect(bench.output.contains { $0.hasPrefix("publish_1_subscriber ") }, "no table row: \(bench.output)")
        let warned = await eventually(within: configuration == "debug" ? 5 : 0) { bench.errorOutput.contains { $0.contains("debug build") } }
        #expect(warned == (configuration == "debug"), "stderr: \(bench.errorOutput)")
    }

    @Test func codecReportsTimeAndSizeBesideJSON() async throws {
        let (_, report) = try await runBench(["codec", "--filter", "wire_roundtrip_untyped", "--seconds", "0.3", "--rounds", "3"])
        #expect(report["baseline"] as? String == "json_roundtrip_foundation")
        #expect(report["unit"] as? String == "ns per round trip")
        let rows = try rows(of: report)
        #expect(Set(rows.keys) == ["json_roundtrip_foundation", "wire_roundtrip_untyped"])
        let json = try #require(rows["json_roundtrip_foundation"])
        let wire = try #require(rows["wire_roundtrip_untyped"])
        #expect(json["ratioToBaseline"] as? Double == 1)
        #expect(json["bytesRatioToBaseline"] as? Double == 1)
        let jsonBytes = try #require(json["bytesPerEvent"] as? Int)
        let wireBytes = try #require(wire["bytesPerEvent"] as? Int)
        #expect(wireBytes > 0 && wireBytes < jsonBytes, "EventWire \(wireBytes) bytes, JSON \(jsonBytes)")
        let sizeRatio = try #require(wire["bytesRatioToBaseline"] as? Double)
        #expect(abs(sizeRatio - Double(wireBytes) / Double(jsonBytes)) < 0.001)
    }

    @Test(arguments: [
        (["local", "--filter", "no_such_workload"], "publish_1_subscriber"),
        (["local", "--filter", "wire_roundtrip_typed"], "mesh bench codec"),
        (["codec", "--filter", "publish_1_subscriber"], "json_roundtrip_foundation"),
        (["local", "--seconds", "0"], "--seconds"),
        (["codec", "--rounds", "0"], "--rounds"),
    ])
    func badFlagsAreRefusedWithTheValidChoices(arguments: [String], expected: String) async throws {
        let bench = try MeshProcess(["bench"] + arguments)
        #expect(await bench.waitForExit(within: 10), "mesh did not exit")
        #expect(bench.process.terminationStatus == 64, "exit status for \(arguments)")
        _ = await eventually(within: 5) { bench.errorOutput.contains { $0.hasPrefix("Error:") } }
        let message = bench.errorOutput.first { $0.hasPrefix("Error:") } ?? ""
        #expect(message.contains(expected), "\(arguments): \(bench.errorOutput)")
        #expect(bench.output.isEmpty, "something was timed: \(bench.output)")
    }
}
