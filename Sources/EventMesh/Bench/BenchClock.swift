import FoundationEssentials

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The clock a load test measures latency on: the publisher stamps each event with its
/// scheduled send time on it, and the subscriber subtracts that from its own reading.
public enum BenchClock: String, Sendable, Codable, CaseIterable {
    /// CLOCK_MONOTONIC: exact between processes on one kernel (one host, its containers and
    /// network namespaces), meaningless between machines.
    case monotonic
    /// CLOCK_REALTIME: the wall clock, comparable between machines only as far as their clocks
    /// agree (NTP typically keeps them within a millisecond or less; the coordinator measures it).
    case realtime

    /// The clock's reading in nanoseconds.
    public func now() -> UInt64 {
        var time = timespec()
        clock_gettime(self == .monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    /// Its name as the system calls it.
    public var systemName: String { self == .monotonic ? "CLOCK_MONOTONIC" : "CLOCK_REALTIME" }

    /// This clock's reading minus CLOCK_MONOTONIC's, read once: what turns a scheduled time on
    /// CLOCK_MONOTONIC into one on this clock.
    func offsetFromMonotonic() -> Int64 {
        guard self != .monotonic else { return 0 }
        let before = monotonicNanoseconds()
        let reading = now()
        let after = monotonicNanoseconds()
        return Int64(bitPattern: reading) &- Int64(bitPattern: before / 2 + after / 2)
    }
}

/// Facts about the host a bench process runs on.
enum HostFacts {
    static var hostname: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The kernel's boot id: equal for every process (and container) on one running kernel.
    static var bootID: String {
        guard let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8) else { return "unknown" }
        return String(text.filter { !$0.isWhitespace })
    }

    /// The network namespace, as `/proc/self/ns/net` names it (`net:[4026531840]`).
    static var networkNamespace: String {
        var buffer = [CChar](repeating: 0, count: 128)
        let count = readlink("/proc/self/ns/net", &buffer, buffer.count - 1)
        guard count > 0 else { return "unknown" }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The kernel's clock source (`tsc`, `kvm-clock` …).
    static var clockSource: String {
        guard let text = try? String(contentsOfFile: "/sys/devices/system/clocksource/clocksource0/current_clocksource", encoding: .utf8)
        else { return "unknown" }
        let name = String(text.filter { !$0.isWhitespace })
        return name.isEmpty ? "unknown" : name
    }

    static var pid: Int32 { getpid() }

    static var cores: Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
}
