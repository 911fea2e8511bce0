import EventMesh
import ZeroMQ

/// Publishes raw frames into a broker, as a buggy or hostile client would.
final class ZMQGarbageSender {
    let context = ZMQContext()
    let socket: ZMQSocket

    init(broker: BrokerAddress) throws {
        socket = try ZMQSocket(context, .pub)
        try socket.connect(broker.publishEndpoint)
    }

    func send(_ frames: [[UInt8]]) {
        _ = try? socket.send(frames: frames)
    }
}
