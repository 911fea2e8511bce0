import CZeroMQ

/// A ZeroMQ socket, owned by one thread.
///
/// Not thread-safe and therefore not `Sendable` (see ``ZMQContext`` for the threading model):
/// make it on the thread that uses it. It closes in `deinit`, or earlier with ``close()``; any
/// call on a closed socket throws a ``ZMQError`` with code ``ZMQError/Code/wrongState``.
///
/// ```swift
/// let subscriber = try ZMQSocket(context, .sub)
/// try subscriber.setReceiveHighWaterMark(10_000)
/// try subscriber.subscribe(to: "provider.")
/// try subscriber.connect(endpoint)
/// if let frames = try subscriber.receive() { … }
/// ```
public final class ZMQSocket {
    /// The socket types the mesh uses.
    public enum Kind: Sendable, Hashable, CustomStringConvertible {
        /// Publishes to every matching subscriber; drops at the high-water mark.
        case pub
        /// Receives what matching publishers send; filters by frame-1 prefix.
        case sub
        /// A PUB that also receives subscription messages (used by brokers and by publishers
        /// that want `ZMQ_XPUB_NODROP`).
        case xpub
        /// A SUB that sends subscriptions as messages (the upstream side of a broker).
        case xsub
        /// An exclusive pair (monitors, inproc signalling).
        case pair
        /// Synchronous request side (one request, then one reply).
        case req
        /// Synchronous reply side.
        case rep
        /// Asynchronous request side of a control channel.
        case dealer
        /// Asynchronous reply side of a control channel, addressing peers by routing id.
        case router
        /// Load-balanced pipeline output.
        case push
        /// Pipeline input.
        case pull

        var rawValue: Int32 {
            switch self {
            case .pub: ZMQ_PUB
            case .sub: ZMQ_SUB
            case .xpub: ZMQ_XPUB
            case .xsub: ZMQ_XSUB
            case .pair: ZMQ_PAIR
            case .req: ZMQ_REQ
            case .rep: ZMQ_REP
            case .dealer: ZMQ_DEALER
            case .router: ZMQ_ROUTER
            case .push: ZMQ_PUSH
            case .pull: ZMQ_PULL
            }
        }

        public var description: String {
            switch self {
            case .pub: "PUB"
            case .sub: "SUB"
            case .xpub: "XPUB"
            case .xsub: "XSUB"
            case .pair: "PAIR"
            case .req: "REQ"
            case .rep: "REP"
            case .dealer: "DEALER"
            case .router: "ROUTER"
            case .push: "PUSH"
            case .pull: "PULL"
            }
        }
    }

    /// The context the socket was made from; kept alive as long as the socket.
    public let context: ZMQContext
    /// The socket's type.
    public let kind: Kind
    /// The libzmq socket, `nil` once closed.
    private(set) var handle: UnsafeMutableRawPointer?
    /// How many calls the socket has served (sends, receives, options, binds…), for
    /// ``ZMQPoller``: libzmq's signalling descriptor is edge-triggered and any call may consume
    /// its signal, so the poller reads a socket's state again after a call, and only then.
    var operations: UInt64 = 0
    /// ``operations`` when a non-blocking receive last found nothing. libzmq has just processed
    /// the socket's pending commands then, so nothing is readable until its descriptor signals:
    /// the poller need not ask.
    var drainedAt: UInt64 = .max

