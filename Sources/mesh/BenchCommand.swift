import ArgumentParser
import EventMesh
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// `mesh bench fanout`.
struct BenchFanoutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanout",
        abstract: "Publishers and subscribers as child processes (or subscribers on bench agents on other hosts), through brokers in this process or as a peer mesh.",
        discussion: """
            Each publisher publishes --count events (or for --duration seconds) of --size bytes \
            at --rate (or as fast as it can), then an end marker carrying its last sequence \
            number, and reports what it sent over the control channel (so the tail counts even \
            if the end marker is lost). Each subscriber counts, from the bench's own sequence \
            numbers and independently of the mesh's counters: events received, lost (tail \
            included), duplicates and out of order; its throughput after the warm-up; end-to-end \
            latency from the scheduled send time (CLOCK_MONOTONIC, which every process on one \
            host shares; measuring from the schedule, not from the actual send, is what keeps a \
            publisher that falls behind from hiding its delay); and its resident memory every \
            second. Orders and results travel over a control channel of their own \
            (ROUTER/DEALER), never through the mesh under test.

            --agents runs the subscribers on other hosts: each runs `mesh bench agent`, the \
            subscribers are placed on them round-robin, and the publishers and brokers stay \
            here, advertised at --advertise (default: this host's address on the route to \
            the first agent) and bound on that address (on every interface when it is a name \
            or not one of this host's). Each agent is pinged first: the \
            round trip and the clock offset are shown per agent. Latency is measured on \
            CLOCK_MONOTONIC when every agent shares this host's kernel (same boot id: \
            containers, network namespaces), else on CLOCK_REALTIME, with a warning for each \
            agent whose clock is off by more than half the round trip explains.

            --raw runs the same traffic over bare libzmq (PUB/SUB through zmq_proxy, or bound \
            and connected for --topology peer), interleaved with the mesh runs --repeat times; \
            medians and every mesh/raw ratio are reported. --rates and a list of --subscribers \
            sweep: every combination is one step, and the steps make a curve (the table, \
            --json and --svg show it). While publishers publish, a progress line (elapsed, \
            rate, loss so far) goes to stderr: redrawn on a terminal, a plain line every 10 s \
            otherwise.

            Examples:
              mesh bench fanout --subscribers 4 --count 100000
              mesh bench fanout --rate 5000 --duration 30 --warmup 5 --raw --repeat 3
              mesh bench fanout --rates 10k,50k,max --subscribers 1,2,4 --raw --json curve.json --svg curve.svg
              mesh bench fanout --topology peer --raw
              mesh bench fanout --saturation --raw --rate 40k --duration 3 --svg saturation.svg
              mesh bench fanout --brokers 2 --dedup off --max-dup 0
              mesh bench fanout --agents 10.0.0.2:7700,10.0.0.3:7700 --subscribers 1,2,4,8 --rate 5k --duration 10 --raw
            """
    )

    @Option(help: "Publisher processes.") var publishers = 1
    @Option(help: ArgumentHelp("Subscriber processes, or a comma-separated list to sweep (1,2,4).", valueName: "n[,n…]"))
    var subscribers = "1"
    @Option(help: ArgumentHelp("Events per publisher (default 10000; not with --duration).", valueName: "n")) var count: Int?
    @Option(help: ArgumentHelp("Seconds each publisher publishes for, warm-up included (instead of --count).", valueName: "seconds"))
    var duration: Double?
    @Option(help: ArgumentHelp("Seconds at the start left out of throughput and latency (their events still count for loss).", valueName: "seconds"))
    var warmup: Double = 0
    @Option(help: ArgumentHelp("Events per second per publisher (1000, 2.5k, 1M), or 'max'.", valueName: "rate")) var rate: String?
    @Option(help: ArgumentHelp("Rates to sweep, comma-separated (1k,10k,50k,max); not with --rate.", valueName: "rate,…")) var rates: String?
    @Option(help: ArgumentHelp("Payload size in bytes.", valueName: "bytes")) var size = 256
    @Option(help: ArgumentHelp("broker (every worker connects to every broker) or peer (publishers bind, subscribers connect to each).", valueName: "broker|peer"))
    var topology = "broker"
    @Option(help: "Brokers side by side (broker topology).") var brokers = 1
    @Option(help: ArgumentHelp("High-water mark of every socket.", valueName: "messages")) var hwm = 10_000
    @Option(help: ArgumentHelp("Dedup on the subscribers' nodes.", valueName: "on|off")) var dedup = "on"
    @Option(name: .customLong("batch-threshold"), help: ArgumentHelp("The publishers' nodes batch sends once a send pass finds this many events queued (MeshConfiguration.batchingThreshold); 0 turns batching off.", valueName: "events"))
    var batchThreshold = MeshConfiguration.defaultBatchingThreshold
    @Option(name: .customLong("work-us"), help: ArgumentHelp("Microseconds of work per event in each subscriber (a slow consumer).", valueName: "us"))
    var workMicroseconds = 0
    @Flag(help: "Also run the same traffic over bare libzmq, interleaved with the mesh runs, and show the ratios.")
    var raw = false
    @Option(help: ArgumentHelp("Runs of each kind (mesh, and raw with --raw) per step, interleaved; medians are reported. With --saturation: whole searches, mesh and raw alternating, with the median rates and the median of each round's mesh/raw ratio.", valueName: "n"))
    var `repeat` = 1
    @Option(help: ArgumentHelp("Write the report as JSON here.", valueName: "file")) var json: String?
    @Option(help: ArgumentHelp("Draw the report as an SVG chart here: throughput per node (or per step) and latency percentiles, mesh beside raw.", valueName: "file"))
    var svg: String?
    @Flag(help: ArgumentHelp("Search for the saturation rate instead: the highest rate per publisher with no loss at which the slowest node keeps pace (within 5%); with --raw, for raw libzmq too. Each probe publishes for --duration (default 3 s)."))
    var saturation = false
    @Option(help: ArgumentHelp("Bench agents (mesh bench agent) to run the subscribers on, comma-separated host:port or tcp://host:port.", valueName: "endpoint,…"))
    var agents: String?
    @Option(help: ArgumentHelp("With --agents: the address agents reach this host at (default: the local address of the route to the first agent).", valueName: "host"))
    var advertise: String?
    @Option(help: ArgumentHelp("The clock latency is measured on: auto (CLOCK_MONOTONIC unless an agent runs on another kernel, then CLOCK_REALTIME), monotonic or realtime.", valueName: "auto|monotonic|realtime"))
    var clock = "auto"
    @Option(name: .customLong("agent-timeout"), help: ArgumentHelp("With --agents: seconds to wait for each agent's first answer.", valueName: "seconds"))
    var agentTimeout: Double = 15
    @Option(name: .customLong("max-loss"), help: ArgumentHelp("Exit 1 if any subscriber lost more events.", valueName: "n")) var maxLoss: UInt64?
    @Option(name: .customLong("max-dup"), help: ArgumentHelp("Exit 1 if any subscriber got more duplicates.", valueName: "n")) var maxDuplicates: UInt64?
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if publishers < 1 { throw ValidationError("--publishers must be at least 1") }
        _ = try subscriberCounts()
        _ = try rateList()
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if count != nil && duration != nil { throw ValidationError("--count and --duration exclude each other: give one") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a positive number of seconds") }
        if !(warmup >= 0) { throw ValidationError("--warmup must not be negative") }
        if let duration, warmup >= duration { throw ValidationError("--warmup (\(warmup) s) must be shorter than --duration (\(duration) s)") }
        if size < 0 { throw ValidationError("--size must not be negative") }
        if BenchCoordinator.Topology(rawValue: topology) == nil { throw ValidationError("--topology must be broker or peer") }
        if brokers < 1 { throw ValidationError("--brokers must be at least 1") }
        if hwm < 0 { throw ValidationError("--hwm must not be negative") }
        if batchThreshold < 0 { throw ValidationError("--batch-threshold must not be negative") }
        if !["on", "off"].contains(dedup) { throw ValidationError("--dedup must be on or off") }
        if `repeat` < 1 { throw ValidationError("--repeat must be at least 1") }
        if agents != nil && agentList.isEmpty { throw ValidationError("--agents takes a comma-separated list of host:port") }
        for agent in agentList {
            let endpoint = agent.contains("://") ? agent : "tcp://" + agent
            guard endpoint.hasPrefix("tcp://"), let port = endpoint.split(separator: ":").last.flatMap({ Int($0) }), (1...65535).contains(port) else {
                throw ValidationError("--agents: '\(agent)' is not host:port or tcp://host:port")
            }
        }
        if advertise != nil && agentList.isEmpty { throw ValidationError("--advertise goes with --agents") }
        if Set(agentList.map { $0.contains("://") ? $0 : "tcp://" + $0 }).count != agentList.count {
            throw ValidationError("--agents names an agent twice: give each once (subscribers are spread over the list)")
        }
        if clock != "auto" && BenchClock(rawValue: clock) == nil { throw ValidationError("--clock must be auto, monotonic or realtime") }
        if !(agentTimeout > 0 && agentTimeout <= 3600) { throw ValidationError("--agent-timeout must be a positive number of seconds, at most 3600") }
        if saturation && (count != nil || rates != nil) {
            throw ValidationError("--saturation chooses the rates itself and times each probe: give --duration (and --rate to start from), not --count or --rates")
        }
    }

    /// `--agents` as a list.
    var agentList: [String] {
        (agents ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// `--subscribers` as a list.
    func subscriberCounts() throws -> [Int] {
        let values = subscribers.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--subscribers must be a positive number or a comma-separated list of them (1,2,4), not '\(subscribers)'")
        }
        return values.compactMap { $0 }
    }

    /// `--rate` or `--rates` as a list; `nil` stands for as fast as possible.
    func rateList() throws -> [Double?] {
        if rate != nil && rates != nil { throw ValidationError("--rate and --rates exclude each other: give one") }
        let text = rates ?? rate ?? "max"
        let option = rates == nil ? "--rate" : "--rates"
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if rates == nil && parts.count > 1 { throw ValidationError("--rate takes one rate; sweep with --rates \(text)") }
        return try parts.map { part in
            if part == "max" { return nil }
            guard let value = Self.parseRate(part) else {
                throw ValidationError("\(option): '\(part)' is not a rate; use a positive number of events per second (5000, 2.5k, 1M) or 'max'")
            }
            return value
        }
    }

    /// `5000`, `2.5k`, `1M` as events per second; `nil` unless positive and finite.
    static func parseRate(_ text: String) -> Double? {
        var number = Substring(text)
        var scale = 1.0
        if let last = number.last, let multiplier = ["k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6][last] {
            scale = multiplier
            number = number.dropLast()
        }
        guard let value = Double(number), value.isFinite, value > 0 else { return nil }
        return value * scale
    }

    func run() throws {
        let logger = try logging.makeLogger("mesh.bench")
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var environment = BenchEnvironment.current(
            command: (["mesh"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
            meshVersion: Mesh.configuration.version, executable: executable)
        var probes: [BenchCoordinator.AgentProbe] = []
        var clock = BenchClock(rawValue: self.clock) ?? .monotonic
        if clock == .realtime {
            environment.latencyClock = "CLOCK_REALTIME (--clock realtime)"
        }
        if !agentList.isEmpty {
            do {
                probes = try BenchCoordinator.probe(agents: agentList, timeoutSeconds: agentTimeout)
            } catch {
                printError("mesh bench fanout: \(error)")
                throw ExitCode.failure
            }
            clock = BenchClock(rawValue: self.clock) ?? BenchCoordinator.chooseClock(probes)
            environment.latencyClock = self.clock != "auto" ? "\(clock.systemName) (--clock \(self.clock))" : clock == .monotonic
                ? "CLOCK_MONOTONIC, shared by this host and every agent (one kernel, boot id \(probes[0].info.bootID))"
                : "CLOCK_REALTIME: the agents run on other kernels, so figures include the clock offsets below"
        }
        for line in environment.summaryLines { print(line) }
        for probe in probes {
            print(String(format: "agent %@ at %@: host %@, %@, %d CPU(s), pid %d; round trip %.0f µs, clock offset %+.0f µs (%@; kernel clock source %@)",
                         probe.info.name, probe.endpoint, probe.info.hostname, probe.info.networkNamespace, probe.info.cores, probe.info.pid,
                         probe.roundTripMicroseconds, probe.offsetMicroseconds(clock), clock.systemName, probe.info.clockSource))
            if probe.clocksDisagree(clock) {
                printError(String(format: "warning: the %@ of agent %@ and of this host disagree by %.0f µs, more than half the %.0f µs round trip explains: latency measured at its subscribers is off by about that much",
                                  clock.systemName, probe.info.name, abs(probe.offsetMicroseconds(clock)), probe.roundTripMicroseconds))
            }
        }
        #if DEBUG
        printError("warning: this mesh is a debug build; its figures are not meaningful (build with swift build -c release)")
        #endif
        var base = BenchCoordinator.Plan()
        base.publishers = publishers
        base.count = count ?? 10_000
        base.durationSeconds = duration
        base.warmupSeconds = warmup
        base.topology = BenchCoordinator.Topology(rawValue: topology) ?? .broker
        base.payloadBytes = size
        base.brokers = brokers
        base.highWaterMark = hwm
        base.dedup = dedup == "on"
        base.batchingThreshold = batchThreshold
        base.workMicroseconds = workMicroseconds
        base.agents = agentList
        base.advertiseHost = advertise
        base.agentTimeoutSeconds = agentTimeout
        base.clock = clock
        let progress = ProgressLine()

        if saturation {
            base.durationSeconds = duration ?? 3
            var searches: [SaturationSearch] = []
            var summaries: [SaturationSummary] = []
            let start = try rateList().first.flatMap { $0 } ?? 10_000
            for subscriberCount in try subscriberCounts() {
                var plan = base
                plan.subscribers = subscriberCount
                var rawPlan = plan
                rawPlan.raw = true
                var rounds: [SaturationSearch] = []
                // With --repeat, whole searches alternate (mesh, raw, mesh, raw …), so that both
                // kinds see the machine in the same state about as often.
                for round in 1...`repeat` {
                    var search = SaturationSearch(subscribers: subscriberCount, round: round)
                    search.mesh = try findSaturation(plan, from: start, label: "mesh", logger: logger, executable: executable)
                    if raw {
                        search.raw = try findSaturation(rawPlan, from: start, label: "raw libzmq", logger: logger, executable: executable)
                    }
                    printSaturation(search)
                    rounds.append(search)
                }
                if `repeat` > 1 {
                    let summary = SaturationSummary(rounds)
                    printSaturationSummary(summary)
                    summaries.append(summary)
                }
                searches += rounds
            }
            let document = BenchDocument(
                environment: environment, agents: probes.isEmpty ? nil : probes, steps: [], saturation: searches,
                saturationSummary: summaries.isEmpty ? nil : summaries)
            try write(document)
            return
        }

        var steps: [BenchStep] = []
        for subscriberCount in try subscriberCounts() {
            for stepRate in try rateList() {
                var plan = base
                plan.subscribers = subscriberCount
                plan.rate = stepRate
                var step = BenchStep(subscribers: subscriberCount, rate: stepRate)
                for _ in 0..<`repeat` {
                    // Interleaved, so that both kinds see the same machine at about the same time.
                    let report = try BenchCoordinator.run(plan, executable: executable, logger: logger, progress: progress.show)
                    progress.clear()
                    printTable(report, label: "mesh")
                    step.mesh.append(report)
                    if raw {
                        var rawPlan = plan
                        rawPlan.raw = true
                        let rawReport = try BenchCoordinator.run(rawPlan, executable: executable, logger: logger, progress: progress.show)
                        progress.clear()
                        printTable(rawReport, label: "raw libzmq")
                        step.raw.append(rawReport)
                    }
                }
                step.summarize()
                printSummary(step)
                steps.append(step)
            }
        }
        if steps.count > 1 { printCurve(steps) }
        let document = BenchDocument(environment: environment, agents: probes.isEmpty ? nil : probes, steps: steps)
        try write(document)
        var failures: [String] = steps.flatMap(\.mesh).flatMap { $0.missing.map { "no result from \($0)" } }
        for result in steps.flatMap(\.mesh).flatMap(\.subscribers) {
            if let maxLoss, result.lost > maxLoss { failures.append("\(result.node) lost \(result.lost) (> \(maxLoss))") }
            if let maxDuplicates, result.duplicates > maxDuplicates { failures.append("\(result.node) got \(result.duplicates) duplicates (> \(maxDuplicates))") }
        }
        for failure in failures { printError("FAILED: \(failure)") }
        if !failures.isEmpty { throw ExitCode.failure }
    }

    /// Writes `--json` and `--svg`, when asked for.
    private func write(_ document: BenchDocument) throws {
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            try encoder.encode(document).write(to: URL(fileURLWithPath: json))
        }
        if let svg {
            try Data(BenchFigures.chart(document).svg().utf8).write(to: URL(fileURLWithPath: svg))
        }
    }

    /// The saturation rate of `plan` (mesh or raw): doubling from `start` until a probe fails,
    /// then halving the gap between the best passing and the worst failing rate until they are
    /// within 5% of each other.
    private func findSaturation(
        _ plan: BenchCoordinator.Plan, from start: Double, label: String, logger: Logger, executable: URL
    ) throws -> SaturationSearch.Result {
        var result = SaturationSearch.Result()
        func probe(_ rate: Double) throws -> Bool {
            var probePlan = plan
            probePlan.rate = rate
            let report = try BenchCoordinator.run(probePlan, executable: executable, logger: logger)
            let slowest = report.subscribers.map(\.throughput).min() ?? 0
            let lost = report.subscribers.map(\.lost).max() ?? 0
            let passed = report.missing.isEmpty && report.subscribers.count == plan.subscribers && lost == 0
                && slowest >= 0.95 * rate * Double(plan.publishers)
            result.probes.append(.init(rate: rate, passed: passed, lost: lost, slowestThroughput: slowest))
            print(String(format: "[%@] probe %@ per publisher: %@ (slowest node %.0f events/s, lost %llu)",
                         label, BenchStep.rateText(rate), passed ? "keeps pace" : "falls behind", slowest, lost))
            return passed
        }
        var good: Double?
        var bad: Double?
        var rate = start
        while bad == nil && result.probes.count < 12 {
            if try probe(rate) { good = rate; rate *= 2 } else { bad = rate }
        }
        while let low = good, let high = bad, high / low > 1.05, result.probes.count < 20 {
            let middle = ((low + high) / 2).rounded()
            if try probe(middle) { good = middle } else { bad = middle }
        }
        if good == nil, let high = bad {
            // Even the first rate failed: halve down until one passes.
            rate = high / 2
            while good == nil && rate >= 1 && result.probes.count < 20 {
                if try probe(rate) { good = rate } else { rate /= 2 }
            }
        }
        result.rate = good
        return result
    }

    private func printSaturation(_ search: SaturationSearch) {
        let round = `repeat` > 1 ? " (round \(search.round) of \(`repeat`))" : ""
        printSaturationLine(
            "saturation \(publishers) → \(search.subscribers)\(round)", mesh: search.mesh.rate, raw: search.raw?.rate,
            ratio: search.ratio)
    }

    private func printSaturationSummary(_ summary: SaturationSummary) {
        printSaturationLine(
            "saturation \(publishers) → \(summary.subscribers) over \(summary.rounds) rounds (medians)",
            mesh: summary.meshRate, raw: summary.rawRate, ratio: summary.ratio, rounds: summary.ratios)
    }

    /// One line of a saturation report: the rates found ("not found" for none), and with
    /// `--raw` the raw rate, the mesh/raw ratio and the ratio of each round.
    private func printSaturationLine(_ heading: String, mesh: Double?, raw rawRate: Double?, ratio: Double?, rounds: [Double] = []) {
        func found(_ rate: Double?) -> String { rate.map { BenchStep.rateText($0) } ?? "not found" }
        var line = "\(heading): mesh \(found(mesh)) per publisher"
        if raw {
            line += ", raw libzmq \(found(rawRate))"
            if let ratio {
                line += String(format: ", mesh/raw %.2f", ratio)
                if !rounds.isEmpty { line += " (rounds: " + rounds.map { String(format: "%.2f", $0) }.joined(separator: ", ") + ")" }
            }
        }
        print(line)
    }

    private func printTable(_ report: BenchCoordinator.Report, label: String) {
        let plan = report.plan
        let sent = report.published.values.reduce(0, +)
        let amount = plan.durationSeconds.map { "for \(format($0)) s" } ?? "\(plan.count) events"
        let path = plan.topology == .peer ? "peer topology (no broker)" : "\(plan.brokers) broker(s)"
        print("")
        print("[\(label)] fan-out \(plan.publishers) → \(plan.subscribers), \(amount) of \(plan.payloadBytes) B per publisher at \(BenchStep.rateText(plan.rate)), \(path), HWM \(plan.highWaterMark), warm-up \(format(plan.warmupSeconds)) s; \(sent) sent in \(String(format: "%.2f", report.seconds)) s")
        let agentWidth = report.subscribers.compactMap(\.agent).map(\.count).max().map { max($0, 5) }
        print("node     " + (agentWidth.map { "agent".padding(to: $0) + " " } ?? "")
              + "received   lost   dup    ooo   events/s     p50 µs   p90 µs   p99 µs   p99.9 µs max µs   mesh lost/dup   RSS MiB start/peak/end  steady Δ")
        for result in report.subscribers {
            let latency = result.latencyMicroseconds
            let steady = result.steadyMemory().map { String(format: "%.1f", $0.high - $0.low) } ?? "-"
            let row = [result.node.padding(to: 8)] + (agentWidth.map { [(result.agent ?? "-").padding(to: $0)] } ?? []) + [
                String(result.received).padding(to: 10), String(result.lost).padding(to: 6),
                String(result.duplicates).padding(to: 6), String(result.outOfOrder).padding(to: 5),
                String(format: "%.0f", result.throughput).padding(to: 12),
                String(format: "%.0f", latency["p50"] ?? 0).padding(to: 8), String(format: "%.0f", latency["p90"] ?? 0).padding(to: 8),
                String(format: "%.0f", latency["p99"] ?? 0).padding(to: 8), String(format: "%.0f", latency["p99.9"] ?? 0).padding(to: 8),
                String(format: "%.0f", latency["max"] ?? 0).padding(to: 8),
                "\(result.meshLost)/\(result.meshDuplicates)".padding(to: 15),
                String(format: "%.1f/%.1f/%.1f", result.rssMiB["start"] ?? 0, result.rssMiB["peak"] ?? 0, result.rssMiB["end"] ?? 0).padding(to: 23),
                steady,
            ]
            print(row.joined(separator: " "))
        }
        for missing in report.missing { print("\(missing.padding(to: 8)) (no result)") }
        if let slowest = report.subscribers.map(\.throughput).min() {
            let total = report.subscribers.map(\.throughput).reduce(0, +)
            print("headline: \(String(format: "%.0f", slowest)) events/s at the slowest node, \(String(format: "%.0f", total)) delivered per second in all; latency on \(report.clock.systemName)")
        }
    }

    private func printSummary(_ step: BenchStep) {
        guard let summary = step.summary else { return }
        var line = String(format: "step %@ → %d at %@: over %d run(s) (medians) throughput at the slowest node mesh %.0f events/s, loss %llu, p99 %.0f µs",
                          "\(publishers)", step.subscribers, BenchStep.rateText(step.rate), step.mesh.count,
                          summary.meshThroughput, summary.meshLost, summary.meshP99Microseconds)
        if raw {
            line += String(format: "; raw %.0f events/s, loss %llu, p99 %.0f µs; mesh/raw throughput %.2f, p99 %.2f",
                           summary.rawThroughput ?? 0, summary.rawLost ?? 0, summary.rawP99Microseconds ?? 0,
                           summary.throughputRatio ?? 0, summary.p99Ratio ?? 0)
        }
        print(line)
    }

    private func printCurve(_ steps: [BenchStep]) {
        print("")
        print("curve (medians; ev/s: throughput at the slowest node; total: delivered per second over every subscriber)")
        print("subs  rate       mesh ev/s   mesh total  mesh lost  mesh p99 µs" + (raw ? "  raw ev/s    raw total   raw lost   raw p99 µs  ratio ev/s  ratio p99" : ""))
        for step in steps {
            guard let summary = step.summary else { continue }
            var row = [
                String(step.subscribers).padding(to: 5), BenchStep.rateText(step.rate).padding(to: 10),
                String(format: "%.0f", summary.meshThroughput).padding(to: 11), String(format: "%.0f", summary.meshTotalThroughput).padding(to: 11),
                String(summary.meshLost).padding(to: 10), String(format: "%.0f", summary.meshP99Microseconds).padding(to: 12),
            ]
            if raw {
                row += [
                    String(format: "%.0f", summary.rawThroughput ?? 0).padding(to: 11), String(format: "%.0f", summary.rawTotalThroughput ?? 0).padding(to: 11),
                    String(summary.rawLost ?? 0).padding(to: 10),
                    String(format: "%.0f", summary.rawP99Microseconds ?? 0).padding(to: 11),
                    String(format: "%.2f", summary.throughputRatio ?? 0).padding(to: 11), String(format: "%.2f", summary.p99Ratio ?? 0),
                ]
            }
            print(row.joined(separator: " "))
        }
    }

    private func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// The live progress line on stderr: redrawn in place on a terminal, a plain line every 10 s
/// otherwise.
final class ProgressLine {
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private var drawn = false
    private var lastPlain = -10.0
    private var lastReceived: UInt64 = 0
    private var lastElapsed = 0.0

    func show(_ progress: BenchCoordinator.Progress) {
        // What stdout holds first, so that the tables and this line interleave in order.
        fflush(nil)
        let interval = progress.elapsedSeconds - lastElapsed
        let rate = interval > 0 && progress.received >= lastReceived ? Double(progress.received - lastReceived) / interval : 0
        lastElapsed = progress.elapsedSeconds
        lastReceived = progress.received
        let text = String(format: "%6.1f s  received %llu (%.0f events/s over %d subscriber(s))  lost so far %llu  duplicates %llu",
                          progress.elapsedSeconds, progress.received, rate, progress.subscribers, progress.gaps, progress.duplicates)
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text).utf8))
            drawn = true
        } else if progress.elapsedSeconds - lastPlain >= 10 {
            lastPlain = progress.elapsedSeconds
            FileHandle.standardError.write(Data(("progress " + text.trimmingCharacters(in: .whitespaces) + "\n").utf8))
        }
    }

    /// Ends a run: clears the line on a terminal.
    func clear() {
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
        lastPlain = -10
        lastReceived = 0
        lastElapsed = 0
    }
}

