import FoundationEssentials
import ZeroMQ

/// The request/reply socket on which a node or broker answers `stats`, `health` and `history`
/// requests with JSON (docs/WIRE.md, "Control endpoint"). Lives on its owner's I/O thread.
final class ControlEndpoint {
    /// The socket, for the owner's poller.
    let socket: ZMQSocket
    /// The bound endpoint, with the port read back.
    let endpoint: String

    /// Binds a REP socket.
    /// - Parameters:
    ///   - context: the owner's context.
    ///   - bind: where to bind, e.g. `tcp://127.0.0.1:*`.
    init(context: ZMQContext, bind: String) throws(ZMQError) {
        socket = try ZMQSocket(context, .rep)
        try socket.setMaximumMessageSize(4096)
        try socket.bind(bind)
        endpoint = try socket.lastEndpoint
    }

    /// Answers every pending request with `answer(request)`.
    func serve(_ answer: (String) -> [UInt8]) {
        while let frames = try? socket.receive(wait: false) {
            let request = frames.first.flatMap { String(validating: $0, as: UTF8.self) } ?? ""
            _ = try? socket.send(answer(request.trimmingWhitespace()))
        }
    }

    /// JSON of `value` (keys sorted), or an error object.
    static func json(_ value: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Array(try encoder.encode(value))
        } catch {
            return Array("{\"error\":\"cannot encode the reply\"}".utf8)
        }
    }

    /// The reply to a request nobody answers.
    static func unknown(_ request: String) -> [UInt8] {
        json(["error": "unknown request \"\(request.prefix(64))\"; ask stats, health or history"])
    }
}

/// A health reply: `healthy` is what `mesh health` exits on.
struct HealthReply: Codable {
    var healthy: Bool
    var role: String
    var detail: String
    /// How many endpoints a node connects to (two a broker, one a peer), and how many of them
    /// are connected now.
    var endpoints: Int?
    var connectedEndpoints: Int?
}
