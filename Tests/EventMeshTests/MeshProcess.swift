import EventBus
import Foundation
import Testing

/// The built `mesh` executable: next to the test bundle (SwiftPM builds every product before
/// running tests), or MESH_BINARY.
func meshBinary() throws -> URL {
    if let path = ProcessInfo.processInfo.environment["MESH_BINARY"] { return URL(fileURLWithPath: path) }
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // The runner may be inside the .xctest bundle on some platforms.
    for _ in 0..<3 {
        let candidate = directory.appendingPathComponent("mesh")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory.deleteLastPathComponent()
    }
    throw MeshProcessError("the mesh executable was not found next to \(CommandLine.arguments[0]); run `swift build` first or set MESH_BINARY")
}

struct MeshProcessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `mesh` child process whose stdout lines are collected as they arrive.
final class MeshProcess: @unchecked Sendable {
    // @unchecked: `process` is used from the test's thread only; lines are behind a lock.
    let process = Process()
    let lines = LockedValueBox<[String]>([])
    let errorLines = LockedValueBox<[String]>([])
    private let partial = LockedValueBox<[UInt8]>([])
    private let errorPartial = LockedValueBox<[UInt8]>([])
    let arguments: [String]

    init(_ arguments: [String], environment: [String: String] = [:]) throws {
        self.arguments = arguments
        process.executableURL = try meshBinary()
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["MESH_LOG_LEVEL"] = env["MESH_LOG_LEVEL"] ?? "warning"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let output = Pipe()
        process.standardOutput = output
        let errors = Pipe()
        process.standardError = errors
        Self.collect(output, into: lines, partial: partial)
        Self.collect(errors, into: errorLines, partial: errorPartial)
        try process.run()
    }

    var output: [String] { lines.withLockedValue { $0 } }
    var errorOutput: [String] { errorLines.withLockedValue { $0 } }

    /// Splits what `pipe` delivers into lines, appended to `lines`.
    private static func collect(_ pipe: Pipe, into lines: LockedValueBox<[String]>, partial: LockedValueBox<[UInt8]>) {
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            guard !data.isEmpty else {
                handle.readabilityHandler = nil
                let rest = partial.withLockedValue { buffer -> String? in
                    defer { buffer = [] }
                    return buffer.isEmpty ? nil : String(decoding: buffer, as: UTF8.self)
                }
                if let rest { lines.withLockedValue { $0.append(rest) } }
                return
            }
            let complete = partial.withLockedValue { buffer -> [String] in
                buffer.append(contentsOf: data)
                var found: [String] = []
                while let newline = buffer.firstIndex(of: 0x0A) {
                    found.append(String(decoding: buffer[..<newline], as: UTF8.self))
                    buffer.removeSubrange(...newline)
                }
                return found
            }
            if !complete.isEmpty { lines.withLockedValue { $0.append(contentsOf: complete) } }
        }
    }

    /// Waits (polling, with a deadline) for a line that satisfies `predicate`.
    func waitForLine(within seconds: Double = 20, where predicate: (String) -> Bool) async -> String? {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let line = output.first(where: predicate) { return line }
            if !process.isRunning, let line = output.first(where: predicate) { return line }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return output.first(where: predicate)
    }

    /// Sends SIGTERM and waits (with a deadline) for the exit.
    /// - Returns: the exit status and how long the exit took, or nil if it did not exit in time.
    func terminate(within seconds: Double = 10) async -> (status: Int32, elapsed: Duration)? {
        let start = ContinuousClock.now
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        guard await waitForExit(within: seconds) else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return (process.terminationStatus, ContinuousClock.now - start)
    }

    /// Waits (polling, with a deadline) for the process to exit.
    func waitForExit(within seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return !process.isRunning
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// Parses one NDJSON line into a dictionary.
func jsonObject(_ line: String) -> [String: Any]? {
    guard let data = line.data(using: .utf8) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

/// `key=value` fields of a line such as `broker publish=tcp://… subscribe=tcp://…`.
func fields(_ line: String) -> [String: String] {
    var result: [String: String] = [:]
    for part in line.split(separator: " ") {
        let pieces = part.split(separator: "=", maxSplits: 1)
        if pieces.count == 2 { result[String(pieces[0])] = String(pieces[1]) }
    }
    return result
}