/// One point of a sweep: a subscriber count and a rate, with every run made of it.
struct BenchStep: Encodable {
    /// Medians over the step's runs (the slowest node's throughput, the worst node's p99 and
    /// loss of each run), and the mesh/raw ratios.
    struct Summary: Encodable {
        var meshThroughput: Double
        /// Events delivered per second, summed over the subscribers.
        var meshTotalThroughput: Double = 0
        var meshLost: UInt64
        var meshP99Microseconds: Double
        var rawThroughput: Double?
        var rawTotalThroughput: Double?
        var rawLost: UInt64?
        var rawP99Microseconds: Double?
        var throughputRatio: Double?
        var p99Ratio: Double?
    }

    var subscribers: Int
    /// Events per second per publisher; `nil` for as fast as possible.
    var rate: Double?
    var mesh: [BenchCoordinator.Report] = []
    var raw: [BenchCoordinator.Report] = []
    var summary: Summary?

    init(subscribers: Int, rate: Double?) {
        self.subscribers = subscribers
        self.rate = rate
    }

    static func rateText(_ rate: Double?) -> String {
        guard let rate else { return "max" }
        return rate == rate.rounded() ? "\(Int(rate))/s" : String(format: "%.1f/s", rate)
    }

    mutating func summarize() {
        let median = Statistics.median
        func throughput(_ reports: [BenchCoordinator.Report]) -> Double {
            median(reports.map { $0.subscribers.map(\.throughput).min() ?? 0 })
        }
        func p99(_ reports: [BenchCoordinator.Report]) -> Double {
            median(reports.map { $0.subscribers.map { $0.latencyMicroseconds["p99"] ?? 0 }.max() ?? 0 })
        }
        func lost(_ reports: [BenchCoordinator.Report]) -> UInt64 {
            UInt64(median(reports.map { Double($0.subscribers.map(\.lost).max() ?? 0) }))
        }
        func total(_ reports: [BenchCoordinator.Report]) -> Double {
            median(reports.map { $0.subscribers.map(\.throughput).reduce(0, +) })
        }
        var summary = Summary(meshThroughput: throughput(mesh), meshLost: lost(mesh), meshP99Microseconds: p99(mesh))
        summary.meshTotalThroughput = total(mesh)
        if !raw.isEmpty {
            summary.rawThroughput = throughput(raw)
            summary.rawTotalThroughput = total(raw)
            summary.rawLost = lost(raw)
            summary.rawP99Microseconds = p99(raw)
            summary.throughputRatio = summary.rawThroughput! > 0 ? summary.meshThroughput / summary.rawThroughput! : nil
            summary.p99Ratio = summary.rawP99Microseconds! > 0 ? summary.meshP99Microseconds / summary.rawP99Microseconds! : nil
        }
        self.summary = summary
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
    @Option(name: .customLong("batch-threshold")) var batchThreshold = MeshConfiguration.defaultBatchingThreshold
    @Option var count = 10_000
    @Option var duration: Double?
    @Option var warmup: Double = 0
    @Option var rate: Double?
    @Option var size = 256
    @Option var publishers = 1
    @Option(name: .customLong("work-us")) var workMicroseconds = 0
    @Option var bind: String?
    @Option(name: .customLong("peer")) var peers: [String] = []
    @Flag var raw = false
    @Option var clock = "monotonic"
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard BenchWorker.Role(rawValue: role) != nil else { throw ValidationError("--role must be publisher or subscriber") }
        guard BenchClock(rawValue: clock) != nil else { throw ValidationError("--clock must be monotonic or realtime") }
        for text in brokers where BrokerAddress(text) == nil { throw ValidationError("'\(text)' is not a broker") }
    }

