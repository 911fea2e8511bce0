import Benchmark
import EventBusWorkloads

// One benchmark per workload of EventBusWorkloads, the baselines included, so every run measures
// the bus beside a plain stored-closure call, and the wire codec beside Foundation's JSON coder,
// on the same machine at the same moment.
//
// An iteration of a benchmark runs 1000 events (`scalingFactor: .kilo`); package-benchmark
// divides the time and allocation counts by 1000, so every figure it prints is per event
// (`--scale` shows them per iteration instead). CPU time is not collected: package-benchmark
// samples it at 10 ms granularity, far coarser than one iteration.
// Run with `Benchmarks/run.sh` or `cd Benchmarks && swift package benchmark`.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        warmupIterations: 20,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 20_000
    )

    // The wire workloads also report the size of one encoded event, as a custom metric.
    let wireBytes = BenchmarkMetric.custom("wire bytes", polarity: .prefersSmaller, useScalingFactor: false)

    for workload in BusWorkload.all {
        let bytesPerEvent = workload.prepare().bytesPerEvent
        var configuration = Benchmark.defaultConfiguration
        if bytesPerEvent != nil { configuration.metrics.append(wireBytes) }
        Benchmark(workload.name, configuration: configuration) { (benchmark: Benchmark, prepared: PreparedWorkload) in
            prepared.run(iterations: benchmark.scaledIterations.count)
            if let bytesPerEvent { benchmark.measurement(wireBytes, bytesPerEvent) }
        } setup: {
            let prepared = workload.prepare()
            // A workload whose bus does not do the work it claims (a conversion that fails, a
            // handler never called) fails here instead of producing a figure.
            try prepared.verify()
            return prepared
        }
    }
}
