import EventBus
import EventWire
import Logging
import ZeroMQ

// The bridge's I/O thread: it alone touches the sockets.
extension MeshBridge {
    /// The sockets of one run of the loop, made and used on the I/O thread only.
    private final class Sockets {
        let context: ZMQContext
        let outbound: ZMQSocket
        let inbound: ZMQSocket
        let outboundMonitor: ZMQMonitor
        let inboundMonitor: ZMQMonitor
        let control: ControlEndpoint?
        /// The outbound socket's bound endpoint (peer mesh), port read back.
        let boundEndpoint: String?

        init(configuration: MeshConfiguration) throws(ZMQError) {
            let context = ZMQContext()
            self.context = context
            if let bind = configuration.controlEndpoint {
                control = try ControlEndpoint(context: context, bind: bind)
            } else {
                control = nil
            }
            // An XPUB: a PUB that also reads the subscriptions of whoever connects, so that a
            // node in a peer mesh can answer each one with a hello (readiness).
            outbound = try ZMQSocket(context, .xpub)
            try outbound.setSendHighWaterMark(configuration.sendHighWaterMark)
            if configuration.bindEndpoint != nil {
                // Every subscription message, also one another peer sent already.
                try outbound.setXPubVerbose(true)
            }
            if case .block = configuration.overflow {
                // Report "would block" at a full queue instead of dropping.
                try outbound.setXPubNoDrop(true)
            }
            try outbound.setReconnectInterval(milliseconds: 100, maximum: 1000)
            // Dead peers are found by TCP keepalive or a reset, not by ZMTP heartbeats: with a
            // full receive queue those can abort libzmq 4.3.4 (issue 3937).
            let keepalive = configuration.keepalive
            try outbound.setTCPKeepalive(idle: keepalive.idle, interval: keepalive.interval, count: keepalive.count)
            try outbound.setKernelBuffers(send: configuration.socketBufferBytes, receive: configuration.socketBufferBytes)
            inbound = try ZMQSocket(context, .sub)
            try inbound.setKernelBuffers(send: configuration.socketBufferBytes, receive: configuration.socketBufferBytes)
            try inbound.setReceiveHighWaterMark(configuration.receiveHighWaterMark)
            try inbound.setMaximumMessageSize(configuration.maxFrameBytes)
            try inbound.setReconnectInterval(milliseconds: 100, maximum: 1000)
            try inbound.setTCPKeepalive(idle: keepalive.idle, interval: keepalive.interval, count: keepalive.count)
            outboundMonitor = try outbound.monitor()
            inboundMonitor = try inbound.monitor()
            if let bind = configuration.bindEndpoint {
                try outbound.bind(bind)
                boundEndpoint = try outbound.lastEndpoint
            } else {
                boundEndpoint = nil
            }
            for broker in configuration.brokers {
                try outbound.connect(broker.publishEndpoint)
                try inbound.connect(broker.subscribeEndpoint)
            }
            for peer in configuration.peers {
                try inbound.connect(peer)
            }
        }
    }

    /// Runs until ``stop()``; `started` is called once, with the outcome of making the sockets.
    func runIOLoop(started: (Result<Void, MeshError>) -> Void) {
        let sockets: Sockets
        do {
            sockets = try Sockets(configuration: configuration)
        } catch {
            started(.failure(MeshError(.socket, "cannot connect \(origin.node) to its brokers", cause: error)))
            return
        }
        let proceed = state.withLockedValue { state -> Bool in
            guard state.phase == .starting else { return false }
            state.phase = .running
            state.controlEndpoint = sockets.control?.endpoint
            state.boundEndpoint = sockets.boundEndpoint
            if configuration.brokers.isEmpty && configuration.peers.isEmpty { state.isReady = true }
            return true
        }
        started(.success(()))
        if proceed {
            loop(sockets)
        }
        shutDown(sockets)
    }

