import ArgumentParser
import EventBusWorkloads
import Foundation

/// `mesh bench local`: the in-process bus workloads beside a plain stored-closure call.
struct BenchLocalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "local",
        abstract: "Time in-process publishing on the EventBus beside a plain closure call, in this process.",
        discussion: """
            Times the bus workloads of EventBusWorkloads, the ones the package-benchmark suite \
            in Benchmarks/ runs, beside their baseline (\(LocalBenchSuite.bus.baseline.name): a \
            stored closure called with a prebuilt event, no bus), which always runs. Each \
            workload is first verified (one event must enter the pipeline and reach every \
            handler; a broken bus fails the run instead of producing a figure), then sized to a \
            batch of about --seconds / --rounds, warmed up with one batch that is discarded, \
            and timed in --rounds batches on CLOCK_MONOTONIC. The rounds interleave the \
            workloads, so the baseline and the bus see the same machine at about the same \
            moment. Reported per event: the median over the rounds, the fastest and slowest \
            rounds, events per second, and the median over the baseline's median from the same \
            run. Time a release build: a debug build's figures say nothing about the bus.

            Workloads: \(LocalBenchSuite.bus.workloads.map(\.name).joined(separator: ", ")).

            Examples:
              swift run -c release mesh bench local
              mesh bench local --filter publish_1_subscriber --seconds 3 --rounds 30
              mesh bench local --json bus.json
            """
    )

    @OptionGroup var options: LocalBenchOptions

    func validate() throws {
        _ = try options.selection(in: .bus)
    }

    func run() throws {
        try options.run(.bus)
    }
}

/// `mesh bench codec`: the EventWire round trips beside Foundation's JSON coder.
struct BenchCodecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codec",
        abstract: "Time the EventWire codec's round trip and size beside Foundation's JSON coder, in this process.",
        discussion: """
            Times the wire workloads of EventBusWorkloads (encode a typical mesh event, decode \
            the bytes, read every field of the result) beside their baseline \
            (\(LocalBenchSuite.codec.baseline.name): the same event through JSONEncoder and \
            JSONDecoder, compact, with the envelope's field names), which always runs. Each \
            workload is first verified (the round trip must give back the same envelope and \
            payload), then sized to a batch of about --seconds / --rounds, warmed up with one \
            batch that is discarded, and timed in --rounds batches on CLOCK_MONOTONIC, the \
            workloads interleaved. Reported per round trip: the median over the rounds, the \
            fastest and slowest rounds, round trips per second, the median over JSON's median \
            from the same run, the encoded size of one event and that size over JSON's. Time a \
            release build: a debug build's figures say nothing about the codec.

            Workloads: \(LocalBenchSuite.codec.workloads.map(\.name).joined(separator: ", ")).

            Examples:
              swift run -c release mesh bench codec
              mesh bench codec --filter wire_roundtrip_typed --seconds 3
              mesh bench codec --json codec.json
            """
    )

    @OptionGroup var options: LocalBenchOptions

    func validate() throws {
        _ = try options.selection(in: .codec)
    }

    func run() throws {
        try options.run(.codec)
    }
}

/// A set of in-process workloads timed together, with the baseline they are measured against.
enum LocalBenchSuite {
    /// The bus workloads, beside a stored-closure call.
    case bus
    /// The wire codec's round trips, beside Foundation's JSON coder.
    case codec

    /// The subcommand that times this suite.
    var command: String {
        switch self {
        case .bus: "mesh bench local"
        case .codec: "mesh bench codec"
        }
    }

    /// The workload every ratio is taken against.
    var baseline: BusWorkload {
        switch self {
        case .bus: .baseline
        case .codec: .jsonRoundTripFoundation
        }
    }

    /// Every workload of the suite, in catalogue order (the baseline first).
    var workloads: [BusWorkload] {
        switch self {
        case .bus: Self.busWorkloads
        case .codec: Self.codecWorkloads
        }
    }

    /// What one iteration is, in the report's units.
    var iteration: String {
        switch self {
        case .bus: "event"
        case .codec: "round trip"
        }
    }

    /// What the report's ratio columns compare with.
    var ratioLabel: String {
        switch self {
        case .bus: "baseline"
        case .codec: "JSON"
        }
    }

    // A wire workload reports the size of an encoded event; a bus workload does not.
    private static let busWorkloads = BusWorkload.all.filter { $0.prepare().bytesPerEvent == nil }
    private static let codecWorkloads = BusWorkload.all.filter { $0.prepare().bytesPerEvent != nil }
}

