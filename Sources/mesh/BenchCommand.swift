import ArgumentParser
import EventMesh
import Foundation
import Logging

/// `mesh bench`: load tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test the mesh: fan-out across processes, with loss, duplicates, order, latency and memory per node.",
        subcommands: [BenchFanoutCommand.self, BenchWorkerCommand.self]
    )
}

/// `mesh bench fanout`.
struct BenchFanoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Publishers and subscribers as child processes, through brokers in this process.",
        discussion: """
            Each publisher publishes --count events of --size bytes at --rate (or as fast as it \
            can), then an end marker carrying its last sequence number, and reports what it sent \
            over the control channel (so the tail counts even if the end marker is lost). Each \
            subscriber counts, \
            from the bench's own sequence numbers and independently of the mesh's counters: \
            events received, lost (tail included), duplicates and out of order; its throughput; \
            end-to-end latency from the scheduled send time (CLOCK_MONOTONIC, which every \
            process on one host shares; measuring from the schedule, not from the actual send, \
            is what keeps a publisher that falls behind from hiding its delay); and its \
            resident memory. Orders and results travel over a control channel \
            of their own (ROUTER/DEALER), never through the mesh under test.

            Examples:
              mesh bench fanout --subscribers 4 --count 100000
              mesh bench fanout --rate 5000 --count 50000 --size 256 --json result.json
              mesh bench fanout --brokers 2 --dedup off --max-dup 0
            """
    )

    @Option(help: "Publisher processes.") var publishers = 1
    @Option(help: "Subscriber processes.") var subscribers = 1
    @Option(help: "Events per publisher.") var count = 10_000
    @Option(help: ArgumentHelp("Events per second per publisher, or 'max'.", valueName: "rate")) var rate = "max"
    @Option(help: ArgumentHelp("Payload size in bytes.", valueName: "bytes")) var size = 256
    @Option(help: "Brokers side by side.") var brokers = 1
    @Option(help: ArgumentHelp("High-water mark of every socket.", valueName: "messages")) var hwm = 10_000
    @Option(help: ArgumentHelp("Dedup on the subscribers' nodes.", valueName: "on|off")) var dedup = "on"
    @Option(name: .customLong("work-us"), help: ArgumentHelp("Microseconds of work per event in each subscriber (a slow consumer).", valueName: "us"))
    var workMicroseconds = 0
    @Flag(help: "Also run the same traffic over bare libzmq (PUB/SUB through zmq_proxy), interleaved with the mesh runs, and show the ratios.")
    var raw = false
    @Option(help: ArgumentHelp("Runs of each kind (mesh, and raw with --raw), interleaved; medians are reported.", valueName: "n"))
    var `repeat` = 1
    @Option(help: ArgumentHelp("Write the report as JSON here.", valueName: "file")) var json: String?
    @Option(name: .customLong("max-loss"), help: ArgumentHelp("Exit 1 if any subscriber lost more events.", valueName: "n")) var maxLoss: UInt64?
    @Option(name: .customLong("max-dup"), help: ArgumentHelp("Exit 1 if any subscriber got more duplicates.", valueName: "n")) var maxDuplicates: UInt64?
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if publishers < 1 || subscribers < 1 { throw ValidationError("--publishers and --subscribers must be at least 1") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if size < 0 { throw ValidationError("--size must not be negative") }
        if brokers < 1 { throw ValidationError("--brokers must be at least 1") }
        if hwm < 0 { throw ValidationError("--hwm must not be negative") }
        if !["on", "off"].contains(dedup) { throw ValidationError("--dedup must be on or off") }
        if rate != "max", !(Double(rate).map { $0 > 0 } ?? false) { throw ValidationError("--rate must be a positive number or 'max'") }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        let logger = try logging.makeLogger("mesh.bench")
        var plan = BenchCoordinator.Plan()
        plan.publishers = publishers
        plan.subscribers = subscribers
        plan.count = count
        plan.rate = rate == "max" ? nil : Double(rate)
        plan.payloadBytes = size
        plan.brokers = brokers
        plan.highWaterMark = hwm
        plan.dedup = dedup == "on"
        plan.workMicroseconds = workMicroseconds
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var meshReports: [BenchCoordinator.Report] = []
        var rawReports: [BenchCoordinator.Report] = []
        for _ in 0..<`repeat` {
            // Interleaved, so that both kinds see the same machine at about the same time.
            let report = try BenchCoordinator.run(plan, executable: executable, logger: logger)
            printTable(report, label: "mesh")
            meshReports.append(report)
            if raw {
                var rawPlan = plan
                rawPlan.raw = true
                let rawReport = try BenchCoordinator.run(rawPlan, executable: executable, logger: logger)
                printTable(rawReport, label: "raw libzmq")
                rawReports.append(rawReport)
            }
        }
        let meshThroughput = median(meshReports.map { $0.subscribers.map(\.throughput).min() ?? 0 })
        if raw {
            let rawThroughput = median(rawReports.map { $0.subscribers.map(\.throughput).min() ?? 0 })
            let meshP99 = median(meshReports.map { $0.subscribers.map { $0.latencyMicroseconds["p99"] ?? 0 }.max() ?? 0 })
            let rawP99 = median(rawReports.map { $0.subscribers.map { $0.latencyMicroseconds["p99"] ?? 0 }.max() ?? 0 })
            print(String(format: "summary over %d run(s) each (medians): throughput at the slowest node mesh %.0f, raw %.0f events/s, mesh/raw %.2f; p99 latency mesh %.0f µs, raw %.0f µs, mesh/raw %.2f",
                         `repeat`, meshThroughput, rawThroughput, rawThroughput > 0 ? meshThroughput / rawThroughput : 0,
                         meshP99, rawP99, rawP99 > 0 ? meshP99 / rawP99 : 0))
        }
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            let document = BenchDocument(mesh: meshReports, raw: rawReports)
            try encoder.encode(document).write(to: URL(fileURLWithPath: json))
        }
        var failures: [String] = meshReports.flatMap { $0.missing.map { "no result from \($0)" } }
        for result in meshReports.flatMap(\.subscribers) {
            if let maxLoss, result.lost > maxLoss { failures.append("\(result.node) lost \(result.lost) (> \(maxLoss))") }
            if let maxDuplicates, result.duplicates > maxDuplicates { failures.append("\(result.node) got \(result.duplicates) duplicates (> \(maxDuplicates))") }
        }
        for failure in failures { printError("FAILED: \(failure)") }
        if !failures.isEmpty { throw ExitCode.failure }
    }

    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return 0 }
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    private func printTable(_ report: BenchCoordinator.Report, label: String) {
        let sent = report.published.values.reduce(0, +)
        print("[\(label)] fan-out \(report.plan.publishers) → \(report.plan.subscribers), \(report.plan.count) events of \(report.plan.payloadBytes) B per publisher at \(rate), \(report.plan.brokers) broker(s), HWM \(report.plan.highWaterMark); \(sent) sent in \(String(format: "%.2f", report.seconds)) s")
        print("latency: CLOCK_MONOTONIC, shared by every process on this host")
        print("node      received   lost   dup    ooo   events/s     p50 µs   p99 µs   max µs   mesh lost/dup   RSS MiB start/peak/end")
        for result in report.subscribers {
            let latency = result.latencyMicroseconds
            let row = [
                result.node.padding(to: 8), String(result.received).padding(to: 10), String(result.lost).padding(to: 6),
                String(result.duplicates).padding(to: 6), String(result.outOfOrder).padding(to: 5),
                String(format: "%.0f", result.throughput).padding(to: 12),
                String(format: "%.0f", latency["p50"] ?? 0).padding(to: 8), String(format: "%.0f", latency["p99"] ?? 0).padding(to: 8),
                String(format: "%.0f", latency["max"] ?? 0).padding(to: 8),
                "\(result.meshLost)/\(result.meshDuplicates)".padding(to: 15),
                String(format: "%.1f/%.1f/%.1f", result.rssMiB["start"] ?? 0, result.rssMiB["peak"] ?? 0, result.rssMiB["end"] ?? 0),
            ]
            print(row.joined(separator: " "))
        }
        if let slowest = report.subscribers.map(\.throughput).min() {
            print("headline: \(String(format: "%.0f", slowest)) events/s at the slowest node")
        }
    }
}