    func run() throws {
        let logger = try logging.makeLogger("mesh.bench.worker")
        var mesh = MeshConfiguration(nodeID: name, brokers: brokers.compactMap(BrokerAddress.init), logger: logger)
        mesh.sendHighWaterMark = hwm
        mesh.receiveHighWaterMark = hwm
        mesh.dedupEnabled = dedup == "on"
        mesh.batchingThreshold = batchThreshold
        mesh.heartbeatIntervalMilliseconds = 200
        // The publisher's outbox holds a whole count-based run; a timed run at full speed is
        // bounded by the send HWM and the block policy instead.
        mesh.outboxCapacity = max(mesh.outboxCapacity, duration == nil ? count + 16 : 0)
        if !raw {
            mesh.bindEndpoint = bind
            mesh.peers = peers
        }
        var options = BenchWorker.Options(role: BenchWorker.Role(rawValue: role)!, name: name, controlEndpoint: control, mesh: mesh)
        options.count = count
        options.durationSeconds = duration
        options.warmupSeconds = warmup
        if raw {
            options.rawBindEndpoint = bind
            options.rawPeers = peers
        }
        options.rate = rate
        options.payloadBytes = size
        options.publishers = publishers
        options.workMicroseconds = workMicroseconds
        options.raw = raw
        options.clock = BenchClock(rawValue: clock) ?? .monotonic
        try BenchWorker.run(options)
    }
}

