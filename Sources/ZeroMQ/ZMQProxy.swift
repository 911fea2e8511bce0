#if canImport(Glibc)
import Glibc
#endif
import CZeroMQ

/// libzmq's built-in forwarder (`zmq_proxy_steerable`): moves messages between two sockets
/// until told to stop on a control socket. The raw baseline of the mesh's benchmarks.
public enum ZMQProxy {
    /// Forwards between `frontend` and `backend` on the calling thread until a `TERMINATE`
    /// message arrives on `control` (send it from a PAIR or PUB socket connected to it).
    /// - Parameters:
    ///   - frontend: e.g. an XSUB publishers connect to.
    ///   - backend: e.g. an XPUB subscribers connect to.
    ///   - control: the socket to listen on for `TERMINATE` (a SUB subscribed to everything, or a PAIR).
    /// - Throws: ``ZMQError`` if a socket is closed or the proxy fails.
    public static func run(frontend: ZMQSocket, backend: ZMQSocket, control: ZMQSocket) throws(ZMQError) {
        let front = try frontend.open("zmq_proxy_steerable")
        let back = try backend.open("zmq_proxy_steerable")
        let steer = try control.open("zmq_proxy_steerable")
        while true {
            if zmq_proxy_steerable(front, back, nil, steer) == 0 { return }
            let code = zmq_errno()
            if code == EINTR { continue }
            throw ZMQError(code: ZMQError.Code(code), operation: "zmq_proxy_steerable")
        }
    }
}
