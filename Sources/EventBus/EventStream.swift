import Synchronization

/// What an event stream does when its buffer is full.
public enum StreamOverflowPolicy: Sendable, Hashable {
    /// Keep the buffered events and drop the new one.
    case dropNewest
    /// Drop the oldest buffered event to make room for the new one.
    case dropOldest
}

/// An asynchronous sequence of the events a bus delivers to one consumer.
///
/// Each call of ``EventBus/events(matching:bufferSize:whenFull:)`` makes a new stream with its own
/// subscription and bounded buffer; a stream has one consumer (iterate it once). Events the
/// consumer does not take in time are dropped by the overflow policy and counted in
/// ``droppedCount``. The stream ends when the consumer stops iterating (its task is cancelled or
/// the iterator is released), which cancels the subscription, or when the bus is deinitialised.
public struct EventStream<Element: Sendable>: AsyncSequence, Sendable {
    public typealias AsyncIterator = AsyncStream<Element>.Iterator

    private let stream: AsyncStream<Element>
    private let drops: DropCounter
    /// The stream's subscription; cancelling it ends the stream.
    public let subscription: Subscription

    fileprivate init(stream: AsyncStream<Element>, drops: DropCounter, subscription: Subscription) {
        self.stream = stream
        self.drops = drops
        self.subscription = subscription
    }

    /// How many events were dropped because the buffer was full.
    public var droppedCount: Int { drops.value }

    public func makeAsyncIterator() -> AsyncStream<Element>.Iterator {
        stream.makeAsyncIterator()
    }
}

private final class DropCounter: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    func increment() { count.add(1, ordering: .relaxed) }
}

extension EventBus {
    /// A new stream of the events whose type matches `pattern`.
    /// - Parameters:
    ///   - pattern: which events (default: all).
    ///   - bufferSize: how many events wait for the consumer at most (default 1024).
    ///   - whenFull: which event to drop when the buffer is full (default: the new one).
    /// - Returns: the stream, ready to iterate with `for await`.
    public func events(
        matching pattern: EventPattern = .all,
        bufferSize: Int = 1024,
        whenFull: StreamOverflowPolicy = .dropNewest
    ) -> EventStream<Event> {
        makeStream(pattern: pattern, bufferSize: bufferSize, whenFull: whenFull) { $0 }
    }

    /// A new stream of the events of `P.eventType`, with payloads decoded as `P`.
    ///
    /// An event whose payload does not decode as `P` is skipped and reported as `handler.error`.
    /// - Parameters:
    ///   - payloadType: the payload type.
    ///   - bufferSize: how many events wait for the consumer at most (default 1024).
    ///   - whenFull: which event to drop when the buffer is full (default: the new one).
    /// - Returns: the stream.
    public func events<P: EventPayload>(
        of payloadType: P.Type,
        bufferSize: Int = 1024,
        whenFull: StreamOverflowPolicy = .dropNewest
    ) -> EventStream<TypedEvent<P>> {
        makeStream(pattern: EventPattern(P.eventType), bufferSize: bufferSize, whenFull: whenFull) { event in
            TypedEvent(event: event, data: try event.decodedForSubscriber(P.self))
        }
    }

    private func makeStream<Element: Sendable>(
        pattern: EventPattern,
        bufferSize: Int,
        whenFull: StreamOverflowPolicy,
        transform: @escaping @Sendable (Event) throws -> Element
    ) -> EventStream<Element> {
        precondition(bufferSize > 0, "bufferSize must be positive")
        let policy: AsyncStream<Element>.Continuation.BufferingPolicy =
            whenFull == .dropNewest ? .bufferingOldest(bufferSize) : .bufferingNewest(bufferSize)
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: policy)
        let drops = DropCounter()
        let subscription = addSubscriber(pattern: pattern, owner: nil, onBusGone: { continuation.finish() }) { event in
            if case .dropped = continuation.yield(try transform(event)) { drops.increment() }
        }
        continuation.onTermination = { _ in subscription.cancel() }
        return EventStream(stream: stream, drops: drops, subscription: subscription)
    }
}
