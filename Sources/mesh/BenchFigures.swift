import EventMesh

/// The chart `mesh bench fanout --svg` draws from its report: for one step, throughput per
/// node and each node's latency percentiles; for a sweep, the slowest node's throughput, the
/// total delivered per second over every subscriber, and the worst p99 per step; for a saturation search, every probe. Mesh solid, raw libzmq dashed;
/// where a step ran more than once, each figure is the median over its runs.
enum BenchFigures {
    static let percentiles = ["p50", "p90", "p99", "p99.9", "max"]

    static func chart(_ document: BenchDocument) -> BenchChart {
        let subtitle = document.environment.summaryLines
        if let searches = document.saturation {
            return BenchChart(title: "mesh bench fanout: saturation search", subtitle: subtitle, panels: [saturationPanel(searches)])
        }
        if document.steps.count == 1, let step = document.steps.first {
            return BenchChart(title: "mesh bench fanout", subtitle: subtitle, panels: nodePanels(step))
        }
        return BenchChart(title: "mesh bench fanout: sweep", subtitle: subtitle, panels: sweepPanels(document.steps))
    }

    /// The nodes of a kind's runs, in order of appearance.
    private static func nodes(_ reports: [BenchCoordinator.Report]) -> [String] {
        var seen = Set<String>()
        return reports.flatMap { $0.subscribers.map(\.node) }.filter { seen.insert($0).inserted }
    }

    /// The median of one node's figure over a kind's runs.
    private static func median(_ reports: [BenchCoordinator.Report], node: String, _ figure: (BenchControl.SubscriberResult) -> Double?) -> Double {
        Statistics.median(reports.compactMap { report in report.subscribers.first { $0.node == node }.flatMap(figure) })
    }

    private static func nodePanels(_ step: BenchStep) -> [BenchChart.Panel] {
        var throughput: [BenchChart.Series] = []
        var latency: [BenchChart.Series] = []
        for (kind, reports, line) in [("mesh", step.mesh, BenchChart.LineStyle.solid), ("raw", step.raw, .dashed)] where !reports.isEmpty {
            throughput.append(BenchChart.Series(
                name: kind, group: kind, line: line,
                points: nodes(reports).map { node in BenchChart.Point(label: node, y: median(reports, node: node, \.throughput)) }))
            for node in nodes(reports) {
                let points = percentiles.map { percentile in
                    BenchChart.Point(label: percentile, y: median(reports, node: node) { $0.latencyMicroseconds[percentile] })
                }
                latency.append(BenchChart.Series(name: "\(node) \(kind)", group: node, line: line, points: points))
            }
        }
        return [
            BenchChart.Panel(title: "Throughput per node (after warm-up)", xLabel: "subscriber node", yLabel: "events/s",
                             categoricalX: true, mark: .bars, series: throughput),
            BenchChart.Panel(title: "End-to-end latency percentiles", xLabel: "percentile", yLabel: "latency (µs)",
                             categoricalX: true, logarithmicY: true, series: latency),
        ]
    }

    private static func sweepPanels(_ steps: [BenchStep]) -> [BenchChart.Panel] {
        let rates = Set(steps.map(\.rate))
        let counts = Set(steps.map(\.subscribers))
        // One variable sweeps: a numeric axis (rates, or subscriber counts); both: one label per step.
        let label: (BenchStep) -> String = { step in
            counts.count > 1 && rates.count > 1 ? "\(step.subscribers) @ \(BenchStep.rateText(step.rate))"
                : rates.count > 1 ? BenchStep.rateText(step.rate) : "\(step.subscribers)"
        }
        let xLabel = counts.count > 1 && rates.count > 1 ? "subscribers @ rate per publisher"
            : rates.count > 1 ? "rate per publisher" : "subscribers"
        var throughput: [BenchChart.Series] = []
        var total: [BenchChart.Series] = []
        var latency: [BenchChart.Series] = []
        for (kind, line, raw) in [("mesh", BenchChart.LineStyle.solid, false), ("raw", .dashed, true)] {
            let summaries = steps.compactMap { step in step.summary.map { (step, $0) } }
            if raw && summaries.allSatisfy({ $0.1.rawThroughput == nil }) { continue }
            throughput.append(BenchChart.Series(name: kind, group: kind, line: line, points: summaries.map { step, summary in
                BenchChart.Point(label: label(step), y: raw ? summary.rawThroughput ?? 0 : summary.meshThroughput)
            }))
            total.append(BenchChart.Series(name: kind, group: kind, line: line, points: summaries.map { step, summary in
                BenchChart.Point(label: label(step), y: raw ? summary.rawTotalThroughput ?? 0 : summary.meshTotalThroughput)
            }))
            latency.append(BenchChart.Series(name: kind, group: kind, line: line, points: summaries.map { step, summary in
                BenchChart.Point(label: label(step), y: raw ? summary.rawP99Microseconds ?? 0 : summary.meshP99Microseconds)
            }))
        }
        return [
            BenchChart.Panel(title: "Throughput at the slowest node, per step", xLabel: xLabel, yLabel: "events/s",
                             categoricalX: true, series: throughput),
            BenchChart.Panel(title: "Delivered per second over every subscriber, per step", xLabel: xLabel, yLabel: "events/s",
                             categoricalX: true, series: total),
            BenchChart.Panel(title: "p99 latency at the worst node, per step", xLabel: xLabel, yLabel: "latency (µs)",
                             categoricalX: true, logarithmicY: true, series: latency),
        ]
    }

    private static func saturationPanel(_ searches: [SaturationSearch]) -> BenchChart.Panel {
        var series: [BenchChart.Series] = []
        for search in searches {
            for (kind, result, line) in [("mesh", Optional(search.mesh), BenchChart.LineStyle.solid), ("raw", search.raw, .dashed)] {
                guard let result else { continue }
                let points = result.probes.sorted { $0.rate < $1.rate }.map { BenchChart.Point(x: $0.rate, y: $0.slowestThroughput) }
                let round = searches.contains { $0.round > 1 } ? " #\(search.round)" : ""
                series.append(BenchChart.Series(name: "1 → \(search.subscribers) \(kind)\(round)", group: "\(search.subscribers)", line: line, points: points))
            }
        }
        return BenchChart.Panel(title: "Saturation probes: delivered against offered rate", xLabel: "offered rate per publisher (events/s)",
                                yLabel: "slowest node (events/s)", logarithmicX: true, logarithmicY: true, series: series)
    }
}
