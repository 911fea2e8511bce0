public import Foundation
public import Logging
import EventBus
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A bench agent (`mesh bench agent`): runs on any host and starts load-test workers there on
/// a coordinator's orders (`mesh bench fanout --agents …`).
///
/// It binds a ROUTER socket for coordinators (the bench's control channel, never the mesh
/// under test) and one on the loopback interface for its workers. Each worker is a
/// `mesh bench worker` child process that reports to the agent; the agent passes reports up to
/// the coordinator and commands down to the worker, answers `ping` with its host's facts and
/// clocks (from which the coordinator measures the round trip and the clock offset), and tells
/// the coordinator when a worker exits. It serves one run after another until stopped.
public final class BenchAgent: @unchecked Sendable {
    // @unchecked: the sockets are used only by the thread in ``run()``; the one thing other
    // threads touch, the stop flag, is behind its lock.
    /// An agent's settings.
    public struct Options: Sendable {
        /// Where coordinators connect, e.g. `tcp://0.0.0.0:7700` (`*` for an OS-assigned port).
        public var listen: String
        /// The agent's name in reports (default: the host name).
        public var name: String
        /// The `mesh` executable its workers run.
        public var executable: URL

        /// Makes options.
        /// - Parameters:
        ///   - listen: where coordinators connect.
        ///   - name: the agent's name; `nil` for the host name.
        ///   - executable: the `mesh` executable to run workers with.
        public init(listen: String, name: String? = nil, executable: URL) {
            self.listen = listen
            self.name = name ?? HostFacts.hostname
            self.executable = executable
        }
    }

    private let options: Options
    private let logger: Logger
    private let context = ZMQContext()
    private let upstream: ZMQSocket
    private let workerSocket: ZMQSocket
    /// The endpoint coordinators connect to, ports read back.
    public let endpoint: String
    private let workerEndpoint: String
    private let stopping = LockedValueBox(false)

    /// Binds the agent's sockets.
    /// - Parameters:
    ///   - options: its settings.
    ///   - logger: where it logs each worker started and exited.
    /// - Throws: ``MeshError`` (`socket`) if an endpoint cannot be bound.
    public init(_ options: Options, logger: Logger) throws(MeshError) {
        self.options = options
        self.logger = logger
        do {
            upstream = try ZMQSocket(context, .router)
            try upstream.bind(options.listen)
            endpoint = try upstream.lastEndpoint
        } catch {
            throw MeshError(.socket, "cannot bind the bench agent on \(options.listen)", cause: error)
        }
        do {
            workerSocket = try ZMQSocket(context, .router)
            // The next run's worker of the same name may connect before the last one's
            // connection is gone.
            try workerSocket.setRouterHandover(true)
            try workerSocket.bind("tcp://127.0.0.1:*")
            workerEndpoint = try workerSocket.lastEndpoint
        } catch {
            throw MeshError(.socket, "cannot bind the bench agent's worker socket", cause: error)
        }
    }

    /// Asks ``run()`` to return (from any thread, e.g. a signal handler's task).
    public func stop() {
        stopping.withLockedValue { $0 = true }
    }

    /// Stops a worker: SIGTERM, then SIGKILL if it is still running 3 s later, so that a
    /// worker that hangs cannot hold up the agent.
    private static func end(_ process: Process) {
        guard process.isRunning else { return }
        process.terminate()
        let deadline = monotonicNanoseconds() + 3_000_000_000
        while process.isRunning && monotonicNanoseconds() < deadline {
            var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&pause, nil)
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Serves coordinators until ``stop()``; every worker still running is terminated on the
    /// way out.
    public func run() {
        // Each worker with the coordinator that started it: its reports (and the news of its
        // exit) go to that one only, so a worker of an earlier run can never be taken for one
        // of the next.
        var workers: [String: (process: Process, coordinator: [UInt8])] = [:]
        // Kept after a worker exits, for what it sent just before.
        var routes: [String: [UInt8]] = [:]
        defer {
            for worker in workers.values { Self.end(worker.process) }
        }
        func report(_ report: BenchControl.Report, to coordinator: [UInt8]) {
            guard let body = try? JSONEncoder().encode(report) else { return }
            _ = try? upstream.send(frames: [coordinator, Array(body)], wait: false)
        }
        let poller = ZMQPoller()
        let upstreamIndex = poller.add(upstream)
        let workerIndex = poller.add(workerSocket)
        while !stopping.withLockedValue({ $0 }) {
            _ = try? poller.poll(timeoutMilliseconds: 100)
            if poller.isReadable(upstreamIndex) {
                while let frames = (try? upstream.receive(wait: false)) ?? nil {
                    guard frames.count == 2, let command = try? JSONDecoder().decode(BenchControl.Command.self, from: Data(frames[1])) else {
                        logger.warning("bench agent: dropped a malformed control message", metadata: ["frames": "\(frames.count)"])
                        continue
                    }
                    let coordinator = frames[0]
                    switch command.kind {
                    case "ping":
                        report(BenchControl.Report(kind: "pong", worker: options.name, agent: .current(name: options.name), nonce: command.nonce), to: coordinator)
                    case "spawn":
                        guard let name = command.worker, let arguments = command.arguments else { continue }
                        if let old = workers[name]?.process, old.isRunning {
                            // A worker of an earlier run that did not stop: it would take the name.
                            Self.end(old)
                        }
                        let process = Process()
                        process.executableURL = options.executable
                        process.arguments = ["bench", "worker"] + arguments + ["--control", workerEndpoint]
                        do {
                            try process.run()
                            workers[name] = (process, coordinator)
                            routes[name] = coordinator
                            logger.info("bench agent: started worker", metadata: ["worker": "\(name)", "pid": "\(process.processIdentifier)"])
                        } catch {
                            workers[name] = nil
                            logger.error("bench agent: cannot start worker", metadata: ["worker": "\(name)", "error": "\(error)"])
                            report(BenchControl.Report(kind: "exited", worker: name, status: -1), to: coordinator)
                        }
                    default:
                        // A worker's command: passed on as it came.
                        guard let name = command.worker else { continue }
                        _ = try? workerSocket.send(frames: [Array(name.utf8), frames[1]])
                    }
                }
            }
            if poller.isReadable(workerIndex) {
                while let frames = (try? workerSocket.receive(wait: false)) ?? nil {
                    guard frames.count == 2, let coordinator = routes[String(decoding: frames[0], as: UTF8.self)] else { continue }
                    _ = try? upstream.send(frames: [coordinator, frames[1]], wait: false)
                }
            }
            for (name, worker) in workers where !worker.process.isRunning {
                logger.info("bench agent: worker exited", metadata: ["worker": "\(name)", "status": "\(worker.process.terminationStatus)"])
                report(BenchControl.Report(kind: "exited", worker: name, status: worker.process.terminationStatus), to: worker.coordinator)
                workers[name] = nil
            }
        }
    }
}
