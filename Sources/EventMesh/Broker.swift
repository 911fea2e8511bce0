import Dispatch
import EventBus
public import Logging
public import ServiceLifecycle
public import ZeroMQ

/// A forwarder between publishing and subscribing nodes: an XSUB socket that nodes publish to
/// and an XPUB socket that nodes subscribe at, on one I/O thread of its own.
///
/// The XSUB side subscribes to everything upstream, so publishers need nothing from a broker
/// (a restarted broker works at once) and filtering happens only at the XPUB side, per
/// subscriber. Several brokers may run side by side; nodes connect to all of them and dedup
/// hides the copies.
///
/// ```swift
/// let broker = Broker()
/// let address = try broker.start()          // binds tcp://127.0.0.1:* twice
/// let node = MeshConfiguration(brokers: [address])
/// …
/// broker.stop()
/// ```
public final class Broker: @unchecked Sendable {
    // @unchecked: mutable state is in `state`, behind its lock; sockets live in the I/O loop.

    /// What a broker has forwarded.
    public struct Stats: Sendable, Codable, Hashable {
        /// Messages forwarded from publishers to subscribers.
        public var forwarded: UInt64 = 0
        /// Bytes of those messages (all frames).
        public var forwardedBytes: UInt64 = 0
        /// Subscription and unsubscription messages received from subscribers.
        public var subscriptionMessages: UInt64 = 0
        /// Connections up now (both sides), as the socket monitors report them.
        public var connections = 0
        /// Whether the broker is bound and forwarding.
        public var bound = false
        /// The publish endpoint, once bound (port read back).
        public var publishEndpoint = ""
        /// The subscribe endpoint, once bound.
        public var subscribeEndpoint = ""
        /// The control endpoint, once bound (empty without one).
        public var controlEndpoint = ""

        public init() {}
    }

    /// Where nodes publish to (the XSUB side binds here).
    public let publishBind: String
    /// Where nodes subscribe (the XPUB side binds here).
    public let subscribeBind: String
    /// Where the broker answers `stats` and `health` requests, if anywhere.
    public let controlBind: String?
    /// Messages queued per connection on each side before the broker drops.
    public let highWaterMark: Int
    /// The largest frame accepted from a publisher; a publisher that sends a larger one is
    /// disconnected by libzmq.
    public let maxFrameBytes: Int
    /// The kernel socket buffer size of the broker's connections, if set.
    public let socketBufferBytes: Int?
    private let logger: Logger
    private let wakeup: ZMQWakeup
    private let state = LockedValueBox<State>(State())
    private let thread = LockedValueBox<IOThread?>(nil)

    private struct State {
        var stats = Stats()
        var started = false
        var stopping = false
    }

    /// Makes a broker; nothing is bound until ``start()``.
    /// - Parameters:
    ///   - publishBind: where nodes publish to (default `tcp://127.0.0.1:*`, an OS-assigned port).
    ///   - subscribeBind: where nodes subscribe (default `tcp://127.0.0.1:*`).
    ///   - controlBind: where to answer `stats` and `health` (default: nowhere).
    ///   - highWaterMark: messages queued per connection on each side before the broker
    ///     drops (default 100 000).
    ///   - maxFrameBytes: the largest frame accepted from a publisher (default 1 MiB, the
    ///     envelope limit of docs/WIRE.md).
    ///   - socketBufferBytes: the kernel socket buffer size of its connections (default: the OS's).
    ///   - logger: where the broker logs.
    /// - Throws: ``ZeroMQ/ZMQError`` if the process is out of file descriptors.
    public init(
        publishBind: String = "tcp://127.0.0.1:*",
        subscribeBind: String = "tcp://127.0.0.1:*",
        controlBind: String? = nil,
        highWaterMark: Int = 100_000,
        maxFrameBytes: Int = 1 << 20,
        socketBufferBytes: Int? = nil,
        logger: Logger = Logger(label: "EventMesh.Broker")
    ) throws(ZMQError) {
        self.publishBind = publishBind
        self.subscribeBind = subscribeBind
        self.controlBind = controlBind
        self.highWaterMark = highWaterMark
        self.maxFrameBytes = maxFrameBytes
        self.socketBufferBytes = socketBufferBytes
        self.logger = logger
        self.wakeup = try ZMQWakeup()
    }

