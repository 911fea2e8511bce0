import Foundation

/// Reads the read end of a child's pipe to its end with blocking reads on a thread of its own.
///
/// Not `FileHandle.readabilityHandler`: on Linux, tearing down its dispatch read source races
/// with other sources and crashes libdispatch's event loop now and then (a use-after-free of
/// its epoll bookkeeping; swift-corelibs-libdispatch issue 949). A blocking read registers
/// nothing with libdispatch.
enum PipeReader {
    /// Starts the reading thread.
    /// - Parameters:
    ///   - pipe: the pipe whose read end is read (kept open until the end is reached).
    ///   - chunk: called on the reading thread with each chunk read.
    ///   - end: called on the reading thread once, at end of file (or a read error).
    static func start(_ pipe: Pipe, chunk: @escaping @Sendable ([UInt8]) -> Void, end: @escaping @Sendable () -> Void) {
        let handle = pipe.fileHandleForReading
        let thread = Thread {
            let descriptor = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    chunk(Array(buffer[..<count]))
                } else if count < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
            end()
        }
        thread.start()
    }
}
