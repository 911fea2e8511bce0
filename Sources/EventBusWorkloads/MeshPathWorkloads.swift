import EventBus
import EventWire
import Foundation

// The mesh's own work per event on either side of the wire, without sockets or threads: what a
// publishing node's thread does for each event `mesh bench fanout` publishes (build the
// bench's payload, publish it on the node bus, encode it with the node's origin and sequence
// number), and what the subscribing node's I/O thread does with the frame (decode it, deliver
// it on the node bus to the bench's handler, which reads two payload fields, each alone:
// `mesh_receive_bench_fields`; `mesh_receive_bench_event` reads them from `event.data`). Socket and
// kernel work is left out: it is libzmq's, and raw libzmq does it too. These workloads are for
// exact counts under callgrind (`Benchmarks/Profiling/profile.sh mesh_receive_bench_event`);
// they are not in `BusWorkload.all`, so the benchmark suites do not run them.

extension BusWorkload {
    /// The profiling workloads of the mesh's per-event paths: the bench's payload as a dynamic
    /// map (what `mesh bench fanout` sends), and the same fields as a `Codable` struct.
    public static let meshPaths: [BusWorkload] = [
        .meshSendBenchEvent, .meshReceiveBenchEvent, .meshReceiveBenchFields, .meshSendBenchTyped, .meshReceiveBenchTyped,
    ]

    /// A publishing node's work for one bench event, up to the encoded frame.
    public static let meshSendBenchEvent = meshSend(
        name: "mesh_send_bench_event",
        summary: "build a bench payload (3 fields, 256-byte pad), publish it on a node bus (history 1000) whose parent encodes it with an origin"
    ) { [pad = BenchFrames.dynamicPad] bus, counter, count in
        for _ in 0..<count {
            let sequence = counter.next()
            bus.publish(BenchFrames.type, data: ["s": .int(sequence), "t": .int(sequence), "x": pad])
        }
    }

    /// A subscribing node's work for one bench event, from the frame to the handler.
    public static let meshReceiveBenchEvent = meshReceive(
        name: "mesh_receive_bench_event",
        summary: "decode a bench event's frame (known type), deliver it on a bus (history 1000) to a handler that reads 2 payload fields (s, t)"
    ) { bus, read in
        bus.subscribe(EventPattern(BenchFrames.type)) { event in
            let data = event.data
            guard let sequence = data["s"]?.intValue, let scheduled = data["t"]?.intValue else { return }
            blackHole(event.origin?.node)
            blackHole(scheduled)
            read.set(sequence)
        }
    }

    /// ``meshReceiveBenchEvent`` with the handler of `mesh bench fanout`'s subscribers, which
    /// reads each of the 2 fields alone (``Event/data(forKey:)``) instead of the whole payload.
    public static let meshReceiveBenchFields = meshReceive(
        name: "mesh_receive_bench_fields",
        summary: "decode the same frame, deliver it to a handler that reads the 2 payload fields alone (data(forKey:))"
    ) { bus, read in
        bus.subscribe(EventPattern(BenchFrames.type)) { event in
            guard let sequence = event.data(forKey: "s")?.intValue, let scheduled = event.data(forKey: "t")?.intValue else {
                return
            }
            blackHole(event.origin?.node)
            blackHole(scheduled)
            read.set(sequence)
        }
    }

    /// ``meshSendBenchEvent`` with the payload published as a `Codable` struct.
    public static let meshSendBenchTyped = meshSend(
        name: "mesh_send_bench_typed",
        summary: "the same bench event published as a Codable struct (s, t, w, x: Data), encoded with an origin"
    ) { [pad = BenchFrames.typedPad] bus, counter, count in
        for _ in 0..<count {
            let sequence = counter.next()
            bus.publish(BenchTypedPayload(s: sequence, t: sequence, x: pad))
        }
    }

    /// ``meshReceiveBenchEvent`` with a typed handler, which decodes the payload as the struct.
    public static let meshReceiveBenchTyped = meshReceive(
        name: "mesh_receive_bench_typed",
        summary: "decode the same frame, deliver it to a typed handler that reads the struct's fields"
    ) { bus, read in
        bus.subscribe(to: BenchTypedPayload.self) { event in
            let data = event.data
            blackHole(event.origin?.node)
            blackHole(data.t)
            blackHole(data.w ?? false)
            read.set(data.s)
        }
    }

