import ArgumentParser
import EventMesh
#if canImport(Glibc)
import Glibc
#endif

/// `mesh stats ENDPOINT`: print a node's or broker's stats as JSON.
struct StatsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Print the stats of a node or broker, as JSON, from its control endpoint.",
        discussion: """
            A node reports what it published, sent, delivered, and per origin the duplicates, \
            lost and too-old events; malformed messages by class; queue drops; history and dedup \
            sizes. A broker reports what it forwarded. --history lists a node's history instead.

            Examples:
              mesh stats tcp://127.0.0.1:5557
              mesh stats tcp://127.0.0.1:7001 --history
            """
    )

    @Argument(help: ArgumentHelp("The control endpoint, e.g. tcp://127.0.0.1:5557.", valueName: "endpoint"))
    var endpoint: String

    @Flag(name: .customLong("history"), help: "List the node's history (id, type, origin node) instead.")
    var history = false

    @Option(name: .customLong("timeout-ms"), help: ArgumentHelp("How long to wait for the reply (default 2000).", valueName: "ms"))
    var timeout: Int = 2000

    func validate() throws {
        if !endpoint.contains("://") { throw ValidationError("'\(endpoint)' is not an endpoint; write e.g. tcp://127.0.0.1:5557") }
        if timeout <= 0 { throw ValidationError("--timeout-ms must be positive") }
    }

    func run() throws {
        do {
            let reply = try ControlClient.request(history ? "history" : "stats", to: endpoint, timeoutMilliseconds: timeout)
            emit(String(decoding: reply, as: UTF8.self))
        } catch {
            printError("mesh stats: \(error)")
            throw ExitCode.failure
        }
    }
}

/// `mesh health ENDPOINT`: exit 0 if healthy.
struct HealthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Exit 0 if a node is ready or a broker is bound, 1 otherwise (for healthchecks).",
        discussion: """
            Examples:
              mesh health tcp://127.0.0.1:5557 && echo broker up
              mesh health tcp://127.0.0.1:7001 --timeout-ms 500
            """
    )

    @Argument(help: ArgumentHelp("The control endpoint.", valueName: "endpoint"))
    var endpoint: String

    @Option(name: .customLong("timeout-ms"), help: ArgumentHelp("How long to wait for the reply (default 2000).", valueName: "ms"))
    var timeout: Int = 2000

    @Flag(name: .shortAndLong, help: "Print nothing; only the exit status tells.")
    var quiet = false

    func validate() throws {
        if !endpoint.contains("://") { throw ValidationError("'\(endpoint)' is not an endpoint; write e.g. tcp://127.0.0.1:5557") }
        if timeout <= 0 { throw ValidationError("--timeout-ms must be positive") }
    }

    func run() throws {
        let reply: [UInt8]
        do {
            reply = try ControlClient.request("health", to: endpoint, timeoutMilliseconds: timeout)
        } catch {
            if !quiet { printError("unhealthy: \(error)") }
            throw ExitCode.failure
        }
        let text = String(decoding: reply, as: UTF8.self)
        let healthy = text.contains("\"healthy\":true")
        if !quiet { emit(text) }
        if !healthy { throw ExitCode.failure }
    }
}

/// Writes a line to stderr.
func printError(_ line: String) {
    var standardError = StandardError()
    print(line, to: &standardError)
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var text = string
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
