import CZeroMQ

// Frames as ZMQMessage: received and sent on without copying.
extension ZMQSocket {
    /// Receives one frame into `message`, replacing what it held.
    ///
    /// Check ``ZMQMessage/hasMore`` to learn whether the frame is the last of its message; the
    /// rest of a message is always already here once its first frame is, so receiving it never
    /// blocks.
    /// - Parameters:
    ///   - message: where the frame goes.
    ///   - wait: whether to block until a frame arrives (bounded by the receive timeout, if one
    ///     is set).
    /// - Returns: `true` if a frame was received, `false` if none is available (`wait: false`)
    ///   or the receive timed out.
    /// - Throws: ``ZMQError`` for any other failure (e.g. a terminated context).
    public func receive(into message: ZMQMessage, wait: Bool = true) throws(ZMQError) -> Bool {
        let handle = try open("zmq_msg_recv")
        do {
            _ = try zmqCall("zmq_msg_recv") { zmq_msg_recv(message.pointer, handle, wait ? 0 : ZMQ_DONTWAIT) }
            return true
        } catch where error.code == .wouldBlock {
            if !wait { drainedAt = operations }
            return false
        }
    }

    /// Sends the frame `message` holds, handing its buffer to libzmq without copying; the
    /// message is empty afterwards (and can receive again), unless sending failed.
    /// - Parameters:
    ///   - message: the frame.
    ///   - more: whether more frames of the same message follow.
    ///   - wait: whether to block while the socket cannot send.
    /// - Returns: `true` if the frame was queued, `false` if `wait` is `false` and it would block
    ///   (the message still holds the frame then).
    /// - Throws: ``ZMQError`` for any other failure.
    @discardableResult
    public func send(_ message: ZMQMessage, more: Bool = false, wait: Bool = true) throws(ZMQError) -> Bool {
        let handle = try open("zmq_msg_send")
        let flags = (more ? ZMQ_SNDMORE : 0) | (wait ? 0 : ZMQ_DONTWAIT)
        do {
            _ = try zmqCall("zmq_msg_send") { zmq_msg_send(message.pointer, handle, flags) }
            return true
        } catch where error.code == .wouldBlock {
            return false
        }
    }

    /// Moves one whole multipart message, if one is waiting, from this socket to `destination`,
    /// frame by frame through `message` (libzmq's buffers travel on; nothing is copied).
    ///
    /// If sending fails part way, the rest of the message is still read from this socket (and
    /// dropped), so that the next call starts at a message boundary, and the error is thrown.
    /// - Parameters:
    ///   - destination: where the message goes (sent with blocking semantics: a PUB or XPUB
    ///     drops at its high-water mark instead of blocking).
    ///   - message: the frame buffer to use, reused across calls.
    /// - Returns: the message's size in bytes (all frames), or `nil` if none was waiting.
    /// - Throws: ``ZMQError`` if receiving or sending fails.
    public func forward(to destination: ZMQSocket, through message: ZMQMessage) throws(ZMQError) -> Int? {
        guard try receive(into: message, wait: false) else { return nil }
        var bytes = 0
        while true {
            bytes += message.count
            let more = message.hasMore
            do {
                try destination.send(message, more: more)
            } catch {
                var rest = more
                while rest, (try? receive(into: message)) == true { rest = message.hasMore }
                throw error
            }
            guard more else { return bytes }
            _ = try receive(into: message)
        }
    }
}