    private func loop(_ sockets: Sockets) {
        let poller = ZMQPoller()
        let inboundIndex = poller.add(sockets.inbound)
        let wakeIndex = poller.add(fileDescriptor: wakeup.fileDescriptor)
        let outboundMonitorIndex = poller.add(sockets.outboundMonitor.socket)
        let inboundMonitorIndex = poller.add(sockets.inboundMonitor.socket)
        let outboundIndex = poller.add(sockets.outbound)
        let controlIndex = sockets.control.map { poller.add($0.socket) }
        let heartbeatInterval = UInt64(max(10, configuration.heartbeatIntervalMilliseconds)) * 1_000_000
        let probeInterval: UInt64 = 50_000_000
        var nextHeartbeat = monotonicNanoseconds() + heartbeatInterval
        var nextProbe = monotonicNanoseconds()
        var readiness = Readiness(nonce: UInt64.random(in: 1...UInt64.max))
        var malformedLog = RateLimitedLog()
        var subscribed = Set<String>()
        var appliedPrefixes: UInt64?
        applyPrefixes(to: sockets.inbound, subscribed: &subscribed, version: &appliedPrefixes)
        // What the next poll waits for, as the last flush left it. Not for a signal before the
        // first flush, for events queued before the loop began.
        var next = NextPoll.immediate
        let batchingInterval = max(1, configuration.batchingIntervalMilliseconds)
        // What the outbox held, while it is sent (see flushOutbox).
        var batch: [OutboundMessage] = []
        // Inbound frames land in these two messages, reused for every message.
        let typeFrame = ZMQMessage()
        let bodyFrame = ZMQMessage()
        var lastType = LastFrameType()
        // The origin node and scope of the last event decoded, which the next one likely shares.
        var recent = EventCodec.RecentFields()

        while true {
            MeshActivity.loopDidRun()
            let now = monotonicNanoseconds()
            let ready = state.withLockedValue { $0.isReady }
            if !ready && now >= nextProbe && !configuration.brokers.isEmpty {
                // One probe per subscribed prefix: each comes back through a broker only once
                // that very subscription is live there.
                readiness.startRound(nonce: UInt64.random(in: 1...UInt64.max))
                let body = MeshControlMessage.probe(origin, nonce: readiness.nonce).encode()
                for prefix in subscribed {
                    send(MeshControlMessage.readinessFrame(prefix: prefix, kind: MeshControlMessage.probeFrame), body: body, on: sockets.outbound)
                }
                nextProbe = now + probeInterval
            }
            if now >= nextHeartbeat {
                let latest = state.withLockedValue { $0.announceableSequences }
                send(.heartbeat(origin, latest: latest), on: sockets.outbound)
                state.withLockedValue { state in
                    state.stats.heartbeatsSent += 1
                    state.dedup.expireIdle(now: now)
                }
                nextHeartbeat = now + heartbeatInterval
            }
            var deadline = nextHeartbeat
            if !ready { deadline = min(deadline, nextProbe) }
            if next == .paused { deadline = min(deadline, now + 2_000_000) }
            let untilDeadline = Int((deadline > now ? deadline - now : 0) / 1_000_000) + 1
            let timeout = switch next {
            case .immediate: 0
            case .untilSignalled, .paused: untilDeadline
            case .batchInterval: min(batchingInterval, untilDeadline)
            }
            do {
                try poller.poll(timeoutMilliseconds: timeout)
            } catch {
                logger.error("polling failed; the bridge stops", metadata: ["error": "\(error)"])
                return
            }
            if poller.isReadable(wakeIndex) {
                wakeup.drain()
                applyPrefixes(to: sockets.inbound, subscribed: &subscribed, version: &appliedPrefixes)
            }
            if let controlIndex, poller.isReadable(controlIndex), let control = sockets.control {
                control.serve(answerControl)
            }
            if poller.isReadable(outboundIndex) { answerSubscriptions(on: sockets.outbound) }
            if poller.isReadable(outboundMonitorIndex) { drainMonitor(sockets.outboundMonitor, direction: "outbound") }
            if poller.isReadable(inboundMonitorIndex) { drainMonitor(sockets.inboundMonitor, direction: "inbound") }
            if poller.isReadable(inboundIndex) {
                // The node bus, loaded from its weak reference once per batch, not per event; and
                // the time dedup notes an origin was last heard from, read once per batch too.
                let bus = state.withLockedValue { $0.bus?.bus }
                let batchTime = monotonicNanoseconds()
                // A bounded batch, so that a flood of inbound events cannot starve sending.
                for _ in 0..<1024 {
                    let received: Bool
                    do {
                        received = try sockets.inbound.receive(into: typeFrame, wait: false)
                    } catch {
                        logger.error("receiving failed", metadata: ["error": "\(error)"])
                        break
                    }
                    guard received else { break }
                    handleInbound(
                        typeFrame, body: bodyFrame, from: sockets.inbound, delivering: bus, at: batchTime, lastType: &lastType,
                        recent: &recent, readiness: &readiness, subscribed: subscribed, log: &malformedLog)
                }
            }
            next = flushOutbox(on: sockets.outbound, batch: &batch)
            if state.withLockedValue({ $0.phase == .stopping }) { return }
        }
    }