/// The JSON written by `--json`: what the run ran on, then every step of the sweep (one
/// without a sweep) with each of its mesh and raw runs and their medians.
struct BenchDocument: Encodable {
    var environment: BenchEnvironment
    /// With `--agents`: each agent as the first ping found it.
    var agents: [BenchCoordinator.AgentProbe]?
    var steps: [BenchStep]
    /// With `--saturation`: each subscriber count's search (one per round with `--repeat`).
    var saturation: [SaturationSearch]?
    /// With `--saturation --repeat N` (N > 1): each subscriber count's medians over its rounds.
    var saturationSummary: [SaturationSummary]?
}

/// A search for the saturation rate (`--saturation`), mesh and raw.
struct SaturationSearch: Encodable {
    /// One kind's search: every probe, and the highest rate that kept pace with no loss.
    struct Result: Encodable {
        struct Probe: Encodable {
            var rate: Double
            var passed: Bool
            var lost: UInt64
            var slowestThroughput: Double
        }
        var rate: Double?
        var probes: [Probe] = []
    }

    var subscribers: Int
    /// Which round of `--repeat` this search was (from 1).
    var round: Int
    var mesh = Result()
    var raw: Result?

    /// Mesh saturation over raw saturation.
    var ratio: Double? {
        guard let mesh = mesh.rate, let raw = raw?.rate, raw > 0 else { return nil }
        return mesh / raw
    }

    init(subscribers: Int, round: Int = 1) {
        self.subscribers = subscribers
        self.round = round
    }
}

/// The medians of one subscriber count's saturation searches over the rounds of `--repeat`.
struct SaturationSummary: Encodable {
    var subscribers: Int
    var rounds: Int
    /// Median mesh saturation rate over the rounds that found one.
    var meshRate: Double?
    /// Median raw libzmq saturation rate over the rounds that found one.
    var rawRate: Double?
    /// Each round's mesh/raw ratio (rounds where both searches found a rate).
    var ratios: [Double]
    /// The median of `ratios`: each ratio compares two searches of the same round.
    var ratio: Double?

    init(_ searches: [SaturationSearch]) {
        subscribers = searches.first?.subscribers ?? 0
        rounds = searches.count
        let mesh = searches.compactMap(\.mesh.rate)
        let raw = searches.compactMap { $0.raw?.rate }
        meshRate = mesh.isEmpty ? nil : Statistics.median(mesh)
        rawRate = raw.isEmpty ? nil : Statistics.median(raw)
        ratios = searches.compactMap(\.ratio)
        ratio = ratios.isEmpty ? nil : Statistics.median(ratios)
    }
}