    /// A send-path workload: `publish(bus, counter, count)` publishes `count` bench events,
    /// numbered by `counter`, on a node bus whose parent encodes them as a bridge does (the loop
    /// is the closure's, so that no call per event is added to the count); verified by decoding
    /// the frame of one.
    private static func meshSend(
        name: String, summary: String, publish: @escaping @Sendable (ScopedEventBus, BenchSequence, Int) -> Void
    ) -> BusWorkload {
        BusWorkload(name: name, summary: summary) { name in
            let sink = BenchEncodingSink()
            let bus = ScopedEventBus(scope: "pub-0", parent: sink, historyCapacity: 1000)
            let counter = BenchSequence()
            return PreparedWorkload(name: name, handlersPerEvent: 0) { iterations in
                publish(bus, counter, iterations)
            } verify: { () throws(WorkloadVerificationError) in
                let before = sink.frames
                counter.set(6)
                publish(bus, counter, 1)
                guard sink.frames == before + 1, let frame = sink.lastFrame,
                    let decoded = try? EventCodec().decode(frame, expecting: BenchFrames.type),
                    decoded.data["s"] == 7, decoded.origin?.node == "pub-0", decoded.origin?.sequence == UInt64(sink.frames)
                else {
                    throw WorkloadVerificationError(workload: name, message: "the sink did not encode the published event")
                }
            }
        }
    }

    /// A receive-path workload: the bench frame decoded (its type known) and delivered on a bus
    /// to the handler `subscribe(bus, read)` adds, which must set `read` to the sequence number.
    private static func meshReceive(
        name: String, summary: String, subscribe: @escaping @Sendable (EventBus, BenchSequence) -> Void
    ) -> BusWorkload {
        BusWorkload(name: name, summary: summary) { name in
            let codec = EventCodec()
            let frame = BenchFrames.frame()
            let bus = EventBus(historyCapacity: 1000)
            let read = BenchSequence()
            subscribe(bus, read)
            return PreparedWorkload(name: name, handlersPerEvent: 1, bytesPerEvent: frame.count) { iterations in
                // As a bridge decodes: sharing the origin node and scope of the event before.
                var recent = EventCodec.RecentFields()
                for _ in 0..<iterations {
                    guard let event = try? codec.decode(frame, expecting: BenchFrames.type, reusing: &recent) else {
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
}

/// The bench's event type and a frame as a publishing node sends it.
enum BenchFrames {
    static let type: EventType = "bench.event"
    /// The bench's 256-byte pad, as the dynamic payload holds it and as the typed one does.
    static let dynamicPad = EventValue.bytes([UInt8](repeating: 0x2a, count: 256))
    static let typedPad = Data(repeating: 0x2a, count: 256)

    /// Frame 2 of a bench event: scope `pub-0`, origin with a sequence number, the 3-field payload.
    static func frame() -> [UInt8] {
        let event = Event(
            id: EventID(), type: type,
            payload: .value(["s": 1, "t": 1_764_000_000_000, "x": dynamicPad]),
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
/// sequence number, into the array of a frame already sent) and keeps the last frame.
final class BenchEncodingSink: EventSink, @unchecked Sendable {
    // Used by one thread at a time (the workload's).
    private let codec = EventCodec()
    private(set) var frames = 0
    private(set) var lastFrame: [UInt8]?

    func accept(_ event: Event) {
        frames += 1
        // The last frame is "sent": its array is recycled, as a bridge recycles its sent frames.
        let spare = lastFrame.take() ?? []
        guard let frame = try? codec.encode(event, origin: BenchFrames.origin(sequence: UInt64(frames)), reusing: spare) else {
            preconditionFailure("the bench event does not encode")
        }
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

/// The bench's payload as a typed struct: the same keys, so the same bytes on the wire as the
/// dynamic map (`w` absent unless set, `x` as MessagePack bin).
struct BenchTypedPayload: EventPayload {
    static let eventType: EventType = BenchFrames.type
    var s: Int64
    var t: Int64
    var w: Bool?
    var x: Data
}