    /// Brings the inbound socket's subscriptions to the prefixes the node bus needs, if they
    /// changed since `version` (most wakeups are for sending: they cost one comparison).
    private func applyPrefixes(to socket: ZMQSocket, subscribed: inout Set<String>, version: inout UInt64?) {
        let wanted = state.withLockedValue { state -> Set<String>? in
            guard state.prefixesVersion != version else { return nil }
            version = state.prefixesVersion
            return state.prefixes
        }
        guard let wanted, wanted != subscribed else { return }
        // Subscribe to the new prefixes before dropping the old ones, so that no event the node
        // wants both before and after the change slips through a gap.
        for prefix in wanted.subtracting(subscribed).sorted() {
            do { try socket.subscribe(to: prefix) } catch { logger.error("subscribing failed", metadata: ["prefix": "\(prefix)", "error": "\(error)"]) }
        }
        for prefix in subscribed.subtracting(wanted).sorted() {
            do { try socket.unsubscribe(from: prefix) } catch { logger.error("unsubscribing failed", metadata: ["prefix": "\(prefix)", "error": "\(error)"]) }
        }
        subscribed = wanted
        state.withLockedValue { $0.subscribedPrefixes = wanted.sorted() }
        logger.debug("inbound subscriptions", metadata: ["prefixes": "\(wanted.sorted())"])
    }

    /// Sends everything queued, then (when stopping) closes with the linger period.
    private func shutDown(_ sockets: Sockets) {
        var batch: [OutboundMessage] = []
        if flushOutbox(on: sockets.outbound, batch: &batch) == .paused {
            // The block policy: a subscriber's queue is still full. What is left is lost.
            let left = state.withLockedValue { state -> Int in
                defer { state.outbox.removeAll() }
                state.stats.queueDrops += UInt64(state.outbox.count)
                return state.outbox.count
            }
            logger.warning("stopping with events unsent: a subscriber's queue is full", metadata: ["events": "\(left)"])
        }
        send(.nodeLeft(origin), on: sockets.outbound)
        // Closing waits at most the linger period for queued messages to leave: the context's
        // termination (when `sockets` goes away) is bounded by it, even if a broker never reads.
        try? sockets.outbound.setLinger(milliseconds: configuration.lingerMilliseconds)
        sockets.outbound.close()
        sockets.inbound.close()
        sockets.outboundMonitor.socket.close()
        sockets.inboundMonitor.socket.close()
        sockets.control?.socket.close()
    }

    /// The reply to a control request.
    private func answerControl(_ request: String) -> [UInt8] {
        switch request {
        case "stats":
            let bus = state.withLockedValue { $0.bus?.bus }
            return ControlEndpoint.json(MeshNodeStats(bridge: stats, historySize: bus?.stats.historyCount ?? 0))
        case "health":
            return ControlEndpoint.json(health())
        case "history":
            let bus = state.withLockedValue { $0.bus?.bus }
            let entries = (bus?.history() ?? []).map { HistoryEntry(id: $0.id.description, type: $0.type.name, node: $0.origin?.node ?? origin.node) }
            return ControlEndpoint.json(entries)
        default:
            return ControlEndpoint.unknown(request)
        }
    }

    /// The node's health: unhealthy until ready, and again when none of the endpoints it
    /// connects to (each broker's two, each peer's) is connected; healthy but "degraded" while
    /// some of them are not. Connections are counted, not matched by name: after a reconnect
    /// libzmq reports the resolved address instead of the host name it was given.
    func health() -> HealthReply {
        let (ready, connected) = state.withLockedValue { ($0.isReady, $0.connectedEndpoints.count) }
        guard ready else {
            return HealthReply(healthy: false, role: "node", detail: "not ready: waiting for the probe to come back through every broker")
        }
        let endpoints = 2 * configuration.brokers.count + configuration.peers.count
        var reply = HealthReply(healthy: true, role: "node", detail: "ready: subscriptions live on every broker")
        reply.endpoints = endpoints
        reply.connectedEndpoints = min(connected, endpoints)
        if endpoints > 0 && connected == 0 {
            reply.healthy = false
            reply.detail = "disconnected: none of the \(endpoints) broker and peer endpoints is connected"
        } else if connected < endpoints {
            reply.detail = "degraded: \(connected) of the \(endpoints) broker and peer endpoints connected"
        }
        return reply
    }

