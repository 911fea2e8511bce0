import ArgumentParser

/// The `mesh` command-line tool.
@main
struct Mesh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mesh",
        abstract: "EventMesh: typed publish/subscribe events, in process and across machines.",
        discussion: """
            Examples:
              mesh demo            run the in-process integration demo
              mesh demo --quiet    only print the summary
            """,
        version: "0.1.0",
        subcommands: [DemoCommand.self]
    )
}