    /// Binds both sides and starts forwarding on a new thread.
    /// - Returns: the bound endpoints (ports read back), as nodes should connect to them.
    /// - Throws: ``MeshError`` (`socket`, with the ``ZeroMQ/ZMQError``, if an endpoint is in use
    ///   or malformed; `alreadyStarted`).
    @discardableResult
    public func start() throws(MeshError) -> BrokerAddress {
        try state.withLockedValue { (state) throws(MeshError) in
            guard !state.started else { throw MeshError(.alreadyStarted, "the broker was already started") }
            state.started = true
        }
        let outcome = LockedValueBox<Result<BrokerAddress, MeshError>?>(nil)
        let started = DispatchSemaphore(value: 0)
        let thread = IOThread(name: "mesh-broker") { [self] in
            run { result in
                outcome.withLockedValue { $0 = result }
                started.signal()
            }
        }
        started.wait()
        switch outcome.withLockedValue({ $0 })! {
        case .success(let address):
            self.thread.withLockedValue { $0 = thread }
            return address
        case .failure(let error):
            thread.join()
            throw error
        }
    }

    /// Stops forwarding, closes both sockets (dropping what is queued) and waits for the thread.
    public func stop() {
        state.withLockedValue { $0.stopping = true }
        wakeup.signal()
        let thread = self.thread.withLockedValue { thread -> IOThread? in
            defer { thread = nil }
            return thread
        }
        thread?.join()
        state.withLockedValue { $0.stats.bound = false }
    }

    /// What the broker has forwarded so far.
    public var stats: Stats { state.withLockedValue { $0.stats } }