    /// Sends what is queued. Under the drop policy everything goes (libzmq drops at a full
    /// subscriber queue); under the block policy sending stops at the first message that would
    /// block, and the rest stays queued, in order, for the next try.
    ///
    /// When it leaves the outbox empty, it sets ``State/wakeIOThreadAt`` to 1 in the same
    /// locked section: from then on the next publisher signals the wakeup, so the I/O thread
    /// may block in its poll. After sending at least ``MeshConfiguration/batchingThreshold``
    /// events (batching), it sets it to ``MeshBridge/batchWakeCount(threshold:)``: the I/O
    /// thread comes back after the batching interval, or when a publisher finds that many
    /// queued. Otherwise publishers queue without a system call.
    ///
    /// The frames sent go back to ``State/spareFrames`` (up to ``spareFrameLimit``), for
    /// publishers to encode the next events into.
    /// - Parameters:
    ///   - socket: the outbound socket.
    ///   - batch: an empty array, swapped with the outbox (no copy, and no new buffer per
    ///     batch); left empty, with the outbox's capacity, for the next call.
    /// - Returns: what the loop's next poll waits for.
    private func flushOutbox(on socket: ZMQSocket, batch: inout [OutboundMessage]) -> NextPoll {
        let found = state.withLockedValue { state -> Bool in
            guard !state.outbox.isEmpty else {
                state.wakeIOThreadAt = 1
                return false
            }
            swap(&batch, &state.outbox)
            return true
        }
        guard found else { return .untilSignalled }
        let blocking: Bool
        if case .block = configuration.overflow { blocking = true } else { blocking = false }
        var sent = 0
        var paused = false
        // Read in place: iterating the array copied each message (a retain and a release of its
        // type and its body).
        batch.withUnsafeBufferPointer { messages in
            for index in messages.indices {
                do {
                    guard try socket.send(messages[index].type, more: true, wait: !blocking) else {
                        paused = true
                        break
                    }
                    try socket.send(messages[index].body)
                    sent += 1
                } catch {
                    logger.error("sending failed", metadata: ["type": "\(messages[index].type)", "error": "\(error)"])
                    sent += 1  // dropped; do not retry a message libzmq rejected
                }
            }
        }
        let unsent = paused ? Array(batch[sent...]) : []
        let threshold = configuration.batchingThreshold
        let batching = threshold > 0 && sent >= threshold
        let batchWakeCount = Self.batchWakeCount(threshold: threshold)
        let next = state.withLockedValue { state -> NextPoll in
            state.stats.sent += UInt64(sent)
            if batching { state.stats.batchedSends += 1 }
            if paused {
                state.stats.sendPauses += 1
                // Put the unsent messages back in front of anything queued meanwhile.
                state.outbox.insert(contentsOf: unsent, at: 0)
            }
            // libzmq copied the frames sent: their arrays can hold the next events' frames.
            Self.recycleSentFrames(of: &batch, sent: sent, into: &state.spareFrames)
            let next: NextPoll
            if paused {
                next = .paused  // the unsent events are queued again
            } else if batching {
                // A full batch queued meanwhile goes at once: its signal was not sent, as the
                // publisher found no thread waiting for it.
                next = state.outbox.count >= batchWakeCount ? .immediate : .batchInterval
            } else {
                next = state.outbox.isEmpty ? .untilSignalled : .immediate
            }
            // Publishers signal only a thread that will wait for them: for the next event, or
            // for a full batch.
            state.wakeIOThreadAt = switch next {
            case .untilSignalled: 1
            case .batchInterval: batchWakeCount
            case .immediate, .paused: .max
            }
            return next
        }
        // Emptied outside the lock: a frame not kept as a spare is freed here.
        batch.removeAll(keepingCapacity: true)
        room.signal()
        return next
    }

