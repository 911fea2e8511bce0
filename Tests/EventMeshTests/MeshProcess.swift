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
    /// Wakes waiters when a line arrives or the process exits.
    private let changes = ChangeSignal()
    /// How many of the two pipes (stdout, stderr) have been read to their end.
    private let endedPipes = LockedValueBox(0)
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
        Self.collect(output, into: lines, partial: partial, ended: endedPipes, changes: changes)
        Self.collect(errors, into: errorLines, partial: errorPartial, ended: endedPipes, changes: changes)
        let changes = self.changes
        process.terminationHandler = { _ in changes.signal() }
        try process.run()
    }

    var output: [String] { lines.withLockedValue { $0 } }
    var errorOutput: [String] { errorLines.withLockedValue { $0 } }

    /// Splits what `pipe` delivers into lines, appended to `lines`.
    private static func collect(
        _ pipe: Pipe, into lines: LockedValueBox<[String]>, partial: LockedValueBox<[UInt8]>, ended: LockedValueBox<Int>, changes: ChangeSignal
    ) {
        PipeReader.start(pipe, chunk: { data in
            let complete = partial.withLockedValue { buffer -> [String] in
                buffer.append(contentsOf: data)
                var found: [String] = []
                while let newline = buffer.firstIndex(of: 0x0A) {
                    found.append(String(decoding: buffer[..<newline], as: UTF8.self))
                    buffer.removeSubrange(...newline)
                }
                return found
            }
            if !complete.isEmpty {
                lines.withLockedValue { $0.append(contentsOf: complete) }
                changes.signal()
            }
        }, end: {
            let rest = partial.withLockedValue { buffer -> String? in
                defer { buffer = [] }
                return buffer.isEmpty ? nil : String(decoding: buffer, as: UTF8.self)
            }
            if let rest { lines.withLockedValue { $0.append(rest) } }
            ended.withLockedValue { $0 += 1 }
            changes.signal()
        })
    }

    /// Waits, until a deadline, for a line that satisfies `predicate` (woken by each new line).
    func waitForLine(within seconds: Double = 20, where predicate: @escaping @Sendable (String) -> Bool) async -> String? {
        _ = await waitForOutput(within: seconds) { $0.contains(where: predicate) }
        return output.first(where: predicate)
    }

    /// Waits, until a deadline, for the output so far to satisfy `condition` (woken by each
    /// new line and by the exit).
    /// - Returns: whether it did.
    func waitForOutput(within seconds: Double = 20, until condition: @escaping @Sendable ([String]) -> Bool) async -> Bool {
        await changes.wait(seconds: seconds) { [lines] in condition(lines.withLockedValue { $0 }) }
    }

    /// The events a `mesh node --json` printed, from `lines`.
    static func events(in lines: [String]) -> [[String: Any]] {
        lines.compactMap(jsonObject).filter { $0["kind"] as? String == "event" }.compactMap { $0["event"] as? [String: Any] }
    }

    /// Waits, until a deadline, for a `mesh node --json` to print at least `counts[type]`
    /// events of each type.
    /// - Returns: the events printed by then.
    func waitForEvents(_ counts: [String: Int], within seconds: Double = 30) async -> [[String: Any]] {
        _ = await waitForOutput(within: seconds) { lines in
            let events = Self.events(in: lines)
            return counts.allSatisfy { type, count in events.filter { $0["type"] as? String == type }.count >= count }
        }
        return Self.events(in: output)
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

    /// Waits, until a deadline, for the process to exit (woken by its termination handler), and
    /// then for its output to be read to the end: the exit can be seen before the reading
    /// threads have taken the last lines (at most 5 s more, in case a child of the process still
    /// holds a pipe open).
    /// - Returns: whether the process exited in time.
    func waitForExit(within seconds: Double) async -> Bool {
        let process = self.process
        guard await changes.wait(seconds: seconds, until: { !process.isRunning }) else { return false }
        let endedPipes = self.endedPipes
        _ = await changes.wait(seconds: min(seconds, 5)) { endedPipes.withLockedValue { $0 } == 2 }
        return true
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

/// Lets tasks wait for a condition that other threads make true: each `signal()` re-checks the
/// waiters' conditions; a waiter gives up at its deadline.
final class ChangeSignal: Sendable {
    private struct Waiter {
        let condition: @Sendable () -> Bool
        let continuation: CheckedContinuation<Bool, Never>
    }
    private let waiters = LockedValueBox<[Int: Waiter]>([:])
    private let nextID = LockedValueBox(0)

    /// Re-checks every waiter's condition and resumes those that now hold (and tells
    /// ``Activity``, for `eventually`).
    func signal() {
        Activity.shared.signal()
        let ready = waiters.withLockedValue { waiters -> [CheckedContinuation<Bool, Never>] in
            let done = waiters.filter { $0.value.condition() }
            for id in done.keys { waiters.removeValue(forKey: id) }
            return done.values.map(\.continuation)
        }
        for continuation in ready { continuation.resume(returning: true) }
    }

    /// Waits until `condition` holds (checked now and at each signal) or `seconds` pass.
    /// - Returns: whether the condition held.
    func wait(seconds: Double, until condition: @escaping @Sendable () -> Bool) async -> Bool {
        let id = nextID.withLockedValue { value -> Int in
            value += 1
            return value
        }
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let holds = waiters.withLockedValue { waiters -> Bool in
                if condition() { return true }
                waiters[id] = Waiter(condition: condition, continuation: continuation)
                return false
            }
            if holds {
                continuation.resume(returning: true)
                return
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [waiters] in
                let expired = waiters.withLockedValue { $0.removeValue(forKey: id) }
                expired?.continuation.resume(returning: condition())
            }
        }
    }
}