    private func run(started: (Result<BrokerAddress, MeshError>) -> Void) {
        let context = ZMQContext()
        let frontend: ZMQSocket
        let backend: ZMQSocket
        let frontendMonitor: ZMQMonitor
        let backendMonitor: ZMQMonitor
        let address: BrokerAddress
        let control: ControlEndpoint?
        do {
            if let controlBind {
                control = try ControlEndpoint(context: context, bind: controlBind)
            } else {
                control = nil
            }
            frontend = try ZMQSocket(context, .xsub)
            backend = try ZMQSocket(context, .xpub)
            try frontend.setReceiveHighWaterMark(highWaterMark)
            try backend.setSendHighWaterMark(highWaterMark)
            try frontend.setMaximumMessageSize(maxFrameBytes)
            try frontend.setKernelBuffers(send: socketBufferBytes, receive: socketBufferBytes)
            try backend.setKernelBuffers(send: socketBufferBytes, receive: socketBufferBytes)
            // Subscribers send only subscriptions: a frame 1 prefix plus one byte.
            try backend.setMaximumMessageSize(4096)
            // TCP keepalive, not ZMTP heartbeats: see ZMQSocket.setHeartbeat on libzmq issue 3937.
            try frontend.setTCPKeepalive(idle: 10, interval: 5, count: 3)
            try backend.setTCPKeepalive(idle: 10, interval: 5, count: 3)
            frontendMonitor = try frontend.monitor()
            backendMonitor = try backend.monitor()
            try frontend.bind(publishBind)
            try backend.bind(subscribeBind)
            // Subscribe to everything upstream: filtering happens only at the XPUB side.
            try frontend.send([1])
            address = BrokerAddress(publishEndpoint: try frontend.lastEndpoint, subscribeEndpoint: try backend.lastEndpoint)
        } catch {
            started(.failure(MeshError(.socket, "cannot bind the broker on \(publishBind) and \(subscribeBind)", cause: error)))
            return
        }
        state.withLockedValue { state in
            state.stats.bound = true
            state.stats.publishEndpoint = address.publishEndpoint
            state.stats.subscribeEndpoint = address.subscribeEndpoint
            state.stats.controlEndpoint = control?.endpoint ?? ""
        }
        logger.info("broker bound", metadata: ["publish": "\(address.publishEndpoint)", "subscribe": "\(address.subscribeEndpoint)"])
        started(.success(address))

        let poller = ZMQPoller()
        let frontendIndex = poller.add(frontend)
        let backendIndex = poller.add(backend)
        let wakeIndex = poller.add(fileDescriptor: wakeup.fileDescriptor)
        let frontendMonitorIndex = poller.add(frontendMonitor.socket)
        let backendMonitorIndex = poller.add(backendMonitor.socket)
        let controlIndex = control.map { poller.add($0.socket) }
        let message = ZMQMessage()
        while !state.withLockedValue({ $0.stopping }) {
            MeshActivity.loopDidRun()
            do {
                try poller.poll(timeoutMilliseconds: 1000)
            } catch {
                logger.error("polling failed; the broker stops", metadata: ["error": "\(error)"])
                break
            }
            if poller.isReadable(wakeIndex) { wakeup.drain() }
            if let controlIndex, poller.isReadable(controlIndex), let control { control.serve(answerControl) }
            if poller.isReadable(frontendMonitorIndex) { drain(frontendMonitor, side: "publish") }
            if poller.isReadable(backendMonitorIndex) { drain(backendMonitor, side: "subscribe") }
            if poller.isReadable(frontendIndex) {
                var forwarded: UInt64 = 0
                var bytes: UInt64 = 0
                // Frames move from socket to socket in libzmq's own buffers, never copied.
                for _ in 0..<1024 {
                    do {
                        guard let size = try frontend.forward(to: backend, through: message) else { break }
                        forwarded += 1
                        bytes += UInt64(size)
                    } catch {
                        logger.error("forwarding failed", metadata: ["error": "\(error)"])
                        break
                    }
                }
                state.withLockedValue { state in
                    state.stats.forwarded += forwarded
                    state.stats.forwardedBytes += bytes
                }
            }
            if poller.isReadable(backendIndex) {
                // Subscriptions stop here: the XSUB side already takes everything.
                var count: UInt64 = 0
                while (try? backend.receive(wait: false)) != nil { count += 1 }
                state.withLockedValue { $0.stats.subscriptionMessages += count }
            }
        }
        frontend.close()
        backend.close()
        frontendMonitor.socket.close()
        backendMonitor.socket.close()
        control?.socket.close()
    }

    private func answerControl(_ request: String) -> [UInt8] {
        switch request {
        case "stats":
            return ControlEndpoint.json(stats)
        case "health":
            let bound = stats.bound
            return ControlEndpoint.json(HealthReply(healthy: bound, role: "broker", detail: bound ? "bound" : "not bound"))
        default:
            return ControlEndpoint.unknown(request)
        }
    }

    private func drain(_ monitor: ZMQMonitor, side: String) {
        while let event = try? monitor.receive(wait: false) {
            switch event.kind {
            case .accepted:
                state.withLockedValue { $0.stats.connections += 1 }
                logger.debug("node connected", metadata: ["side": "\(side)", "endpoint": "\(event.endpoint)"])
            case .disconnected:
                state.withLockedValue { $0.stats.connections = max(0, $0.stats.connections - 1) }
                logger.debug("node disconnected", metadata: ["side": "\(side)", "endpoint": "\(event.endpoint)"])
            default:
                break
            }
        }
    }
}

extension Broker: Service {
    /// Runs the broker until graceful shutdown or cancellation, then stops it.
    /// - Throws: ``MeshError`` if the broker cannot bind.
    public func run() async throws {
        try start()
        try? await gracefulShutdown()
        stop()
    }
}