/// The options of `mesh bench local` and `mesh bench codec`.
struct LocalBenchOptions: ParsableArguments {
    @Option(name: .customLong("filter"), help: ArgumentHelp(
        "Time only this workload (repeat for more; default all). The baseline always runs.", valueName: "name"))
    var filter: [String] = []

    @Option(help: ArgumentHelp(
        "About how long to time each workload, in seconds (calibration and warm-up excluded).", valueName: "s"))
    var seconds: Double = 1

    @Option(help: ArgumentHelp("Timed batches per workload, each about seconds / rounds long.", valueName: "n"))
    var rounds = 10

    @Option(help: ArgumentHelp("Write the report as JSON here.", valueName: "file"))
    var json: String?

    func validate() throws {
        guard seconds > 0, seconds.isFinite else {
            throw ValidationError("--seconds must be a positive number of seconds, not \(seconds)")
        }
        guard rounds > 0 else { throw ValidationError("--rounds must be at least 1, not \(rounds)") }
        if let json {
            let directory = URL(fileURLWithPath: json).deletingLastPathComponent().path
            guard FileManager.default.isWritableFile(atPath: directory) else {
                throw ValidationError("--json \(json): the directory \(directory) does not exist or is not writable")
            }
        }
    }

    /// The workloads `--filter` names, in catalogue order (all of the suite without a filter).
    /// - Parameter suite: the suite the names must belong to.
    /// - Returns: the selected workloads; the baseline is not added.
    /// - Throws: a `ValidationError` naming the unknown names and listing the valid ones.
    func selection(in suite: LocalBenchSuite) throws -> [BusWorkload] {
        let valid = suite.workloads
        let unknown = filter.filter { name in !valid.contains { $0.name == name } }
        guard unknown.isEmpty else {
            var message = "unknown workload \(unknown.map { "'\($0)'" }.joined(separator: ", ")) for \(suite.command); "
                + "valid names: \(valid.map(\.name).joined(separator: ", "))"
            let other: LocalBenchSuite = suite == .bus ? .codec : .bus
            let elsewhere = unknown.filter { name in other.workloads.contains { $0.name == name } }
            if !elsewhere.isEmpty {
                message += " (\(elsewhere.joined(separator: ", ")): use \(other.command))"
            }
            throw ValidationError(message)
        }
        return filter.isEmpty ? valid : valid.filter { filter.contains($0.name) }
    }

    /// Times the selected workloads of `suite`, prints the table and writes `--json`.
    /// - Parameter suite: the suite to time.
    /// - Throws: `ExitCode.failure` if a workload fails verification or the report cannot be
    ///   written, after saying why on stderr.
    func run(_ suite: LocalBenchSuite) throws {
        let benchmark = LocalBenchmark(
            workloads: try selection(in: suite), baseline: suite.baseline, seconds: seconds, rounds: rounds)
        let header = LocalBenchmark.Header(command: suite.command, benchmark: benchmark)
        if header.configuration == "debug" {
            printError("""
                warning: this mesh is a debug build; its timings are meaningless (no optimisation). \
                Build with `swift build -c release` and run `.build/release/mesh \(suite.command.dropFirst(5))`, \
                or `swift run -c release \(suite.command)`.
                """)
        }
        print("\(suite.command): \(benchmark.workloads.count) workload(s) beside \(suite.baseline.name); "
            + "\(rounds) round(s) of ~\(String(format: "%g", header.roundMilliseconds)) ms each after a warm-up round, "
            + "\(header.clock); \(header.configuration) build, Swift \(header.swiftCompiler), \(header.cpus) CPU(s)")

        let results: [LocalBenchmark.Result]
        do {
            results = try benchmark.run()
        } catch {
            printError("\(suite.command): \(error); nothing was timed")
            throw ExitCode.failure
        }

        for line in LocalBenchmark.table(results, perWhat: suite.iteration, baselineLabel: suite.ratioLabel) {
            print(line)
        }
        print("median and min/max over \(rounds) round(s) per workload; ratios against \(suite.baseline.name) of this run")

        if let json {
            let document = LocalBenchmark.Document(
                header: header, baseline: suite.baseline.name, unit: "ns per \(suite.iteration)", results: results)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            do {
                try encoder.encode(document).write(to: URL(fileURLWithPath: json))
            } catch {
                printError("\(suite.command): cannot write \(json): \(error)")
                throw ExitCode.failure
            }
        }
    }
}
