import Benchmark
import EventBusWorkloads

// One benchmark per workload of EventBusWorkloads, the baseline included, so every run measures
// the bus beside a plain stored-closure call on the same machine at the same moment.
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

    for workload in BusWorkload.all {
        Benchmark(workload.name) { benchmark, prepared in
            prepared.run(iterations: benchmark.scaledIterations.count)
        } setup: {
            let prepared = workload.prepare()
            // A workload whose bus does not do the work it claims (a conversion that fails, a
            // handler never called) fails here instead of producing a figure.
            try prepared.verify()
            return prepared
        }
    }
}