    /// What the I/O loop's next poll waits for, as a flush of the outbox leaves it.
    enum NextPoll {
        /// Nothing: events were queued during the flush; send them after a look at the sockets.
        case immediate
        /// The outbox is empty and publishers signal the next event: wait for it, a socket or
        /// the next deadline.
        case untilSignalled
        /// A batch of at least ``MeshConfiguration/batchingThreshold`` events went: publishers
        /// signal only once ``MeshBridge/batchWakeCount(threshold:)`` events are queued; come
        /// back after the batching interval (or sooner, for a socket or that signal).
        case batchInterval
        /// Sending paused at a full subscriber queue (the block policy): a new event would not
        /// make room; retry after 2 ms.
        case paused
    }

    /// Moves the arrays of the first `sent` messages of `batch` (up to ``spareFrameLimit``
    /// spares in all, none larger than ``spareFrameMaxCapacity``) into `spares`, leaving empty
    /// arrays in their place. Moved, not copied: a spare the batch still referenced would not be
    /// uniquely referenced when a publisher took it, and encoding into it would copy it.
    static func recycleSentFrames(of batch: inout [OutboundMessage], sent: Int, into spares: inout [[UInt8]]) {
        var index = 0
        while index < sent && spares.count < spareFrameLimit {
            if batch[index].body.capacity <= spareFrameMaxCapacity {
                var frame: [UInt8] = []
                swap(&frame, &batch[index].body)
                spares.append(frame)
            }
            index += 1
        }
    }

    /// Sends a readiness message (frame 1 `PREFIX NUL KIND`).
    private func send(_ frame: [UInt8], body: [UInt8], on socket: ZMQSocket) {
        do {
            try socket.send(frame, more: true)
            try socket.send(body)
        } catch {
            logger.error("sending a readiness message failed", metadata: ["error": "\(error)"])
        }
    }

    /// Reads the subscriptions that arrived on the outbound socket; in a peer mesh, answers each
    /// with a hello on the subscribed prefix, which tells the subscriber its subscription is live.
    private func answerSubscriptions(on socket: ZMQSocket) {
        while let frames = try? socket.receive(wait: false) {
            guard configuration.bindEndpoint != nil, let message = frames.first, message.first == 1 else { continue }
            let prefix = String(decoding: message.dropFirst(), as: UTF8.self)
            send(MeshControlMessage.readinessFrame(prefix: prefix, kind: MeshControlMessage.helloFrame),
                 body: MeshControlMessage.hello(origin).encode(), on: socket)
        }
    }

    private func send(_ message: MeshControlMessage, on socket: ZMQSocket) {
        do {
            try socket.send(message.frameType, more: true)
            try socket.send(message.encode())
        } catch {
            logger.error("sending a mesh control message failed", metadata: ["type": "\(message.frameType)", "error": "\(error)"])
        }
    }

    private func drainMonitor(_ monitor: ZMQMonitor, direction: String) {
        while let event = try? monitor.receive(wait: false) {
            switch event.kind {
            case .connected, .accepted:
                state.withLockedValue { state in
                    state.stats.connections += 1
                    if event.kind == .connected { state.connectedEndpoints.insert("\(direction) \(event.endpoint)") }
                }
                logger.info("connected", metadata: ["direction": "\(direction)", "endpoint": "\(event.endpoint)"])
            case .disconnected:
                state.withLockedValue { state in
                    state.stats.connections = max(0, state.stats.connections - 1)
                    state.connectedEndpoints.remove("\(direction) \(event.endpoint)")
                }
                logger.warning("disconnected", metadata: ["direction": "\(direction)", "endpoint": "\(event.endpoint)"])
            case .handshakeFailedProtocol, .handshakeFailedNoDetail, .handshakeFailedAuth:
                logger.warning("handshake failed", metadata: ["direction": "\(direction)", "endpoint": "\(event.endpoint)"])
            default:
                logger.trace("socket event", metadata: ["direction": "\(direction)", "event": "\(event)"])
            }
        }
    }

    // MARK: Inbound

