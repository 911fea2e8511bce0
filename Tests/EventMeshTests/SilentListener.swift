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
        let (fd, port) = try loopbackSocket(listening: true)
        self.port = port
        listening = fd
        let box = acceptedCount
        thread = Thread {
            while true {
                let connection = accept(fd, nil, nil)
                if connection < 0 { return }
                box.withLockedValue { $0.append(connection) }
                Activity.shared.signal()
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