    /// Makes a socket with a linger period of 0 (closing drops unsent messages at once; set
    /// ``setLinger(milliseconds:)`` to flush on close).
    /// - Parameters:
    ///   - context: the context whose I/O threads serve the socket.
    ///   - kind: the socket type.
    /// - Throws: ``ZMQError`` if libzmq cannot make a socket (e.g. too many open files).
    public init(_ context: ZMQContext, _ kind: Kind) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, kind.rawValue) else {
            throw ZMQError.last("zmq_socket(\(kind))")
        }
        self.context = context
        self.kind = kind
        self.handle = handle
        try setOption(ZMQ_LINGER, Int32(0), name: "ZMQ_LINGER")
    }

    deinit {
        if let handle { zmq_close(handle) }
    }

    /// Closes the socket now, applying its linger period; later calls throw.
    public func close() {
        if let handle { zmq_close(handle) }
        handle = nil
    }

    /// The open socket, or the error for using a closed one.
    @inline(__always)
    func open(_ operation: @autoclosure () -> String) throws(ZMQError) -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(code: .wrongState, operation: "\(operation()) on a closed socket") }
        operations &+= 1
        return handle
    }

    // MARK: Endpoints

    /// Binds to an endpoint, e.g. `tcp://127.0.0.1:*` (an OS-assigned port; read it back with
    /// ``lastEndpoint``), `ipc:///tmp/mesh.sock` or `inproc://name`.
    /// - Parameter endpoint: the endpoint.
    /// - Throws: ``ZMQError`` (`addressInUse`, `invalidArgument`, `protocolNotSupported`…).
    public func bind(_ endpoint: String) throws(ZMQError) {
        let handle = try open("zmq_bind(\(endpoint))")
        _ = try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(handle, endpoint) }
    }

    /// Connects to an endpoint. Connecting succeeds before the peer exists: libzmq keeps
    /// retrying in the background (see ``setReconnectInterval(milliseconds:maximum:)``).
    /// - Parameter endpoint: the endpoint.
    /// - Throws: ``ZMQError`` for a malformed endpoint or an unsupported transport.
    public func connect(_ endpoint: String) throws(ZMQError) {
        let handle = try open("zmq_connect(\(endpoint))")
        _ = try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(handle, endpoint) }
    }

    /// Disconnects from an endpoint given to ``connect(_:)``.
    /// - Parameter endpoint: the endpoint.
    /// - Throws: ``ZMQError`` (`noEndpoint` if the socket is not connected to it).
    public func disconnect(_ endpoint: String) throws(ZMQError) {
        let handle = try open("zmq_disconnect(\(endpoint))")
        _ = try zmqCall("zmq_disconnect(\(endpoint))") { zmq_disconnect(handle, endpoint) }
    }

    /// Stops listening on an endpoint given to (or read back after) ``bind(_:)``.
    /// - Parameter endpoint: the endpoint.
    /// - Throws: ``ZMQError`` (`noEndpoint` if the socket is not bound to it).
    public func unbind(_ endpoint: String) throws(ZMQError) {
        let handle = try open("zmq_unbind(\(endpoint))")
        _ = try zmqCall("zmq_unbind(\(endpoint))") { zmq_unbind(handle, endpoint) }
    }

    /// The endpoint of the last bind or connect, with the port the OS chose for `:*`.
    public var lastEndpoint: String {
        get throws(ZMQError) {
            var buffer = [CChar](repeating: 0, count: 1024)
            var size = buffer.count
            let handle = try open("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
            _ = try zmqCall("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") { zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) }
            return String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    // MARK: Sending

    /// Sends one frame of a message.
    /// - Parameters:
    ///   - frame: the frame's bytes (copied by libzmq).
    ///   - more: whether more frames of the same message follow.
    ///   - wait: whether to block while the socket cannot send (at the high-water mark, or no
    ///     peer for socket types that need one); with `false` the call returns `false` instead.
    /// - Returns: `true` if the frame was queued, `false` if `wait` is `false` and it would block.
    /// - Throws: ``ZMQError`` for any other failure.
    @discardableResult
    public func send(_ frame: UnsafeRawBufferPointer, more: Bool = false, wait: Bool = true) throws(ZMQError) -> Bool {
        let handle = try open("zmq_send")
        let flags = (more ? ZMQ_SNDMORE : 0) | (wait ? 0 : ZMQ_DONTWAIT)
        do {
            _ = try zmqCall("zmq_send") { zmq_send(handle, frame.baseAddress, frame.count, flags) }
            return true
        } catch where error.code == .wouldBlock {
            return false
        }
    }

    /// Sends one frame of a message.
    /// - Parameters:
    ///   - frame: the frame's bytes.
    ///   - more: whether more frames of the same message follow.
    ///   - wait: whether to block while the socket cannot send.
    /// - Returns: `true` if the frame was queued, `false` if `wait` is `false` and it would block.
    /// - Throws: ``ZMQError`` for any other failure.
    @discardableResult
    public func send(_ frame: [UInt8], more: Bool = false, wait: Bool = true) throws(ZMQError) -> Bool {
        try frame.withUnsafeBytes { bytes in
            Result { () throws(ZMQError) -> Bool in try send(bytes, more: more, wait: wait) }
        }.get()
    }

    /// Sends a string frame (its UTF-8 bytes).
    /// - Parameters:
    ///   - frame: the text.
    ///   - more: whether more frames of the same message follow.
    ///   - wait: whether to block while the socket cannot send.
    /// - Returns: `true` if the frame was queued, `false` if `wait` is `false` and it would block.
    /// - Throws: ``ZMQError`` for any other failure.
    @discardableResult
    public func send(_ frame: String, more: Bool = false, wait: Bool = true) throws(ZMQError) -> Bool {
        var text = frame
        return try text.withUTF8 { bytes in
            Result { () throws(ZMQError) -> Bool in try send(UnsafeRawBufferPointer(bytes), more: more, wait: wait) }
        }.get()
    }

    /// Sends a whole multipart message.
    ///
    /// A message is atomic in ZeroMQ: once its first frame is queued the rest always follow, so
    /// with `wait: false` only the first frame can report that the socket would block.
    /// - Parameters:
    ///   - frames: the frames, first to last; at least one.
    ///   - wait: whether to block while the socket cannot send.
    /// - Returns: `true` if the message was queued, `false` if `wait` is `false` and it would block.
    /// - Throws: ``ZMQError`` for any other failure.
    @discardableResult
    public func send(frames: [[UInt8]], wait: Bool = true) throws(ZMQError) -> Bool {
        precondition(!frames.isEmpty, "a ZeroMQ message has at least one frame")
        for (index, frame) in frames.enumerated() {
            let queued = try send(frame, more: index < frames.count - 1, wait: wait || index > 0)
            if !queued { return false }
        }
        return true
    }

    // MARK: Receiving

    /// Receives a whole multipart message.
    /// - Parameter wait: whether to block until a message arrives (bounded by the receive
    ///   timeout, if one is set).
    /// - Returns: the frames, or `nil` if none is available (`wait: false`) or the receive timed out.
    /// - Throws: ``ZMQError`` for any other failure (e.g. a terminated context).
    public func receive(wait: Bool = true) throws(ZMQError) -> [[UInt8]]? {
        let handle = try open("zmq_msg_recv")
        var frames: [[UInt8]] = []
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        while true {
            // After the first frame the rest of the message is already here: never block.
            let flags = frames.isEmpty && !wait ? ZMQ_DONTWAIT : 0
            do {
                _ = try zmqCall("zmq_msg_recv") { zmq_msg_recv(&message, handle, flags) }
            } catch where error.code == .wouldBlock && frames.isEmpty {
                if !wait { drainedAt = operations }
                return nil
            }
            let size = zmq_msg_size(&message)
            let frame: [UInt8]
            if size == 0 {
                frame = []
            } else {
                let data = zmq_msg_data(&message)!
                frame = [UInt8](UnsafeRawBufferPointer(start: data, count: size))
            }
            frames.append(frame)
            if zmq_msg_more(&message) == 0 { return frames }
        }
    }

    // MARK: Raw options

    /// Sets an integer option.
    func setOption(_ option: Int32, _ value: Int32, name: @autoclosure () -> String) throws(ZMQError) {
        let handle = try open("zmq_setsockopt(\(name()))")
        var value = value
        _ = try zmqCall("zmq_setsockopt(\(name()), \(value))") {
            zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size)
        }
    }

    /// Sets a 64-bit integer option.
    func setOption(_ option: Int32, _ value: Int64, name: @autoclosure () -> String) throws(ZMQError) {
        let handle = try open("zmq_setsockopt(\(name()))")
        var value = value
        _ = try zmqCall("zmq_setsockopt(\(name()), \(value))") {
            zmq_setsockopt(handle, option, &value, MemoryLayout<Int64>.size)
        }
    }

    /// Sets a binary option.
    func setOption(_ option: Int32, bytes: [UInt8], name: @autoclosure () -> String) throws(ZMQError) {
        let handle = try open("zmq_setsockopt(\(name()))")
        _ = try zmqCall("zmq_setsockopt(\(name()))") {
            bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        }
    }

    /// Reads an integer option.
    func intOption(_ option: Int32, name: @autoclosure () -> String) throws(ZMQError) -> Int32 {
        let handle = try open("zmq_getsockopt(\(name()))")
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        _ = try zmqCall("zmq_getsockopt(\(name()))") { zmq_getsockopt(handle, option, &value, &size) }
        return value
    }
}
