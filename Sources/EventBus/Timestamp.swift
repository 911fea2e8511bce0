#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A wall-clock instant with nanosecond resolution: nanoseconds since the Unix epoch (UTC).
///
/// Events carry one as their creation time. Reading the clock costs one `clock_gettime`
/// (a vDSO call on Linux, not a system call).
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanosecondsSinceEpoch: Int64

    /// Makes a timestamp from nanoseconds since the Unix epoch.
    /// - Parameter nanosecondsSinceEpoch: nanoseconds since 1970-01-01T00:00:00Z.
    public init(nanosecondsSinceEpoch: Int64) {
        self.nanosecondsSinceEpoch = nanosecondsSinceEpoch
    }

    /// The current wall-clock time.
    public static func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(nanosecondsSinceEpoch: Int64(spec.tv_sec) &* 1_000_000_000 &+ Int64(spec.tv_nsec))
    }

    /// Whole milliseconds since the Unix epoch (rounded down).
    public var millisecondsSinceEpoch: Int64 {
        nanosecondsSinceEpoch >= 0
            ? nanosecondsSinceEpoch / 1_000_000
            : (nanosecondsSinceEpoch - 999_999) / 1_000_000
    }

    /// Seconds since the Unix epoch as a `Double` (microsecond precision for current dates).
    public var secondsSinceEpoch: Double {
        Double(nanosecondsSinceEpoch) / 1e9
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool {
        lhs.nanosecondsSinceEpoch < rhs.nanosecondsSinceEpoch
    }

    /// The instant as `seconds.nanoseconds` since the epoch, e.g. `1764398469.123456789`.
    public var description: String {
        let seconds = nanosecondsSinceEpoch >= 0
            ? nanosecondsSinceEpoch / 1_000_000_000
            : (nanosecondsSinceEpoch - 999_999_999) / 1_000_000_000
        let fraction = nanosecondsSinceEpoch - seconds * 1_000_000_000
        let digits = String(fraction)
        return "\(seconds)." + String(repeating: "0", count: 9 - digits.count) + digits
    }
}
