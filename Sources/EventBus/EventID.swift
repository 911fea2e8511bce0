import Synchronization

/// A 128-bit event identifier, unique across processes and machines and monotonic within a process.
///
/// Ids are UUIDv7-shaped (RFC 9562): 48 bits of Unix milliseconds, the version nibble `7`, a
/// 16-bit per-process counter split around the variant bits, and 58 random bits drawn once per
/// process. Making an id takes no lock and no system call: one atomic compare-and-swap on a
/// process-wide `(milliseconds, counter)` word, which also makes ids strictly increasing within
/// a process even if the wall clock steps back. Two processes collide only if their 58 random
/// bits are equal *and* they mint ids in the same millisecond with the same counter.
///
/// The text form is the canonical lowercase UUID form, `0192f0c4-8a1e-7000-8000-3b1f9d2c4e5a`.
public struct EventID: Sendable, Hashable, Comparable {
    /// The most significant 64 bits.
    public var high: UInt64
    /// The least significant 64 bits.
    public var low: UInt64

    /// Makes an id from its two 64-bit halves (big-endian order: `high` is bytes 0–7).
    /// - Parameters:
    ///   - high: bytes 0–7 of the id, most significant first.
    ///   - low: bytes 8–15 of the id.
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Makes an id from exactly 16 bytes in network (big-endian) order.
    /// - Parameter bytes: the 16 bytes of the id.
    /// - Returns: `nil` if `bytes` does not hold exactly 16 bytes.
    @inlinable
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        guard bytes.count == 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var index = bytes.startIndex
        for _ in 0..<8 {
            high = high << 8 | UInt64(bytes[index])
            bytes.formIndex(after: &index)
        }
        for _ in 0..<8 {
            low = low << 8 | UInt64(bytes[index])
            bytes.formIndex(after: &index)
        }
        self.init(high: high, low: low)
    }

    /// The 16 bytes of the id in network (big-endian) order.
    public var bytes: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(16)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: low >> UInt64(shift))) }
        return out
    }

    /// The Unix time in milliseconds at which the id was minted (its first 48 bits).
    public var milliseconds: Int64 {
        Int64(high >> 16)
    }

    public static func < (lhs: EventID, rhs: EventID) -> Bool {
        (lhs.high, lhs.low) < (rhs.high, rhs.low)
    }

    /// A new id, minted now.
    public init() {
        self = EventID.next(milliseconds: Timestamp.now().millisecondsSinceEpoch)
    }

    /// Mints the next id of this process for a clock reading in Unix milliseconds.
    ///
    /// The result is greater than every id this process minted before, whatever `milliseconds` is.
    /// - Parameter milliseconds: the current Unix time in milliseconds.
    /// - Returns: a fresh id.
    public static func next(milliseconds: Int64) -> EventID {
        let clock = UInt64(clamping: max(0, milliseconds)) & 0xFFFF_FFFF_FFFF
        let floor = clock << 16
        var current = EventIDGenerator.state.load(ordering: .relaxed)
        var candidate: UInt64
        while true {
            candidate = max(floor, current &+ 1)
            let (exchanged, original) = EventIDGenerator.state.compareExchange(
                expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        // candidate = 48-bit milliseconds | 16-bit counter.
        let high = (candidate & 0xFFFF_FFFF_FFFF_0000) | 0x7000 | ((candidate >> 4) & 0x0FFF)
        let low = 0x8000_0000_0000_0000 | ((candidate & 0xF) << 58) | EventIDGenerator.processBits
        return EventID(high: high, low: low)
    }
}

private enum EventIDGenerator {
    /// `(milliseconds << 16) | counter` of the last id minted by this process.
    static let state = Atomic<UInt64>(0)
    /// The process's random bits with bit 63 set once drawn; 0 before the first id. An atomic
    /// rather than a lazily initialised `static let`, so that minting an id makes no
    /// `swift_once` call.
    private static let drawnBits = Atomic<UInt64>(0)

    /// 58 random bits drawn once per process.
    static var processBits: UInt64 {
        let drawn = drawnBits.load(ordering: .relaxed)
        return (drawn != 0 ? drawn : drawProcessBits()) & 0x03FF_FFFF_FFFF_FFFF
    }

    @inline(never)
    private static func drawProcessBits() -> UInt64 {
        var generator = SystemRandomNumberGenerator()
        let candidate = generator.next() | (1 << 63)
        // The first thread to store wins, so every id of the process has the same bits.
        let (exchanged, original) = drawnBits.compareExchange(expected: 0, desired: candidate, ordering: .relaxed)
        return exchanged ? candidate : original
    }
}

extension EventID: LosslessStringConvertible {
    /// Parses the canonical UUID text form (`8-4-4-4-12` hex digits, either case).
    /// - Parameter description: the text to parse.
    /// - Returns: `nil` unless `description` is a well-formed UUID string.
    public init?(_ description: String) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        for (position, byte) in description.utf8.enumerated() {
            if position == 8 || position == 13 || position == 18 || position == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            guard digits < 32 else { return nil }
            if digits < 16 { high = high << 4 | UInt64(nibble) } else { low = low << 4 | UInt64(nibble) }
            digits += 1
        }
        guard digits == 32, description.utf8.count == 36 else { return nil }
        self.init(high: high, low: low)
    }

    /// The canonical lowercase UUID form, e.g. `0192f0c4-8a1e-7000-8000-3b1f9d2c4e5a`.
    public var description: String {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 36) { buffer in
            var index = 0
            for nibbleIndex in 0..<32 {
                if nibbleIndex == 8 || nibbleIndex == 12 || nibbleIndex == 16 || nibbleIndex == 20 {
                    buffer[index] = UInt8(ascii: "-")
                    index += 1
                }
                let word = nibbleIndex < 16 ? high : low
                let shift = UInt64(60 - 4 * (nibbleIndex % 16))
                buffer[index] = hex[Int((word >> shift) & 0xF)]
                index += 1
            }
            return index
        }
    }
}
