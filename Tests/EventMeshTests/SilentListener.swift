import EventBus
import Foundation

/// A TCP listener on 127.0.0.1 that accepts connections and never reads from them: a broker
/// that has hung.
final class SilentListener: @unchecked Sendable {
    // @unchecked: `acceptedCount` is behind its lock; the descriptors are set in init.
    let port: Int
    private let listening: Int32
    private let acceptedCount = LockedValueBox<[Int32]>([])
    private let thread: Thread

    var accepted: Int { acceptedCount.withLockedValue { $0.count } }

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw MeshProcessError("socket failed") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else { throw MeshProcessError("bind/listen failed") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        listening = fd
        let box = acceptedCount
        thread = Thread {
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 { return }
                box.withLockedValue { $0.append(connection) }
            }
        }
        thread.start()
    }

    func close() {
        shutdown(listening, Int32(SHUT_RDWR))
        Glibc.close(listening)
        for connection in acceptedCount.withLockedValue({ $0 }) { Glibc.close(connection) }
    }
}
