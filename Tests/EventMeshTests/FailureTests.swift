import EventBus
import EventWire
import Logging
import Testing
import ZeroMQ
@testable import EventMesh

@Suite(.timeLimit(.minutes(3))) struct FailureTests {
    @Test func slowJoinersAreReadyWhenTheySayTheyAre() async throws {
        let broker = try Broker()
        let address = try broker.start()
        defer { broker.stop() }
        // A long-lived node answers every hello with a reply published at once.
        var answererConfiguration = MeshConfiguration(nodeID: "answerer", brokers: [address], logger: Logger(label: "test"))
        answererConfiguration.logger.logLevel = .warning
        let answerer = try MeshNode(configuration: answererConfiguration)
        let hellos = Seen()
        answerer.bus.subscribe("join.hello") { event in
            hellos.ids.withLockedValue { $0.append(event.id) }
            answerer.bus.publish("join.reply", data: event.data)
        }
        try answerer.start()
        defer { answerer.stop() }
        await answerer.ready()

        var misses: [Int] = []
        for index in 0..<100 {
            var configuration = MeshConfiguration(nodeID: "joiner-\(index)", brokers: [address], logger: Logger(label: "test"))
            configuration.logger.logLevel = .warning
            let joiner = try MeshNode(configuration: configuration)
            let replies = LockedValueBox<[Int64]>([])
            joiner.bus.subscribe("join.reply") { event in
                if let number = event.data["n"]?.intValue { replies.withLockedValue { $0.append(number) } }
            }
            try joiner.start()
            await joiner.ready()
            // Right after ready, once, no retries: the hello must reach the answerer and the
            // answer published right after must reach the joiner.
            try joiner.publish("join.hello", data: ["n": .int(Int64(index))])
            let answered = await eventually(within: 5) { replies.withLockedValue { $0.contains(Int64(index)) } }
            if !answered { misses.append(index) }
            joiner.stop()
        }
        #expect(misses.isEmpty, "joiners that missed their reply: \(misses)")
        #expect(hellos.count == 100)
    }

    @Test func garbageInterleavedWithValidEventsIsCountedAndEveryValidEventDelivered() async throws {
        let mesh = try await TestMesh(brokers: 1, nodes: 1, type: "test.ping")
        defer { mesh.stop() }
        let node = mesh.nodes[0]
        // A raw publisher into the broker; an XPUB, so it can wait for the broker's subscription.
        let context = ZMQContext()
        let raw = try ZMQSocket(context, .xpub)
        try raw.connect(mesh.addresses[0].publishEndpoint)
        try raw.setReceiveTimeout(milliseconds: 5000)
        #expect(try raw.receive() != nil, "the broker never subscribed")

        let codec = EventCodec()
        let origin = EventOrigin(node: "raw", incarnation: 7, sequence: nil)
        var valid: [EventID] = []
        var generator = SystemRandomNumberGenerator()
        let count = 300
        for index in 0..<count {
            var event = Event(type: "test.ping", data: .int(Int64(index)))
            var stamped = origin
            stamped.sequence = UInt64(index + 1)
            event.origin = stamped
            let body = try codec.encode(event)
            valid.append(event.id)
            let garbage: [[UInt8]]
            switch index % 3 {
            case 0:  // random bytes
                garbage = [Array("test.ping".utf8), (0..<Int.random(in: 1..<64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }]
            case 1:  // a valid envelope, truncated
                garbage = [Array("test.ping".utf8), Array(body.prefix(body.count / 2))]
            default:  // a version this reader does not know
                var writer = MessagePackWriter()
                writer.writeMapHeader(1)
                writer.writeString("v")
                writer.writeInt(99)
                garbage = [Array("test.ping".utf8), writer.bytes]
            }
            try raw.send(frames: garbage)
            try raw.send(frames: [Array("test.ping".utf8), body])
        }
        let delivered = await eventually { Set(mesh.seen[0].all).isSuperset(of: valid) }
        #expect(delivered, "delivered \(mesh.seen[0].count) of \(count) valid events")
        let counted = await eventually { node.bridge.stats.malformed.values.reduce(0, +) == UInt64(count) }
        #expect(counted, "malformed: \(node.bridge.stats.malformed)")
        let malformed = node.bridge.stats.malformed
        #expect(malformed["unsupportedVersion"] == 100)
        #expect(malformed["truncated", default: 0] + malformed["invalidFormat", default: 0] > 0)
        #expect(node.bridge.stats.lost == 0)
    }
}
