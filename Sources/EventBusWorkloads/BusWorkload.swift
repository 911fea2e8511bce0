/// A named unit of in-process bus work to measure, such as "publish to one subscriber".
///
/// A workload is a recipe: ``prepare()`` builds its bus, subscribers and payload, and the
/// returned ``PreparedWorkload`` runs the measured loop. The same workloads serve the
/// package-benchmark suite in `Benchmarks/`, the profiling driver and any other timer, so every
/// figure for the bus comes from one definition of the work.
///
/// ```swift
/// for workload in BusWorkload.all {
///     let prepared = workload.prepare()
///     try prepared.verify()
///     let start = ContinuousClock.now
///     prepared.run(iterations: 1_000_000)
///     print(workload.name, (ContinuousClock.now - start) / 1_000_000)
/// }
/// ```
public struct BusWorkload: Sendable {
    /// A short, stable identifier (letters, digits and `_`), usable as a benchmark name or filter.
    public let name: String
    /// One sentence on what an iteration does.
    public let summary: String

    private let make: @Sendable () -> PreparedWorkload

    init(name: String, summary: String, make: @escaping @Sendable (_ name: String) -> PreparedWorkload) {
        self.name = name
        self.summary = summary
        self.make = { make(name) }
    }

    /// Builds the workload's bus, subscribers and payload, outside any measurement.
    /// - Returns: the workload, ready to run.
    public func prepare() -> PreparedWorkload {
        make()
    }

    /// Every workload: the bus workloads after their baseline, then the wire workloads after theirs.
    public static let all: [BusWorkload] = [
        .baseline,
        .publishNoSubscriber,
        .publishOneSubscriber,
        .publishOneSubscriberNoHistory,
        .publishTenSubscribers,
        .publishOneSubscriberOneMiddleware,
        .typedPublishTypedSubscriber,
        .untypedPublishTypedSubscriber,
        .typedPublishUntypedSubscriber,
        .jsonRoundTripFoundation,
        .wireRoundTripUntyped,
        .wireRoundTripTyped,
    ]

    /// Finds a workload by its name, among ``all`` and ``meshPaths``.
    /// - Parameter name: the workload's ``name``.
    /// - Returns: the workload, or `nil` if none has that name.
    public static func named(_ name: String) -> BusWorkload? {
        (all + meshPaths).first { $0.name == name }
    }
}
