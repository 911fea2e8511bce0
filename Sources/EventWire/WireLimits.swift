/// Bounds on what a decoder accepts from one frame, so that hostile input costs bounded work.
///
/// Every decoded collection is also checked against the bytes that actually remain, so memory
/// stays proportional to the input; these limits bound it further and cap nesting (and with it
/// the decoder's recursion).
public struct WireLimits: Sendable, Hashable {
    /// The largest frame, in bytes, that ``MessagePackReader/checkFrameSize(_:limits:)`` accepts.
    public var maxFrameBytes: Int
    /// The deepest nesting of arrays and maps: a top-level array is at depth 1.
    ///
    /// Decoding recurses once per level, so keep this in the hundreds at most.
    public var maxDepth: Int
    /// The largest element count of one array, or entry count of one map.
    public var maxCollectionCount: Int
    /// The most values (scalars, arrays and maps; a map entry is two values) one reader decodes.
    public var maxTotalValues: Int

    /// The limits used when none are given: 1 MiB frames, depth 32, 65,536 entries per
    /// collection, 2^20 values per frame.
    public static let `default` = WireLimits()

    /// Creates limits, each defaulting to the value in ``default``.
    ///
    /// - Parameters:
    ///   - maxFrameBytes: The largest accepted frame, in bytes.
    ///   - maxDepth: The deepest accepted nesting of arrays and maps (a top-level array is depth 1).
    ///   - maxCollectionCount: The largest accepted element count of one array or map.
    ///   - maxTotalValues: The most values one reader decodes.
    public init(
        maxFrameBytes: Int = 1 << 20,
        maxDepth: Int = 32,
        maxCollectionCount: Int = 65_536,
        maxTotalValues: Int = 1 << 20
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.maxDepth = maxDepth
        self.maxCollectionCount = maxCollectionCount
        self.maxTotalValues = maxTotalValues
    }

    /// No bounds: for reading bytes that were already validated against the limits in force.
    static let validated = WireLimits(maxFrameBytes: .max, maxDepth: .max, maxCollectionCount: .max, maxTotalValues: .max)
}
