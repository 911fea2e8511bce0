import EventBus
import Foundation

/// A TCP forwarder on 127.0.0.1 that counts the bytes it carries from the target to the
/// client: the link of one node, measured on the wire.
final class CountingForwarder: @unchecked Sendable {
    // @unchecked: counters and descriptors are behind locks; `port` and `listening` are set in init.
    let port: Int
    private let listening: Int32
    private let downstream = LockedValueBox<Int>(0)
    private let descriptors = LockedValueBox<[Int32]>([])

    /// Bytes carried from the target to the connected client so far.
    var bytesToClient: Int { downstream.withLockedValue { $0 } }

    /// Forwards every connection made to `port` to 127.0.0.1:`targetPort`.
    init(targetPort: Int) throws {
        let (fd, port) = try loopbackSocket(listening: true)
        self.port = port
        listening = fd
        let downstream = self.downstream
        let descriptors = self.descriptors
        Thread.detachNewThread {
            while true {
                let client = accept(fd, nil, nil)
                if client < 0 { return }
                let target = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var targetAddress = Self.loopback(port: targetPort)
                let connected = withUnsafePointer(to: &targetAddress) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(target, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                guard connected == 0 else {
                    Glibc.close(client)
                    Glibc.close(target)
                    continue
                }
                descriptors.withLockedValue { $0 += [client, target] }
                Thread.detachNewThread { Self.pump(from: target, to: client, counter: downstream) }
                Thread.detachNewThread { Self.pump(from: client, to: target, counter: nil) }
            }
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private static func pump(from source: Int32, to destination: Int32, counter: LockedValueBox<Int>?) {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(source, &buffer, buffer.count)
            if count <= 0 { break }
            counter?.withLockedValue { $0 += count }
            var offset = 0
            while offset < count {
                // send with MSG_NOSIGNAL, not write: once close() shuts the link, a write would
                // raise SIGPIPE and end the whole test process.
                let written = buffer.withUnsafeBytes {
                    send(destination, $0.baseAddress! + offset, count - offset, Int32(MSG_NOSIGNAL))
                }
                if written <= 0 { return }
                offset += written
            }
        }
        shutdown(destination, Int32(SHUT_WR))
    }

    func close() {
        shutdown(listening, Int32(SHUT_RDWR))
        Glibc.close(listening)
        for descriptor in descriptors.withLockedValue({ $0 }) { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }
}
