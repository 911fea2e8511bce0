import ZeroMQ

/// Asks a node or broker's control endpoint a question (`stats`, `health`, `history`) and
/// returns its JSON reply.
///
/// ```swift
/// let json = try ControlClient.request("stats", to: "tcp://127.0.0.1:7001")
/// ```
public enum ControlClient {
    /// Sends one request and waits for the reply.
    /// - Parameters:
    ///   - request: `stats`, `health` or `history`.
    ///   - endpoint: the control endpoint, e.g. `tcp://127.0.0.1:7001`.
    ///   - timeoutMilliseconds: how long to wait for the reply (default 2000).
    /// - Returns: the reply, JSON.
    /// - Throws: ``MeshError`` — `timedOut` if nothing answered in time, `socket` for a
    ///   malformed endpoint.
    public static func request(_ request: String, to endpoint: String, timeoutMilliseconds: Int = 2000) throws(MeshError) -> [UInt8] {
        do {
            let context = ZMQContext()
            let socket = try ZMQSocket(context, .req)
            try socket.setReceiveTimeout(milliseconds: timeoutMilliseconds)
            try socket.setSendTimeout(milliseconds: timeoutMilliseconds)
            try socket.setMaximumMessageSize(64 << 20)
            try socket.connect(endpoint)
            guard try socket.send(request) else {
                throw MeshError(.timedOut, "could not send to \(endpoint) within \(timeoutMilliseconds) ms")
            }
            guard let reply = try socket.receive() else {
                throw MeshError(.timedOut, "no reply from \(endpoint) within \(timeoutMilliseconds) ms (is a node or broker with that control endpoint running?)")
            }
            return reply.first ?? []
        } catch let error as MeshError {
            throw error
        } catch {
            throw MeshError(.socket, "cannot ask \(endpoint)", cause: error)
        }
    }
}
