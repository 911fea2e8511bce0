import CZeroMQ

// Typed socket options. Each throws ZMQError (`invalidArgument`) if libzmq rejects the value or
// the option does not apply to the socket's kind.
extension ZMQSocket {
    /// How long closing the socket waits to flush unsent messages: 0 drops them at once, `nil`
    /// waits forever (libzmq's own default, never used here unless asked for).
    /// - Parameter milliseconds: the linger period.
    /// - Throws: ``ZMQError``.
    public func setLinger(milliseconds: Int?) throws(ZMQError) {
        try setOption(ZMQ_LINGER, Int32(clamping: milliseconds ?? -1), name: "ZMQ_LINGER")
    }

    /// The most messages queued for sending per peer before the socket drops (PUB, XPUB) or
    /// blocks (the others); 0 means no limit.
    /// - Parameter messages: the limit.
    /// - Throws: ``ZMQError``.
    public func setSendHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setOption(ZMQ_SNDHWM, Int32(clamping: messages), name: "ZMQ_SNDHWM")
    }

    /// The most messages queued on receipt per peer; 0 means no limit.
    /// - Parameter messages: the limit.
    /// - Throws: ``ZMQError``.
    public func setReceiveHighWaterMark(_ messages: Int) throws(ZMQError) {
        try setOption(ZMQ_RCVHWM, Int32(clamping: messages), name: "ZMQ_RCVHWM")
    }

    /// Subscribes a SUB socket to messages whose first frame starts with `prefix` (empty: all).
    /// - Parameter prefix: the prefix.
    /// - Throws: ``ZMQError``.
    public func subscribe(to prefix: String) throws(ZMQError) {
        try setOption(ZMQ_SUBSCRIBE, bytes: Array(prefix.utf8), name: "ZMQ_SUBSCRIBE")
    }

    /// Removes one ``subscribe(to:)`` of the same prefix.
    /// - Parameter prefix: the prefix.
    /// - Throws: ``ZMQError``.
    public func unsubscribe(from prefix: String) throws(ZMQError) {
        try setOption(ZMQ_UNSUBSCRIBE, bytes: Array(prefix.utf8), name: "ZMQ_UNSUBSCRIBE")
    }

    /// How soon a connecting socket retries after a failed or lost connection, doubling up to
    /// `maximum` (0: no back-off).
    /// - Parameters:
    ///   - milliseconds: the first retry interval.
    ///   - maximum: the longest interval.
    /// - Throws: ``ZMQError``.
    public func setReconnectInterval(milliseconds: Int, maximum: Int = 0) throws(ZMQError) {
        try setOption(ZMQ_RECONNECT_IVL, Int32(clamping: milliseconds), name: "ZMQ_RECONNECT_IVL")
        try setOption(ZMQ_RECONNECT_IVL_MAX, Int32(clamping: maximum), name: "ZMQ_RECONNECT_IVL_MAX")
    }

    /// ZMTP heartbeats: a PING every `interval`; a connection that answers nothing within
    /// `timeout` is closed (and, on the connecting side, reconnected); `ttl` tells the peer how
    /// long to wait for our next ping.
    ///
    /// Caution with libzmq 4.3.4: on a connection whose receiving side has stopped reading (its
    /// queue full at the high-water mark), a heartbeat timeout followed by the reconnect can
    /// abort the process with `Assertion failed: _input_stopped` (libzmq issue 3937). The mesh
    /// uses ``setTCPKeepalive(idle:interval:count:)`` instead.
    /// - Parameters:
    ///   - interval: milliseconds between pings (0 turns heartbeats off).
    ///   - timeout: milliseconds to wait for any traffic after a ping.
    ///   - ttl: milliseconds the peer should wait for traffic from us (0: no limit).
    /// - Throws: ``ZMQError``.
    public func setHeartbeat(interval: Int, timeout: Int, ttl: Int = 0) throws(ZMQError) {
        try setOption(ZMQ_HEARTBEAT_IVL, Int32(clamping: interval), name: "ZMQ_HEARTBEAT_IVL")
        try setOption(ZMQ_HEARTBEAT_TIMEOUT, Int32(clamping: timeout), name: "ZMQ_HEARTBEAT_TIMEOUT")
        try setOption(ZMQ_HEARTBEAT_TTL, Int32(clamping: ttl), name: "ZMQ_HEARTBEAT_TTL")
    }

    /// TCP keepalive: the kernel probes an idle connection after `idle` seconds, every
    /// `interval` seconds, and drops it after `count` unanswered probes. Unlike ZMTP heartbeats
    /// (``setHeartbeat(interval:timeout:ttl:)``) it works while the application is not reading,
    /// so a slow subscriber with a full queue is not disconnected for it.
    /// - Parameters:
    ///   - idle: seconds of silence before the first probe.
    ///   - interval: seconds between probes.
    ///   - count: unanswered probes before the connection is dropped.
    /// - Throws: ``ZMQError``.
    public func setTCPKeepalive(idle: Int, interval: Int, count: Int) throws(ZMQError) {
        try setOption(ZMQ_TCP_KEEPALIVE, Int32(1), name: "ZMQ_TCP_KEEPALIVE")
        try setOption(ZMQ_TCP_KEEPALIVE_IDLE, Int32(clamping: idle), name: "ZMQ_TCP_KEEPALIVE_IDLE")
        try setOption(ZMQ_TCP_KEEPALIVE_INTVL, Int32(clamping: interval), name: "ZMQ_TCP_KEEPALIVE_INTVL")
        try setOption(ZMQ_TCP_KEEPALIVE_CNT, Int32(clamping: count), name: "ZMQ_TCP_KEEPALIVE_CNT")
    }

    /// The largest message (all frames together) the socket accepts from a peer; a peer that
    /// sends a larger one is disconnected. `nil`: no limit.
    /// - Parameter bytes: the limit.
    /// - Throws: ``ZMQError``.
    public func setMaximumMessageSize(_ bytes: Int?) throws(ZMQError) {
        try setOption(ZMQ_MAXMSGSIZE, Int64(bytes ?? -1), name: "ZMQ_MAXMSGSIZE")
    }

    /// For XPUB: block (or report "would block") at the high-water mark instead of dropping.
    /// - Parameter enabled: whether to keep messages at the high-water mark.
    /// - Throws: ``ZMQError``.
    public func setXPubNoDrop(_ enabled: Bool) throws(ZMQError) {
        try setOption(ZMQ_XPUB_NODROP, Int32(enabled ? 1 : 0), name: "ZMQ_XPUB_NODROP")
    }

    /// For XPUB: pass every subscription message up, duplicates included (not only the first
    /// per prefix), and with `unsubscriptions` every unsubscription too.
    /// - Parameters:
    ///   - enabled: whether to pass duplicate subscriptions.
    ///   - unsubscriptions: whether to pass every unsubscription as well (`ZMQ_XPUB_VERBOSER`).
    /// - Throws: ``ZMQError``.
    public func setXPubVerbose(_ enabled: Bool, unsubscriptions: Bool = false) throws(ZMQError) {
        if unsubscriptions {
            try setOption(ZMQ_XPUB_VERBOSER, Int32(enabled ? 1 : 0), name: "ZMQ_XPUB_VERBOSER")
        } else {
            try setOption(ZMQ_XPUB_VERBOSE, Int32(enabled ? 1 : 0), name: "ZMQ_XPUB_VERBOSE")
        }
    }

    /// The kernel's socket buffer sizes (`SO_SNDBUF`, `SO_RCVBUF`) for the socket's TCP
    /// connections; `nil` keeps the OS default (which grows on its own, to megabytes on
    /// loopback). Small buffers make a full queue show up at the high-water mark sooner.
    /// - Parameters:
    ///   - send: the send buffer in bytes.
    ///   - receive: the receive buffer in bytes.
    /// - Throws: ``ZMQError``.
    public func setKernelBuffers(send: Int?, receive: Int?) throws(ZMQError) {
        try setOption(ZMQ_SNDBUF, Int32(clamping: send ?? -1), name: "ZMQ_SNDBUF")
        try setOption(ZMQ_RCVBUF, Int32(clamping: receive ?? -1), name: "ZMQ_RCVBUF")
    }

    /// Queue messages only to completed connections (not to peers still connecting).
    /// - Parameter enabled: whether to wait for completed connections.
    /// - Throws: ``ZMQError``.
    public func setImmediate(_ enabled: Bool) throws(ZMQError) {
        try setOption(ZMQ_IMMEDIATE, Int32(enabled ? 1 : 0), name: "ZMQ_IMMEDIATE")
    }

    /// How long a blocking send waits before failing with `wouldBlock` (`nil`: forever).
    /// - Parameter milliseconds: the timeout.
    /// - Throws: ``ZMQError``.
    public func setSendTimeout(milliseconds: Int?) throws(ZMQError) {
        try setOption(ZMQ_SNDTIMEO, Int32(clamping: milliseconds ?? -1), name: "ZMQ_SNDTIMEO")
    }

    /// How long a blocking receive waits before returning `nil` (`nil`: forever).
    /// - Parameter milliseconds: the timeout.
    /// - Throws: ``ZMQError``.
    public func setReceiveTimeout(milliseconds: Int?) throws(ZMQError) {
        try setOption(ZMQ_RCVTIMEO, Int32(clamping: milliseconds ?? -1), name: "ZMQ_RCVTIMEO")
    }

    /// The identity a ROUTER peer sees for this socket (1–255 bytes).
    /// - Parameter id: the routing id.
    /// - Throws: ``ZMQError``.
    public func setRoutingID(_ id: [UInt8]) throws(ZMQError) {
        try setOption(ZMQ_ROUTING_ID, bytes: id, name: "ZMQ_ROUTING_ID")
    }

    /// For ROUTER: the routing id the peer of the next `connect` gets on this socket (1–255
    /// bytes), so that a ROUTER can address a peer it connected to by a name of its choice.
    /// - Parameter id: the routing id.
    /// - Throws: ``ZMQError``.
    public func setConnectRoutingID(_ id: [UInt8]) throws(ZMQError) {
        try setOption(ZMQ_CONNECT_ROUTING_ID, bytes: id, name: "ZMQ_CONNECT_ROUTING_ID")
    }

    /// For ROUTER: fail a send to an unknown peer (`EHOSTUNREACH`) instead of dropping it.
    /// - Parameter enabled: whether to report unroutable messages.
    /// - Throws: ``ZMQError``.
    public func setRouterMandatory(_ enabled: Bool) throws(ZMQError) {
        try setOption(ZMQ_ROUTER_MANDATORY, Int32(enabled ? 1 : 0), name: "ZMQ_ROUTER_MANDATORY")
    }

    /// For ROUTER: when a peer connects with a routing id already in use, hand the id over to
    /// the new connection instead of refusing it (a restarted peer takes its name back at once).
    /// - Parameter enabled: whether to hand routing ids over.
    /// - Throws: ``ZMQError``.
    public func setRouterHandover(_ enabled: Bool) throws(ZMQError) {
        try setOption(ZMQ_ROUTER_HANDOVER, Int32(enabled ? 1 : 0), name: "ZMQ_ROUTER_HANDOVER")
    }

    /// Whether the last frame received has more frames after it.
    public var hasMoreFrames: Bool {
        get throws(ZMQError) { try intOption(ZMQ_RCVMORE, name: "ZMQ_RCVMORE") != 0 }
    }
}
