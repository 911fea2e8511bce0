import Dispatch
import EventBus
import FoundationEssentials
import Histogram
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The raw baseline of a load test: the same traffic shape over bare libzmq PUB/SUB — through a
/// `zmq_proxy` per broker, or publishers bound and subscribers connected to each (the peer
/// topology) — with a 24-byte header instead of the mesh's envelope (publisher index, its top
/// bit set for a warm-up event; sequence; scheduled send time, all big-endian), no dedup and
/// no loss accounting of its own.
enum RawBench {
    static let eventFrame = Array("bench.event".utf8)
    static let helloFrame = Array("bench.hello".utf8)

    /// A `zmq_proxy` (XSUB ⇄ XPUB) on a thread of its own, stopped with `TERMINATE`.
    final class Proxy: Sendable {
        let address: BrokerAddress
        private let thread: IOThread
        private let stopEndpoint: String

        /// - Parameters:
        ///   - highWaterMark: both sides' high-water mark.
        ///   - host: the address both sides bind on (ports are OS-assigned).
        init(highWaterMark: Int, host: String = "127.0.0.1") throws(MeshError) {
            let started = LockedValueBox<Result<BrokerAddress, MeshError>?>(nil)
            let semaphore = DispatchSemaphore(value: 0)
            let stopEndpoint = "inproc://raw-proxy-stop-\(UInt64.random(in: 1...UInt64.max))"
            let context = ZMQContext()
            thread = IOThread(name: "raw-proxy") {
                do {
                    let frontend = try ZMQSocket(context, .xsub)
                    let backend = try ZMQSocket(context, .xpub)
                    let control = try ZMQSocket(context, .pair)
                    try frontend.setReceiveHighWaterMark(highWaterMark)
                    try backend.setSendHighWaterMark(highWaterMark)
                    try frontend.bind("tcp://\(host):*")
                    try backend.bind("tcp://\(host):*")
                    try control.bind(stopEndpoint)
                    started.withLockedValue {
                        $0 = .success(BrokerAddress(publishEndpoint: (try? frontend.lastEndpoint) ?? "", subscribeEndpoint: (try? backend.lastEndpoint) ?? ""))
                    }
                    semaphore.signal()
                    try? ZMQProxy.run(frontend: frontend, backend: backend, control: control)
                } catch {
                    started.withLockedValue { $0 = .failure(MeshError(.socket, "cannot start the raw proxy", cause: error)) }
                    semaphore.signal()
                }
            }
            semaphore.wait()
            switch started.withLockedValue({ $0 })! {
            case .success(let address): self.address = address
            case .failure(let error):
                thread.join()
                throw error
            }
            self.stopEndpoint = stopEndpoint
            self.stopContext = context
        }

        private let stopContext: ZMQContext

        func stop() {
            if let stopper = try? ZMQSocket(stopContext, .pair) {
                try? stopper.connect(stopEndpoint)
                _ = try? stopper.send("TERMINATE")
            }
            thread.join()
        }
    }

    /// Runs a raw worker: the same orders and reports as ``BenchWorker``, over bare sockets.
    static func run(_ options: BenchWorker.Options, control: ZMQSocket, report: (BenchControl.Report) -> Void) throws(MeshError) {
        let context = ZMQContext()
        let data: ZMQSocket
        do {
            if options.role == .publisher {
                data = try ZMQSocket(context, .pub)
                try data.setSendHighWaterMark(options.mesh.sendHighWaterMark)
                if let bind = options.rawBindEndpoint { try data.bind(bind) }
                for broker in options.mesh.brokers { try data.connect(broker.publishEndpoint) }
            } else {
                data = try ZMQSocket(context, .sub)
                try data.setReceiveHighWaterMark(options.mesh.receiveHighWaterMark)
                try data.subscribe(to: "bench.")
                for broker in options.mesh.brokers { try data.connect(broker.subscribeEndpoint) }
                for peer in options.rawPeers { try data.connect(peer) }
            }
        } catch {
            throw MeshError(.socket, "cannot connect the raw worker \(options.name)", cause: error)
        }
        let endpoint = options.rawBindEndpoint == nil ? nil : try? data.lastEndpoint
        report(BenchControl.Report(kind: "hello", worker: options.name, endpoint: endpoint))
        if options.role == .publisher {
            runPublisher(options, data: data, control: control, report: report)
        } else {
            runSubscriber(options, data: data, control: control, report: report)
        }
    }

