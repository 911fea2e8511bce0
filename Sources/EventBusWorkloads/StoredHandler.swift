import EventBus

/// A handler held in a stored closure and called directly: the baseline the bus is measured
/// against.
///
/// Calling it costs what any event system must pay at the least: one indirect call of a
/// closure loaded from an object, with no lock, no lookup, no history and no event to make.
final class StoredHandler: Sendable {
    /// The handler, called once per event.
    let handler: @Sendable (Event) -> Void

    /// Stores a handler.
    /// - Parameter handler: the handler to call.
    init(_ handler: @escaping @Sendable (Event) -> Void) {
        self.handler = handler
    }
}
