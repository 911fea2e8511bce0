import EventBusWorkloads
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A timing of in-process workloads beside their baseline, in one process and one run.
///
/// Each workload of EventBusWorkloads is prepared and verified (a workload that does not do the
/// work it claims fails the run instead of producing a figure), then calibrated: its batch is
/// the number of iterations that takes about `seconds / rounds` on this machine. One warm-up
/// batch of every workload is run and discarded; then come `rounds` rounds, each of which runs
/// one batch of every workload, interleaved (the starting workload rotates from round to round),
/// so that the baseline and the workloads see the same machine at about the same moment. Every
/// batch is timed on CLOCK_MONOTONIC and divided by its iteration count: one per-event time per
/// round and workload. A workload's figure is the median over its rounds, with the fastest and
/// slowest rounds as its spread, and its ratio is its median over the baseline's median.
struct LocalBenchmark {
    /// The workloads to time, the baseline among them (it always runs, and comes first).
    let workloads: [BusWorkload]
    /// The workload every ratio is taken against.
    let baseline: BusWorkload
    /// About how long to time each workload, warm-up and calibration excluded.
    let seconds: Double
    /// How many timed batches of each workload to run.
    let rounds: Int

    /// Makes a benchmark of `workloads` beside `baseline`.
    /// - Parameters:
    ///   - workloads: the workloads to time; `baseline` is added in front if it is missing.
    ///   - baseline: the workload every ratio is taken against.
    ///   - seconds: about how long to time each workload; must be positive.
    ///   - rounds: timed batches per workload; must be at least 1.
    init(workloads: [BusWorkload], baseline: BusWorkload, seconds: Double, rounds: Int) {
        self.workloads = [baseline] + workloads.filter { $0.name != baseline.name }
        self.baseline = baseline
        self.seconds = seconds
        self.rounds = rounds
    }

    /// How long one batch should take, in nanoseconds.
    var roundNanoseconds: UInt64 {
        UInt64(max(1, (seconds / Double(rounds) * 1e9).rounded()))
    }

    /// Prepares, verifies, calibrates and times every workload.
    /// - Returns: one result per workload, in the order of ``workloads`` (the baseline first).
    /// - Throws: the ``WorkloadVerificationError`` of the first workload that fails `verify()`;
    ///   nothing is timed then.
    func run() throws(WorkloadVerificationError) -> [Result] {
        let prepared = workloads.map { $0.prepare() }
        for workload in prepared { try workload.verify() }

        let batches = prepared.map { Self.batchSize(of: $0, roundNanoseconds: roundNanoseconds) }
        for (workload, batch) in zip(prepared, batches) {
            _ = Self.time(workload, iterations: batch)  // the warm-up round, discarded
        }
        var samples = Array(repeating: [Double](), count: prepared.count)
        for round in 0..<rounds {
            for step in 0..<prepared.count {
                let index = (round + step) % prepared.count
                let nanoseconds = Self.time(prepared[index], iterations: batches[index])
                samples[index].append(Double(nanoseconds) / Double(batches[index]))
            }
        }

        let baselineMedian = Statistics.median(samples[0])
        let baselineBytes = prepared[0].bytesPerEvent
        return prepared.indices.map { index in
            let sorted = samples[index].sorted()
            let median = Statistics.median(sorted)
            let bytes = prepared[index].bytesPerEvent
            return Result(
                workload: workloads[index].name,
                summary: workloads[index].summary,
                nsPerEventMedian: Self.rounded(median, places: 2),
                nsPerEventMin: Self.rounded(sorted.first ?? 0, places: 2),
                nsPerEventMax: Self.rounded(sorted.last ?? 0, places: 2),
                eventsPerSecond: median > 0 ? (1e9 / median).rounded() : 0,
                ratioToBaseline: baselineMedian > 0 ? Self.rounded(median / baselineMedian, places: 4) : 0,
                bytesPerEvent: bytes,
                bytesRatioToBaseline: bytes.flatMap { bytes in
                    baselineBytes.flatMap { $0 > 0 ? Self.rounded(Double(bytes) / Double($0), places: 4) : nil }
                },
                iterationsPerRound: batches[index],
                nsPerEventRounds: samples[index].map { Self.rounded($0, places: 2) })
        }
    }

