/// A workload whose bus, subscribers and payload are built, ready to be timed.
///
/// Everything a workload needs is made by ``BusWorkload/prepare()``, so ``run(iterations:)``
/// does only the measured work: one event per iteration. Time it with any clock; divide by
/// `iterations` for a per-event figure. A prepared workload keeps its bus (and, with history
/// on, up to 1000 recent events) alive until it is released.
public final class PreparedWorkload: Sendable {
    /// The name of the workload this was prepared from.
    public let name: String
    /// How many handler calls one iteration makes (0 for publishing to no subscriber).
    public let handlersPerEvent: Int
    /// For a wire workload, the size of one encoded event in bytes; `nil` for a bus workload.
    public let bytesPerEvent: Int?

    private let body: @Sendable (Int) -> Void
    private let check: @Sendable () throws(WorkloadVerificationError) -> Void

    init(
        name: String,
        handlersPerEvent: Int,
        bytesPerEvent: Int? = nil,
        run body: @escaping @Sendable (Int) -> Void,
        verify check: @escaping @Sendable () throws(WorkloadVerificationError) -> Void
    ) {
        self.name = name
        self.handlersPerEvent = handlersPerEvent
        self.bytesPerEvent = bytesPerEvent
        self.body = body
        self.check = check
    }

    /// Does `iterations` events of work: for a bus workload, `iterations` publishes, each
    /// delivered to the workload's subscribers.
    /// - Parameter iterations: how many events to process.
    public func run(iterations: Int) {
        body(iterations)
    }

    /// Processes one event and checks that it did the work the workload claims.
    ///
    /// For a bus workload: the event entered the pipeline, reached every subscriber, and no
    /// handler or middleware threw or dropped it; for a conversion workload, the payload also
    /// converts to the expected value. Call it before timing, so that a broken bus (say, a
    /// payload conversion that fails) is not measured as if it worked.
    /// - Throws: a ``WorkloadVerificationError`` saying what went wrong.
    public func verify() throws(WorkloadVerificationError) {
        try check()
    }
}
