#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import EventBusWorkloads

// A plain driver for profilers (valgrind, perf, ltrace): runs one workload of EventBusWorkloads
// outside package-benchmark, so that nothing but the workload is on the stack.
//
//     swift build -c release --product EventBusProfile
//     .build/release/EventBusProfile publish_1_subscriber 1000000
//
// It prepares and verifies the workload, warms it up, then times `events` events with the
// continuous clock and prints the mean time per event.

let arguments = CommandLine.arguments.dropFirst()
guard let name = arguments.first, let workload = BusWorkload.named(name) else {
    print("usage: EventBusProfile WORKLOAD [EVENTS]")
    print("workloads:")
    for workload in BusWorkload.all + BusWorkload.meshPaths { print("  \(workload.name)  \(workload.summary)") }
    exit(2)
}
let events = arguments.dropFirst().first.flatMap { Int($0) } ?? 1_000_000

let prepared = workload.prepare()
do {
    try prepared.verify()
} catch {
    print("\(error)")
    exit(1)
}
prepared.run(iterations: min(events, 10_000))

let clock = ContinuousClock()
let start = clock.now
prepared.run(iterations: events)
let elapsed = clock.now - start
let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
let tenths = (nanoseconds / Double(events) * 10).rounded()
print("\(workload.name): \(events) events, \(tenths / 10) ns/event (mean)")