    private static func command(_ control: ZMQSocket, timeoutMilliseconds: Int) -> BenchControl.Command? {
        let poller = ZMQPoller()
        poller.add(control)
        guard (try? poller.poll(timeoutMilliseconds: timeoutMilliseconds)) ?? 0 > 0,
              let frames = (try? control.receive(wait: false)) ?? nil, let body = frames.last
        else { return nil }
        return try? JSONDecoder().decode(BenchControl.Command.self, from: Data(body))
    }

    private static func runPublisher(_ options: BenchWorker.Options, data: ZMQSocket, control: ZMQSocket, report: (BenchControl.Report) -> Void) {
        report(BenchControl.Report(kind: "ready", worker: options.name))
        let index = UInt64(options.name.split(separator: "-").last.flatMap { UInt64($0) } ?? 0)
        let hello = withUnsafeBytes(of: index.bigEndian) { Array($0) }
        while true {
            // Until the start: hellos, so that subscribers can tell their subscription is live.
            _ = try? data.send(frames: [helloFrame, hello])
            guard let command = command(control, timeoutMilliseconds: 20) else { continue }
            if command.kind == "stop" { return }
            if command.kind == "start" { break }
        }
        var body = [UInt8](repeating: 0x2a, count: 24 + max(0, options.payloadBytes))
        let schedule = PublishSchedule(
            rate: options.rate, count: options.count, durationSeconds: options.durationSeconds, warmupSeconds: options.warmupSeconds,
            clock: options.clock)
        var published: UInt64 = 0
        var sequence: UInt64 = 1
        while let (scheduled, warmup) = schedule.next(sequence) {
            let tagged = warmup ? index | 1 << 63 : index
            withUnsafeBytes(of: tagged.bigEndian) { body.replaceSubrange(0..<8, with: $0) }
            withUnsafeBytes(of: sequence.bigEndian) { body.replaceSubrange(8..<16, with: $0) }
            withUnsafeBytes(of: scheduled.bigEndian) { body.replaceSubrange(16..<24, with: $0) }
            if (try? data.send(eventFrame, more: true)) == true, (try? data.send(body)) == true { published += 1 }
            sequence += 1
        }
        report(BenchControl.Report(kind: "done", worker: options.name, published: published))
        while command(control, timeoutMilliseconds: 100)?.kind != "stop" {}
    }

    private static func runSubscriber(_ options: BenchWorker.Options, data: ZMQSocket, control: ZMQSocket, report: (BenchControl.Report) -> Void) {
        var counts = BenchCounts()
        counts.clock = options.clock
        // Ready once a hello from every publisher has arrived: the subscription is live on
        // each path.
        var greeted = Set<[UInt8]>()
        var ready = false
        var published: [String: UInt64]?
        var resultSent = false
        var memory = MemorySampler()
        let poller = ZMQPoller()
        let dataIndex = poller.add(data)
        let controlIndex = poller.add(control)
        while true {
            if memory.sample(), ready, !resultSent {
                report(BenchControl.Report(kind: "progress", worker: options.name, progress: counts.progress))
            }
            _ = try? poller.poll(timeoutMilliseconds: 100)
            if poller.isReadable(dataIndex) {
                while let frames = (try? data.receive(wait: false)) ?? nil {
                    guard frames.count == 2 else { continue }
                    if frames[0] == helloFrame {
                        guard !ready else { continue }
                        greeted.insert(frames[1])
                        if greeted.count >= options.publishers {
                            ready = true
                            report(BenchControl.Report(kind: "ready", worker: options.name))
                        }
                        continue
                    }
                    guard frames[0] == eventFrame, frames[1].count >= 24 else { continue }
                    let header = frames[1]
                    func load(_ at: Int) -> UInt64 { header[at..<at + 8].reduce(0) { $0 << 8 | UInt64($1) } }
                    let tagged = load(0)
                    counts.record(
                        publisher: "pub-\(tagged & ~(1 << 63))", sequence: load(8), scheduled: load(16), warmup: tagged & 1 << 63 != 0)
                }
            }
            if poller.isReadable(controlIndex), let frames = (try? control.receive(wait: false)) ?? nil,
               let body = frames.last, let command = try? JSONDecoder().decode(BenchControl.Command.self, from: Data(body)) {
                if command.kind == "stop" { return }
                if command.kind == "finish" { published = command.published ?? [:] }
            }
            guard let sent = published, counts.isFinished(published: sent) else { continue }
            report(BenchControl.Report(kind: "result", worker: options.name, result: counts.result(node: options.name, published: sent, mesh: nil, memory: memory)))
            published = nil
            resultSent = true
        }
    }
}