    /// Reads the rest of the message whose first frame is in `first` and handles it.
    private func handleInbound(
        _ first: ZMQMessage, body second: ZMQMessage, from socket: ZMQSocket, delivering bus: EventBus?, at now: UInt64,
        lastType: inout LastFrameType,
        recent: inout EventCodec.RecentFields, readiness: inout Readiness, subscribed: Set<String>, log: inout RateLimitedLog
    ) {
        // The rest of a message is already here once its first frame is: these never block.
        var frames = 1
        if first.hasMore {
            do {
                _ = try socket.receive(into: second)
                frames = 2
                while second.hasMore {
                    // More frames than a mesh message has: read them, to drop the whole message.
                    _ = try socket.receive(into: second)
                    frames += 1
                }
            } catch {
                logger.error("receiving failed", metadata: ["error": "\(error)"])
                return
            }
        }
        guard frames == 2 else {
            malformed("frameCount", detail: "a message of \(frames) frames (expected 2)", log: &log)
            return
        }
        let body = second.bytes
        // Most messages carry the type of the one before: known valid, no String made.
        if let type = lastType.type, first.holds(lastType.frame) {
            handleEvent(body, frameType: type.name, type: type, delivering: bus, at: now, recent: &recent, log: &log)
            return
        }
        let typeFrame = first.bytes
        if let (prefix, kind) = MeshControlMessage.splitReadinessFrame(typeFrame) {
            handleReadiness(prefix: prefix, kind: kind, body: body, readiness: &readiness, subscribed: subscribed, log: &log)
            return
        }
        guard let frameType = String(validating: typeFrame, as: UTF8.self) else {
            malformed(WireError.Code.invalidUTF8.description, detail: "frame 1 is not UTF-8", log: &log)
            return
        }
        if frameType.hasPrefix(MeshControlMessage.prefix) {
            handleControl(frameType: frameType, body: body, log: &log)
            return
        }
        let type = try? EventType(validating: frameType)
        if let type { lastType = LastFrameType(frame: typeFrame, type: type) }
        handleEvent(body, frameType: frameType, type: type, delivering: bus, at: now, recent: &recent, log: &log)
    }

    /// Decodes, filters, deduplicates and delivers an event message.
    /// - Parameters:
    ///   - body: frame 2.
    ///   - frameType: frame 1.
    ///   - type: frame 1 as a valid type, if it is one.
    ///   - now: when the batch it came in was received (monotonic nanoseconds).
    ///   - recent: the origin node and scope of the events decoded before, shared when repeated.
    private func handleEvent(
        _ body: [UInt8], frameType: String, type: EventType?, delivering bus: EventBus?, at now: UInt64,
        recent: inout EventCodec.RecentFields, log: inout RateLimitedLog
    ) {
        let event: Event
        do {
            if let type {
                event = try codec.decode(body, expecting: type, reusing: &recent)
            } else {
                event = try codec.decode(body, frameType: frameType)
            }
        } catch {
            state.withLockedValue { $0.stats.received += 1 }
            malformed(error.code.description, detail: error.description, log: &log)
            return
        }
        // Read once: each read of an event's origin copies it.
        let stamp = event.origin
        let eventOrigin = stamp.map { OriginID(node: $0.node, incarnation: $0.incarnation) }
        // One lock round trip per event: count it, drop an echo of our own, or ask dedup.
        let receiveAll = configuration.receiveAll
        let deliver = state.withLockedValue { state -> Bool in
            state.stats.received += 1
            if eventOrigin == origin {
                state.stats.ownEchoes += 1
                return false
            }
            // A prefix subscription can let in types no pattern matches: check exactly (the type
            // of the event before was checked already).
            if state.lastWantedType != frameType {
                guard Self.wants(event.type, patterns: state.patterns, receiveAll: receiveAll) else {
                    state.stats.filtered += 1
                    return false
                }
                state.lastWantedType = frameType
            }
            let verdict = state.dedup.admit(
                id: event.id, type: frameType, origin: eventOrigin, sequence: stamp?.sequence, now: now)
            return verdict == .deliver
        }
        if deliver { bus?.deliverRemote(event) }
    }

