public import Foundation
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a load test ran on and how it was started, so that a result describes itself.
public struct BenchEnvironment: Codable, Sendable {
    /// The command line, as typed.
    public var command: String
    /// The git commit of the source the executable was built from (`-dirty` if the tree had
    /// changes), `MESH_COMMIT` if set, or `unknown`.
    public var commit: String
    /// EventMesh's version.
    public var meshVersion: String
    /// The Swift compiler the executable was built with.
    public var swift: String
    /// `debug` or `release`.
    public var build: String
    /// The libzmq loaded at run time.
    public var libzmq: String
    /// Kernel name, release and machine (`uname`).
    public var system: String
    /// The host's name.
    public var host: String
    /// The CPU model (`/proc/cpuinfo`), if known.
    public var cpuModel: String
    /// Online CPUs.
    public var cpus: Int
    /// When the run started (ISO 8601, UTC).
    public var date: String
    /// The clock latency is measured on.
    public var latencyClock: String

    /// Describes this process's environment.
    /// - Parameters:
    ///   - command: the command line to record.
    ///   - meshVersion: EventMesh's version.
    ///   - executable: the running executable, whose folder is asked for the git commit.
    public static func current(command: String, meshVersion: String, executable: URL) -> BenchEnvironment {
        var names = utsname()
        uname(&names)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let version = ZMQContext.version
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        return BenchEnvironment(
            command: command,
            commit: ProcessInfo.processInfo.environment["MESH_COMMIT"] ?? gitCommit(near: executable) ?? "unknown",
            meshVersion: meshVersion,
            swift: compilerVersion,
            build: build,
            libzmq: "\(version.major).\(version.minor).\(version.patch)",
            system: "\(text(names.sysname)) \(text(names.release)) \(text(names.machine))",
            host: text(names.nodename),
            cpuModel: cpuModel() ?? "unknown",
            cpus: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))),
            date: ISO8601DateFormatter().string(from: Date()),
            latencyClock: "CLOCK_MONOTONIC, shared by every process on this host")
    }

    /// The lines a table starts with.
    public var summaryLines: [String] {
        [
            "command: \(command)",
            "commit \(commit), EventMesh \(meshVersion), \(swift) (\(build)), libzmq \(libzmq)",
            "host \(host): \(cpus) CPU(s), \(cpuModel), \(system); \(date)",
            "latency clock: \(latencyClock)",
        ]
    }

    private static var compilerVersion: String {
        #if compiler(>=6.4)
        "Swift 6.4 or later"
        #elseif compiler(>=6.3)
        "Swift 6.3"
        #elseif compiler(>=6.2)
        "Swift 6.2"
        #elseif compiler(>=6.1)
        "Swift 6.1"
        #else
        "Swift 6.0"
        #endif
    }

    private static func cpuModel() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        let line = text.split(separator: "\n").first { $0.hasPrefix("model name") }
        return line?.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// `git rev-parse` in the executable's folder (a build folder inside the checkout).
    private static func gitCommit(near executable: URL) -> String? {
        let folder = executable.deletingLastPathComponent()
        guard let commit = git(["rev-parse", "--short=12", "HEAD"], in: folder), !commit.isEmpty else { return nil }
        let changes = git(["status", "--porcelain", "--untracked-files=no"], in: folder) ?? ""
        return changes.isEmpty ? commit : commit + "-dirty"
    }

    private static func git(_ arguments: [String], in folder: URL) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", folder.path] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