/// `mesh bench worker`: one process of a load test, started by `mesh bench fanout`.
struct BenchWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "One publisher or subscriber of a load test (started by mesh bench fanout).",
        shouldDisplay: false
    )

    @Option var role: String
    @Option var name: String
    @Option var control: String
    @Option(name: .customLong("broker")) var brokers: [String] = []
    @Option var hwm = 10_000
    @Option var dedup = "on"
    @Option var count = 10_000
    @Option var rate: Double?
    @Option var size = 256
    @Option var publishers = 1
    @Option(name: .customLong("work-us")) var workMicroseconds = 0
    @Flag var raw = false
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard BenchWorker.Role(rawValue: role) != nil else { throw ValidationError("--role must be publisher or subscriber") }
        for text in brokers where BrokerAddress(text) == nil { throw ValidationError("'\(text)' is not a broker") }
    }

    func run() throws {
        let logger = try logging.makeLogger("mesh.bench.worker")
        var mesh = MeshConfiguration(nodeID: name, brokers: brokers.compactMap(BrokerAddress.init), logger: logger)
        mesh.sendHighWaterMark = hwm
        mesh.receiveHighWaterMark = hwm
        mesh.dedupEnabled = dedup == "on"
        mesh.heartbeatIntervalMilliseconds = 200
        mesh.outboxCapacity = max(mesh.outboxCapacity, count + 16)
        var options = BenchWorker.Options(role: BenchWorker.Role(rawValue: role)!, name: name, controlEndpoint: control, mesh: mesh)
        options.count = count
        options.rate = rate
        options.payloadBytes = size
        options.publishers = publishers
        options.workMicroseconds = workMicroseconds
        options.raw = raw
        try BenchWorker.run(options)
    }
}

/// The JSON written by `--json`: every mesh run and every raw run.
struct BenchDocument: Encodable {
    var mesh: [BenchCoordinator.Report]
    var raw: [BenchCoordinator.Report]
}
