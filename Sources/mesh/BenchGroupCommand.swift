import ArgumentParser

/// `mesh bench`: load tests.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks: fan-out across processes (loss, duplicates, order, latency and memory per node, beside raw libzmq), the in-process bus, and the wire codec.",
        subcommands: [BenchFanoutCommand.self, BenchAgentCommand.self, BenchLocalCommand.self, BenchCodecCommand.self, BenchWorkerCommand.self]
    )
}
