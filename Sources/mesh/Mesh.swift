import ArgumentParser

/// The `mesh` command-line tool.
@main
struct Mesh: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "EventMesh: typed publish/subscribe events, in process and across machines.",
        discussion: """
            A broker forwards events between nodes; nodes publish, subscribe, deliver each \
            event at most once and count what they miss. Every option of a running command can \
            also come from a MESH_* environment variable. Traffic is not authenticated or \
            encrypted: keep endpoints on a trusted network (the defaults listen on 127.0.0.1).

            Examples:
              mesh demo                  # a broker and three nodes, one process
              mesh broker                # publish :5555, subscribe :5556, control :5557
              mesh tail 'provider.>'     # print provider events as they arrive
              mesh publish provider.connected --data '{"provider": "anthropic"}'
              mesh node --node-id n1 --subscribe '>' --control tcp://127.0.0.1:7001
              mesh stats tcp://127.0.0.1:5557     # stats as JSON
              mesh health tcp://127.0.0.1:7001    # exit 0 if ready
            """,
        version: "0.1.0",
        subcommands: [
            DemoCommand.self, BrokerCommand.self, NodeCommand.self, PublishCommand.self,
            TailCommand.self, StatsCommand.self, HealthCommand.self, RelayCommand.self, BenchCommand.self,
        ]
    )
}