    private func handleReadiness(
        prefix: String, kind: String, body: [UInt8], readiness: inout Readiness, subscribed: Set<String>, log: inout RateLimitedLog
    ) {
        let message: MeshControlMessage?
        do {
            message = try MeshControlMessage.decode(frameType: kind, body: body, limits: codec.limits)
        } catch {
            malformed(error.code.description, detail: "readiness \(kind): \(error.description)", log: &log)
            return
        }
        state.withLockedValue { $0.stats.controlReceived += 1 }
        switch message {
        case .probe(let sender, let nonce)? where sender == origin:
            readiness.probeReturned(prefix: prefix, nonce: nonce)
        case .hello(let sender)? where sender != origin:
            readiness.helloReceived(prefix: prefix, from: sender)
        default:
            return  // another node's probe, or a kind this version does not know
        }
        guard readiness.isComplete(prefixes: subscribed, brokers: configuration.brokers.count, peers: configuration.peers.count) else { return }
        let waiters = state.withLockedValue { state -> [CheckedContinuation<Void, Never>]? in
            guard !state.isReady else { return nil }
            state.isReady = true
            defer { state.readyWaiters = [:] }
            return Array(state.readyWaiters.values)
        }
        guard let waiters else { return }
        logger.info("ready: subscriptions are live on every broker and peer", metadata: [
            "brokers": "\(configuration.brokers.count)", "peers": "\(configuration.peers.count)", "prefixes": "\(subscribed.sorted())"])
        for waiter in waiters { waiter.resume() }
    }

    private func handleControl(frameType: String, body: [UInt8], log: inout RateLimitedLog) {
        let message: MeshControlMessage?
        do {
            message = try MeshControlMessage.decode(frameType: frameType, body: body, limits: codec.limits)
        } catch {
            malformed(error.code.description, detail: "\(frameType): \(error.description)", log: &log)
            return
        }
        state.withLockedValue { $0.stats.controlReceived += 1 }
        guard let message else { return }
        switch message {
        case .probe, .hello:
            return  // readiness messages travel with a PREFIX NUL KIND frame 1
        case .heartbeat(let sender, let latest):
            guard sender != origin else { return }
            let now = monotonicNanoseconds()
            let receiveAll = configuration.receiveAll
            state.withLockedValue { state in
                // Only the types this node listens to: the others are not missing, just unwanted.
                let wanted = receiveAll ? latest : latest.filter { Self.wants(EventType(unchecked: $0.key), patterns: state.patterns, receiveAll: false) }
                state.dedup.announce(sender, latest: wanted, now: now)
            }
        case .nodeLeft(let sender):
            guard sender != origin else { return }
            logger.info("node left", metadata: ["origin": "\(sender)"])
        }
    }

    private func malformed(_ kind: String, detail: String, log: inout RateLimitedLog) {
        state.withLockedValue { $0.stats.malformed[kind, default: 0] += 1 }
        if log.shouldLog(kind, now: monotonicNanoseconds()) {
            logger.warning("malformed message dropped", metadata: ["class": "\(kind)", "detail": "\(detail)"])
        }
    }
}

/// What proves a node's subscriptions live: its own probes back through every broker, and a
/// hello from every peer, for each subscribed prefix.
struct Readiness {
    /// The probe round in flight.
    private(set) var nonce: UInt64
    /// Own probes of this round back, per prefix.
    private var copies: [String: Int] = [:]
    /// Peers that confirmed each prefix (kept across rounds: a peer says it once).
    private var hellos: [String: Set<OriginID>] = [:]

    init(nonce: UInt64) { self.nonce = nonce }

    mutating func startRound(nonce: UInt64) {
        self.nonce = nonce
        copies = [:]
    }

    mutating func probeReturned(prefix: String, nonce: UInt64) {
        guard nonce == self.nonce else { return }
        copies[prefix, default: 0] += 1
    }

    mutating func helloReceived(prefix: String, from peer: OriginID) {
        hellos[prefix, default: []].insert(peer)
    }

    /// Whether every prefix came back through `brokers` brokers and was confirmed by `peers` peers.
    func isComplete(prefixes: Set<String>, brokers: Int, peers: Int) -> Bool {
        !prefixes.isEmpty && prefixes.allSatisfy { prefix in
            copies[prefix, default: 0] >= brokers && hellos[prefix, default: []].count >= peers
        }
    }
}

/// The frame 1 of the last event message received, and the valid type it names.
struct LastFrameType {
    var frame: [UInt8] = []
    var type: EventType?
}

/// At most one log line per class per second.
struct RateLimitedLog {
    private var lastLogged: [String: UInt64] = [:]

    mutating func shouldLog(_ kind: String, now: UInt64) -> Bool {
        if let last = lastLogged[kind], now &- last < 1_000_000_000 { return false }
        lastLogged[kind] = now
        return true
    }
}

/// One event of a node's history, as the `history` control request lists it.
struct HistoryEntry: Codable {
    var id: String
    var type: String
    var node: String
}