    /// The number of iterations of `workload` that takes about `roundNanoseconds`.
    ///
    /// Doubles a probe batch until it takes a quarter of a round (at most 10 ms), then scales
    /// it to a round. The probes also warm the workload up.
    private static func batchSize(of workload: PreparedWorkload, roundNanoseconds: UInt64) -> Int {
        let probeNanoseconds = max(1, min(roundNanoseconds / 4, 10_000_000))
        var iterations = 1
        var elapsed = time(workload, iterations: iterations)
        while elapsed < probeNanoseconds, iterations < Int.max / 4 {
            iterations *= 2
            elapsed = time(workload, iterations: iterations)
        }
        let scaled = Double(iterations) * Double(roundNanoseconds) / Double(max(elapsed, 1))
        return max(1, Int(min(scaled, Double(Int.max / 4)).rounded()))
    }

    /// Runs `iterations` events of `workload`.
    /// - Returns: the elapsed time on CLOCK_MONOTONIC, in nanoseconds.
    private static func time(_ workload: PreparedWorkload, iterations: Int) -> UInt64 {
        let start = monotonicNanoseconds()
        workload.run(iterations: iterations)
        return monotonicNanoseconds() - start
    }

    /// The monotonic clock in nanoseconds (CLOCK_MONOTONIC).
    private static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    private static func rounded(_ value: Double, places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (value * scale).rounded() / scale
    }
}

// MARK: Results and report

extension LocalBenchmark {
    /// One workload's figures; the field names are those of the `--json` report.
    struct Result: Encodable {
        /// The workload's name.
        var workload: String
        /// What one iteration does.
        var summary: String
        /// Median over the rounds of the time per event (per round trip for a codec workload), in ns.
        var nsPerEventMedian: Double
        /// The fastest round's time per event, in ns.
        var nsPerEventMin: Double
        /// The slowest round's time per event, in ns.
        var nsPerEventMax: Double
        /// Events (round trips) per second at the median.
        var eventsPerSecond: Double
        /// The median over the baseline's median, both from this run (1 for the baseline).
        var ratioToBaseline: Double
        /// For a codec workload, the size of one encoded event in bytes.
        var bytesPerEvent: Int?
        /// For a codec workload, its size over the baseline's size.
        var bytesRatioToBaseline: Double?
        /// Iterations in each timed batch.
        var iterationsPerRound: Int
        /// Every round's time per event, in ns, in the order they ran.
        var nsPerEventRounds: [Double]
    }

    /// The machine, toolchain and build that produced a run, and how it was timed.
    struct Header: Encodable {
        /// The subcommand, such as `mesh bench local`.
        var command: String
        /// The process's arguments as given, the executable first.
        var commandLine: [String]
        /// `debug` or `release`: the configuration this binary was built in.
        var configuration: String
        /// The version of the Swift compiler that built this binary.
        var swiftCompiler: String
        /// Online processors, from `sysconf(_SC_NPROCESSORS_ONLN)`.
        var cpus: Int
        /// The operating system, its release and the machine, from `uname`.
        var os: String
        /// When the run started (ISO 8601, UTC).
        var date: String
        /// The clock the batches are timed on.
        var clock: String
        /// The `--seconds` of the run: about how long each workload was timed.
        var seconds: Double
        /// The `--rounds` of the run.
        var rounds: Int
        /// How long one batch was sized to take, in milliseconds.
        var roundMilliseconds: Double

        /// Describes this process and a benchmark about to run.
        /// - Parameters:
        ///   - command: the subcommand, such as `mesh bench local`.
        ///   - benchmark: the benchmark.
        init(command: String, benchmark: LocalBenchmark) {
            self.command = command
            commandLine = CommandLine.arguments
            configuration = Self.buildConfiguration
            swiftCompiler = Self.compilerVersion
            cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
            os = Self.operatingSystem
            date = ISO8601DateFormatter().string(from: Date())
            clock = "CLOCK_MONOTONIC"
            seconds = benchmark.seconds
            rounds = benchmark.rounds
            roundMilliseconds = (Double(benchmark.roundNanoseconds) / 1e4).rounded() / 100
        }

