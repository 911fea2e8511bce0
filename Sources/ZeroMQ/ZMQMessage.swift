#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CZeroMQ

/// One frame of a ZeroMQ message held by libzmq (a `zmq_msg_t`), owned by one thread.
///
/// Receiving into a message and sending it on hands libzmq's buffer from one socket to the
/// other without copying it into Swift memory (what a forwarder needs), and one message can be
/// reused for every frame a loop receives, so that no frame costs an allocation unless the
/// caller asks for its bytes as an array.
///
/// Not thread-safe and therefore not `Sendable`, like ``ZMQSocket``: use it on the thread that
/// uses the sockets. It releases its buffer in `deinit`.
///
/// ```swift
/// let message = ZMQMessage()
/// while try frontend.receive(into: message, wait: false) {
///     try backend.send(message, more: message.hasMore)   // moved, not copied
/// }
/// ```
public final class ZMQMessage {
    /// The libzmq message, heap-allocated so that its address never changes.
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// Makes an empty message.
    public init() {
        pointer = .allocate(capacity: 1)
        zmq_msg_init(pointer)
    }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }

    /// The frame's size in bytes (0 after the frame was sent on).
    public var count: Int { zmq_msg_size(pointer) }

    /// Whether more frames of the same message follow this one (as received).
    public var hasMore: Bool { zmq_msg_more(pointer) != 0 }

    /// Calls `body` with the frame's bytes, valid only during the call.
    /// - Parameter body: what to do with the bytes.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws.
    public func withUnsafeBytes<Result, Failure: Error>(
        _ body: (UnsafeRawBufferPointer) throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try body(bufferPointer)
    }

    /// The frame's bytes (an empty buffer for an empty frame).
    var bufferPointer: UnsafeRawBufferPointer {
        let size = zmq_msg_size(pointer)
        guard size > 0, let data = zmq_msg_data(pointer) else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: data, count: size)
    }

    /// A copy of the frame's bytes.
    public var bytes: [UInt8] { [UInt8](bufferPointer) }

    /// Whether the frame holds exactly `bytes` (compared in place, nothing copied).
    /// - Parameter bytes: the bytes to compare with.
    /// - Returns: whether the frame and `bytes` are the same bytes.
    public func holds(_ bytes: [UInt8]) -> Bool {
        let frame = bufferPointer
        guard frame.count == bytes.count else { return false }
        guard let base = frame.baseAddress else { return true }
        return bytes.withUnsafeBytes { memcmp(base, $0.baseAddress!, frame.count) == 0 }
    }
}
