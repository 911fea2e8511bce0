import EventBus
import EventWire

// The mesh's own work per event on either side of the wire, without sockets or threads: what a
// publishing node's thread does for each event `mesh bench fanout` publishes (build the
// bench's payload, publish it on the node bus, encode it with the node's origin and sequence
// number), and what the subscribing node's I/O thread does with the frame (decode it, deliver
// it on the node bus to the bench's handler, which reads three payload fields). Socket and
// kernel work is left out: it is libzmq's, and raw libzmq does it too. These workloads are for
// exact counts under callgrind (`Benchmarks/Profiling/profile.sh mesh_receive_bench_event`);
// they are not in `BusWorkload.all`, so the benchmark suites do not run them.

extension BusWorkload {
    /// The profiling workloads of the mesh's per-event paths.
    public static let meshPaths: [BusWorkload] = [.meshSendBenchEvent, .meshReceiveBenchEvent]

    /// A publishing node's work for one bench event, up to the encoded frame.
    public static let meshSendBenchEvent = BusWorkload(
        name: "mesh_send_bench_event",
        summary: "build a bench payload (3 fields, 256-byte pad), publish it on a node bus (history 1000) whose parent encodes it with an origin"
    ) { name in
        let sink = BenchEncodingSink()
        let bus = ScopedEventBus(scope: "pub-0", parent: sink, historyCapacity: 1000)
        let pad = EventValue.bytes([UInt8](repeating: 0x2a, count: 256))
        let counter = BenchSequence()
        return PreparedWorkload(name: name, handlersPerEvent: 0) { iterations in
            for _ in 0..<iterations {
                let sequence = counter.next()
                bus.publish(BenchFrames.type, data: ["s": .int(sequence), "t": .int(sequence), "x": pad])
            }
        } verify: { () throws(WorkloadVerificationError) in
            let before = sink.frames
            bus.publish(BenchFrames.type, data: ["s": 7, "t": 8, "x": pad])
            guard sink.frames == before + 1, let frame = sink.lastFrame,
                let decoded = try? EventCodec().decode(frame, expecting: BenchFrames.type),
                decoded.data["s"] == 7, decoded.origin?.node == "pub-0", decoded.origin?.sequence == UInt64(sink.frames)
            else {
                throw WorkloadVerificationError(workload: name, message: "the sink did not encode the published event")
            }
        }
    }

    /// A subscribing node's work for one bench event, from the frame to the handler.
    public static let meshReceiveBenchEvent = BusWorkload(
        name: "mesh_receive_bench_event",
        summary: "decode a bench event's frame (known type), deliver it on a bus (history 1000) to a handler that reads 3 payload fields"
    ) { name in
        let codec = EventCodec()
        let frame = BenchFrames.frame()
        let bus = EventBus(historyCapacity: 1000)
        let read = BenchSequence()
        bus.subscribe(EventPattern(BenchFrames.type)) { event in
            let data = event.data
            guard let sequence = data["s"]?.intValue, let scheduled = data["t"]?.intValue else { return }
            blackHole(event.origin?.node)
            blackHole(scheduled)
            blackHole(data["w"]?.boolValue ?? false)
            read.set(sequence)
        }
        return PreparedWorkload(name: name, handlersPerEvent: 1, bytesPerEvent: frame.count) { iterations in
            for _ in 0..<iterations {
                guard let event = try? codec.decode(frame, expecting: BenchFrames.type) else {
                    preconditionFailure("the bench frame does not decode")
                }
                bus.deliverRemote(event)
            }
        } verify: { () throws(WorkloadVerificationError) in
            read.set(0)
            guard let event = try? codec.decode(frame, expecting: BenchFrames.type) else {
                throw WorkloadVerificationError(workload: name, message: "the bench frame does not decode")
            }
            bus.deliverRemote(event)
            guard read.current == 1 else {
                throw WorkloadVerificationError(workload: name, message: "the handler did not read the event")
            }
        }
    }
}

/// The bench's event type and a frame as a publishing node sends it.
enum BenchFrames {
    static let type: EventType = "bench.event"

    /// Frame 2 of a bench event: scope `pub-0`, origin with a sequence number, the 3-field payload.
    static func frame() -> [UInt8] {
        let event = Event(
            id: EventID(), type: type,
            payload: .value(["s": 1, "t": 1_764_000_000_000, "x": .bytes([UInt8](repeating: 0x2a, count: 256))]),
            timestamp: .now(), scope: ["pub-0"])
        guard let frame = try? EventCodec().encode(event, origin: origin(sequence: 1)) else {
            preconditionFailure("the bench event does not encode")
        }
        return frame
    }

    /// The publishing node's origin, with a sequence number.
    static func origin(sequence: UInt64) -> EventOrigin {
        EventOrigin(node: "pub-0", incarnation: 0x5eed_1234_abcd_0042, sequence: sequence, hops: 0)
    }
}

/// A node bus's parent that encodes each event as a mesh bridge does (its origin, the next
/// sequence number) and keeps the last frame.
final class BenchEncodingSink: EventSink, @unchecked Sendable {
    // Used by one thread at a time (the workload's).
    private let codec = EventCodec()
    private(set) var frames = 0
    private(set) var lastFrame: [UInt8]?

    func accept(_ event: Event) {
        frames += 1
        guard let frame = try? codec.encode(event, origin: BenchFrames.origin(sequence: UInt64(frames))) else { preconditionFailure("the bench event does not encode") }
        blackHole(frame)
        lastFrame = frame
    }
}

/// A counter the workloads' closures share (one thread at a time).
final class BenchSequence: @unchecked Sendable {
    private(set) var current: Int64 = 0

    func next() -> Int64 {
        current += 1
        return current
    }

    func set(_ value: Int64) {
        current = value
    }
}