        /// `debug` or `release`, from the `DEBUG` condition SwiftPM sets in debug builds.
        static var buildConfiguration: String {
            #if DEBUG
            "debug"
            #else
            "release"
            #endif
        }

        /// The compiler's version, as far as `#if compiler(>=…)` tells it.
        static var compilerVersion: String {
            #if compiler(>=6.5)
            "6.5 or later"
            #elseif compiler(>=6.4)
            "6.4"
            #elseif compiler(>=6.3.2)
            "6.3.2"
            #elseif compiler(>=6.3.1)
            "6.3.1"
            #elseif compiler(>=6.3)
            "6.3"
            #elseif compiler(>=6.2)
            "6.2"
            #elseif compiler(>=6.1)
            "6.1"
            #elseif compiler(>=6.0)
            "6.0"
            #else
            "before 6.0"
            #endif
        }

        /// `SYSNAME RELEASE MACHINE` from `uname`.
        private static var operatingSystem: String {
            var names = utsname()
            guard uname(&names) == 0 else { return "unknown" }
            func text<T>(_ field: T) -> String {
                withUnsafeBytes(of: field) { bytes in
                    String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                }
            }
            return "\(text(names.sysname)) \(text(names.release)) \(text(names.machine))"
        }
    }

    /// What `--json` writes: the header, the baseline, the unit and one row per workload.
    struct Document: Encodable {
        /// Where and how the figures were made.
        var header: Header
        /// The name of the workload every ratio is taken against.
        var baseline: String
        /// What the `ns…` fields count: `ns per event` or `ns per round trip`.
        var unit: String
        /// One row per workload, the baseline first.
        var results: [Result]
    }

    /// The results as an aligned text table, one line per workload, the heading first.
    /// - Parameters:
    ///   - results: the rows, as ``run()`` returns them.
    ///   - perWhat: what one iteration is: `event` or `round trip`.
    ///   - baselineLabel: what the ratio columns compare with, such as `baseline` or `JSON`.
    /// - Returns: the lines of the table.
    static func table(_ results: [Result], perWhat: String, baselineLabel: String) -> [String] {
        let showsBytes = results.contains { $0.bytesPerEvent != nil }
        let nameWidth = max(8, results.map(\.workload.count).max() ?? 0)
        var heading = [
            "workload".padding(to: nameWidth),
            "ns/\(perWhat) median".leftPadded(to: 22),
            "min".leftPadded(to: 9), "max".leftPadded(to: 9),
            "\(perWhat)s/s".leftPadded(to: 14),
            "× \(baselineLabel)".leftPadded(to: 11),
        ]
        if showsBytes { heading += ["bytes".leftPadded(to: 7), "size vs \(baselineLabel)".leftPadded(to: 17)] }
        var lines = [heading.joined(separator: " ")]
        for result in results {
            var row = [
                result.workload.padding(to: nameWidth),
                nanoseconds(result.nsPerEventMedian).leftPadded(to: 22),
                nanoseconds(result.nsPerEventMin).leftPadded(to: 9),
                nanoseconds(result.nsPerEventMax).leftPadded(to: 9),
                grouped(result.eventsPerSecond).leftPadded(to: 14),
                String(format: "%.2f", result.ratioToBaseline).leftPadded(to: 11),
            ]
            if showsBytes {
                row.append((result.bytesPerEvent.map(String.init) ?? "-").leftPadded(to: 7))
                row.append((result.bytesRatioToBaseline.map { String(format: "%.1f %%", $0 * 100) } ?? "-").leftPadded(to: 17))
            }
            lines.append(row.joined(separator: " "))
        }
        return lines
    }

    /// One decimal below 100 ns, none above.
    private static func nanoseconds(_ value: Double) -> String {
        String(format: value < 100 ? "%.1f" : "%.0f", value)
    }

    /// An integer with its thousands separated by spaces, as in docs/BENCHMARKS.md.
    private static func grouped(_ value: Double) -> String {
        let digits = String(Int(value.rounded()))
        var groups: [Substring] = []
        var end = digits.endIndex
        while end > digits.startIndex {
            let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
            groups.insert(digits[start..<end], at: 0)
            end = start
        }
        return groups.joined(separator: " ")
    }
}

extension String {
    /// The string with spaces in front up to `width` characters (right-aligned).
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
