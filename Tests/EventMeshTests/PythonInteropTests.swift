import EventBus
import EventMesh
import Foundation
import Logging
import Testing

/// A typed payload with one field of every kind docs/WIRE.md maps, as a Python service sends it.
struct InteropReading: EventPayload, Equatable {
    static let eventType: EventType = "interop.reading"

    enum Unit: String, Codable, Sendable { case celsius, kelvin }

    struct Place: Codable, Equatable, Sendable {
        var site: String
        var rack: Int
    }

    var sensor: String
    var value: Double
    var count: Int
    var offset: Int64
    var healthy: Bool
    var tags: [String]
    var place: Place
    var unit: Unit
    var note: String?
    var takenAt: Date
    var raw: Data
    var calibration: UUID
    var limits: [String: Double]
}

/// The example client of examples/python, run with the package's virtual environment.
enum PythonClient {
    /// The package root, three levels above this file (Tests/EventMeshTests/…).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let interpreter = root.appendingPathComponent(".venv/bin/python")
    static let script = root.appendingPathComponent("examples/python/mesh_client.py")
    static let setupHint = "run `make test-python-deps` (it creates .venv with msgpack and pyzmq)"

    /// Fails the test, saying how to fix it, unless the interpreter exists and imports zmq and msgpack.
    static func requireInterpreter() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: interpreter.path),
            "\(interpreter.path) is missing: \(setupHint)")
        let probe = try PythonProcess(["-c", "import zmq, msgpack"], script: nil)
        let status = await probe.waitForExit(within: 60)
        try #require(status == 0, "\(interpreter.path) cannot import zmq and msgpack (\(probe.errorText)): \(setupHint)")
    }
}

/// A child process of the package's Python interpreter whose output is collected as it arrives.
final class PythonProcess: @unchecked Sendable {
    // @unchecked: `process` is used from the test's thread only; output is behind locks.
    let process = Process()
    private let output = LockedValueBox<[UInt8]>([])
    private let errors = LockedValueBox<[UInt8]>([])
    private let closedPipes = LockedValueBox(0)

    /// Runs `python [script] arguments` (by default the example client).
    init(_ arguments: [String], script: URL? = PythonClient.script) throws {
        process.executableURL = PythonClient.interpreter
        process.arguments = ["-u"] + (script.map { [$0.path] } ?? []) + arguments
        let outputPipe = Pipe()
        let errorPipe = Pipe()
        process.standardOutput = outputPipe
        process.standardError = errorPipe
        for (pipe, buffer) in [(outputPipe, output), (errorPipe, errors)] {
            PipeReader.start(pipe, chunk: { data in
                buffer.withLockedValue { $0.append(contentsOf: data) }
                Activity.shared.signal()
            }, end: { [closedPipes] in
                closedPipes.withLockedValue { $0 += 1 }
                Activity.shared.signal()
            })
        }
        process.terminationHandler = { _ in Activity.shared.signal() }
        try process.run()
    }

    /// The complete lines printed so far.
    var lines: [String] {
        let text = String(decoding: output.withLockedValue { $0 }, as: UTF8.self)
        return text.split(separator: "\n").map(String.init)
    }

    /// Everything printed on stderr so far.
    var errorText: String { String(decoding: errors.withLockedValue { $0 }, as: UTF8.self) }

    /// The first stdout line that is a JSON object with this `kind`, waiting (with a deadline) for it.
    /// - Returns: the line and its object.
    func waitForRecord(kind: String, within seconds: Int = 60) async -> (line: String, object: [String: Any])? {
        var record: (String, [String: Any])?
        _ = await eventually(within: seconds) {
            record = lines.lazy.compactMap { line in jsonObject(line).map { (line, $0) } }.first { $0.1["kind"] as? String == kind }
            return record != nil || (!process.isRunning && closedPipes.withLockedValue { $0 } == 2)
        }
        return record
    }

    /// Waits (with a deadline) for the exit and the end of its output; kills it if it runs on.
    /// - Returns: the exit status, or nil if it did not exit in time.
    func waitForExit(within seconds: Int) async -> Int32? {
        let exited = await eventually(within: seconds) { !process.isRunning && closedPipes.withLockedValue { $0 } == 2 }
        guard exited || !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    /// The output, for a failure message.
    var transcript: String { "stdout: \(lines.joined(separator: "\n"))\nstderr: \(errorText)" }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// The messages a node logs, kept for the test to read.
final class LogRecorder: Sendable {
    private let messages = LockedValueBox<[String]>([])

    /// A logger at `info` that records here and prints nothing.
    var logger: Logger {
        var logger = Logger(label: "test") { [self] _ in Handler(recorder: self) }
        logger.logLevel = .info
        return logger
    }

    /// Whether a message (`LEVEL MESSAGE KEY=VALUE…`) that contains every one of `texts` was logged.
    func contains(_ texts: String...) -> Bool {
        messages.withLockedValue { $0.contains { message in texts.allSatisfy { message.contains($0) } } }
    }

    var all: [String] { messages.withLockedValue { $0 } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var logLevel = Logger.Level.info
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            recorder.messages.withLockedValue { $0.append("\(event.level) \(event.message) \(fields)") }
        }
    }
}

/// How the Python client and the Swift node meet.
enum InteropTopology: String, CaseIterable, CustomTestStringConvertible {
    case broker, peer
    var testDescription: String { rawValue }
}

/// A Swift node joined with a Python client, through an in-process broker or as two peers.
final class InteropMesh {
    let node: MeshNode
    /// What the node logged (at `info`): readiness, peers leaving, malformed messages.
    let log = LogRecorder()
    private let broker: Broker?
    /// The Python client's options that join it to the same mesh.
    let pythonArguments: [String]

    /// Makes the broker (if any) and the node; `subscribe` runs before the node starts.
    init(_ topology: InteropTopology, nodeID: String, subscribe: (MeshNode) -> Void) throws {
        var configuration: MeshConfiguration
        switch topology {
        case .broker:
            let broker = try Broker()
            let address = try broker.start()
            self.broker = broker
            configuration = MeshConfiguration(nodeID: nodeID, brokers: [address], logger: log.logger)
            pythonArguments = ["--broker", address.description]
        case .peer:
            // The Python peer binds a port the OS picked; the Swift node binds its own and
            // receives from the Python one, and the Python client receives from it.
            let pythonEndpoint = "tcp://127.0.0.1:\(try reservePorts(1)[0])"
            broker = nil
            configuration = MeshConfiguration(
                nodeID: nodeID, bindEndpoint: "tcp://127.0.0.1:*", peers: [pythonEndpoint], logger: log.logger)
            pythonArguments = ["--bind", pythonEndpoint]
        }
        configuration.heartbeatIntervalMilliseconds = 200
        node = try MeshNode(configuration: configuration)
        subscribe(node)
        try node.start()
    }

    /// The options of the Python client, with the Swift node's bound endpoint for a peer mesh.
    var pythonJoinArguments: [String] {
        guard let bound = node.bridge.boundEndpoint else { return pythonArguments }
        return pythonArguments + ["--peer", bound]
    }

    /// Whether the node became ready within the deadline (in a peer mesh it needs the Python
    /// client's hellos).
    func nodeReady(within seconds: Int = 60) async -> Bool {
        await eventually(within: seconds) { node.bridge.isReady }
    }

    func stop() {
        node.stop()
        broker?.stop()
    }
}

/// The Python client of examples/python against Swift nodes: events cross in both directions
/// through a broker and in a peer mesh, and every field arrives as it was sent.
@Suite(.serialized, .timeLimit(.minutes(2))) struct PythonInteropTests {
    @Test(arguments: InteropTopology.allCases)
    func aTypedSwiftSubscriberReceivesWhatPythonPublishes(topology: InteropTopology) async throws {
        try await PythonClient.requireInterpreter()
        let received = LockedValueBox<[TypedEvent<InteropReading>]>([])
        let errors = LockedValueBox<[String]>([])
        let mesh = try InteropMesh(topology, nodeID: "swift-subscriber") { node in
            node.bus.subscribe(to: InteropReading.self) { event in received.withLockedValue { $0.append(event) } }
            node.bus.subscribe(EventPattern(.handlerError)) { event in errors.withLockedValue { $0.append("\(event.data)") } }
        }
        defer { mesh.stop() }
        if topology == .broker {
            #expect(await mesh.nodeReady(), "the Swift node never became ready")
        }
        // Keys unsorted, on purpose: the Python writer sorts them.
        let data = """
            {"sensor": "thermo-7 ✓", "value": 21.5, "count": 3, "offset": -40000, "healthy": true,
             "tags": ["roof", "north"], "place": {"site": "lab", "rack": 12}, "unit": "kelvin",
             "takenAt": 1700000000.25, "raw": {"$bytes": "00ff10"},
             "calibration": "0192f0c4-8a1e-7000-8000-3b1f9d2c4e5a", "limits": {"min": -10.5, "max": 90.0}}
            """
        let python = try PythonProcess(
            ["publish", "interop.reading", "--data", data, "--source", "python-test", "--meta", "trace=t-1",
             "--meta", "tenant=acme", "--node-id", "python-publisher", "--json", "--ready-timeout", "60"]
            + mesh.pythonJoinArguments)
        if topology == .peer {
            #expect(await mesh.nodeReady(), "the Swift peer never got the Python client's hellos: \(python.transcript)")
        }
        let published = try #require(await python.waitForRecord(kind: "published"), "Python published nothing: \(python.transcript)")
        #expect(await python.waitForExit(within: 60) == 0, "the Python publisher failed: \(python.transcript)")
        let arrived = await eventually { received.withLockedValue { $0.count } > 0 }
        #expect(arrived, "the typed subscriber got nothing; handler errors: \(errors.withLockedValue { $0 })")
        let event = try #require(received.withLockedValue { $0.first })

        let expected = InteropReading(
            sensor: "thermo-7 ✓", value: 21.5, count: 3, offset: -40000, healthy: true, tags: ["roof", "north"],
            place: .init(site: "lab", rack: 12), unit: .kelvin, note: nil, takenAt: Date(timeIntervalSince1970: 1_700_000_000.25),
            raw: Data([0x00, 0xFF, 0x10]), calibration: UUID(uuidString: "0192f0c4-8a1e-7000-8000-3b1f9d2c4e5a")!,
            limits: ["min": -10.5, "max": 90.0])
        #expect(event.data == expected)
        #expect(event.id.description == published.object["id"] as? String)
        #expect(event.type == InteropReading.eventType)
        // Big integers compared as text: JSONSerialization may read them as doubles.
        #expect(published.line.contains("\"ts\": \(event.timestamp.nanosecondsSinceEpoch),"), "\(published.line)")
        #expect(event.source == "python-test")
        #expect(event.metadata == ["trace": "t-1", "tenant": "acme"])
        #expect(event.scope == [])
        let origin = try #require(event.origin)
        #expect(origin.node == "python-publisher")
        #expect(origin.node == published.object["on"] as? String)
        #expect(published.line.contains("\"oi\": \(origin.incarnation),"), "\(published.line)")
        #expect(origin.sequence == 1)
        #expect(origin.hops == 0)
        #expect(received.withLockedValue { $0.count } == 1)
        #expect(errors.withLockedValue { $0 }.isEmpty)
        // The client's last messages, a heartbeat then `_mesh.node.left`, arrive in order after
        // the event: once the node has read the second, it has judged all of them.
        #expect(await eventually { mesh.log.contains("node left", "origin=python-publisher#") }, "the node never read the client's _mesh.node.left: \(mesh.log.all)")
        let stats = mesh.node.bridge.stats
        #expect(stats.malformed.isEmpty, "malformed: \(stats.malformed); log: \(mesh.log.all)")
        #expect(stats.lost == 0)
        #expect(stats.duplicates == 0)
    }

    @Test(arguments: InteropTopology.allCases)
    func pythonReceivesASwiftEventWithEveryFieldAsSent(topology: InteropTopology) async throws {
        try await PythonClient.requireInterpreter()
        let mesh = try InteropMesh(topology, nodeID: "swift-publisher") { _ in }
        defer { mesh.stop() }
        let sample = InteropSample(node: mesh.node)
        let python = try PythonProcess(
            ["tail", "interop.check", "--count", "1", "--timeout", "60", "--expect", sample.expectation(), "--json",
             "--node-id", "python-checker", "--ready-timeout", "60"]
            + mesh.pythonJoinArguments)
        #expect(await python.waitForRecord(kind: "ready") != nil, "the Python client never became ready: \(python.transcript)")
        #expect(await mesh.nodeReady(), "the Swift node never became ready")
        mesh.node.bus.publish(sample.event)
        let status = await python.waitForExit(within: 70)
        #expect(status == 0, "the Python check failed: \(python.transcript)")
        #expect(python.lines.compactMap(jsonObject).contains { $0["kind"] as? String == "checked" }, "\(python.transcript)")
    }

    @Test func aWrongExpectationMakesThePythonCheckFail() async throws {
        try await PythonClient.requireInterpreter()
        let mesh = try InteropMesh(.broker, nodeID: "swift-publisher") { _ in }
        defer { mesh.stop() }
        #expect(await mesh.nodeReady(), "the Swift node never became ready")
        let sample = InteropSample(node: mesh.node)
        let python = try PythonProcess(
            ["tail", "interop.check", "--count", "1", "--timeout", "60", "--expect", sample.expectation(sequence: 2),
             "--json", "--ready-timeout", "60"]
            + mesh.pythonJoinArguments)
        #expect(await python.waitForRecord(kind: "ready") != nil, "the Python client never became ready: \(python.transcript)")
        mesh.node.bus.publish(sample.event)
        #expect(await python.waitForExit(within: 70) == 1, "\(python.transcript)")
        #expect(python.errorText.contains("mismatch: seq: got 1, expected 2"), "\(python.transcript)")
    }
}

/// A Swift event with every envelope field set, and what the Python client should see of it.
struct InteropSample {
    let event: Event
    let node: String
    let incarnation: UInt64
    let payload: EventValue = [
        "text": "héllo ✓ \"quoted\"", "count": 42, "negative": -129, "big": .int(1 << 40), "ratio": 0.1,
        "flag": true, "nothing": nil, "bytes": .bytes([0x00, 0x01, 0xFF]), "list": [1, "two", 3.5, false],
        "nested": ["b": 2, "a": ["z": "last", "y": "first"]],
    ]

    init(node: MeshNode) {
        self.node = node.configuration.nodeID
        incarnation = node.bridge.origin.incarnation
        event = Event(
            id: EventID(), type: "interop.check", payload: .value(payload),
            timestamp: Timestamp(nanosecondsSinceEpoch: 1_795_000_000_123_456_789), source: "swift-test",
            metadata: ["zeta": "last", "alpha": "first"], scope: ["interop", "checker"])
    }

    /// Every envelope field as JSON, for `mesh_client.py tail --expect` (bytes as {"$bytes": HEX}).
    func expectation(sequence: UInt64 = 1) -> String {
        let fields: [(String, String)] = [
            ("v", "1"), ("id", Self.json(.string(event.id.description))), ("t", Self.json("interop.check")),
            ("ts", "\(event.timestamp.nanosecondsSinceEpoch)"), ("src", Self.json("swift-test")),
            ("md", Self.json(["zeta": "last", "alpha": "first"])), ("sc", Self.json(["interop", "checker"])),
            ("on", Self.json(.string(node))), ("oi", "\(incarnation)"), ("seq", "\(sequence)"), ("hop", "0"),
            ("p", Self.json(payload)),
        ]
        return "{" + fields.map { "\(Self.json(.string($0.0))): \($0.1)" }.joined(separator: ", ") + "}"
    }

    /// A value as JSON text.
    static func json(_ value: EventValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return "\(number)"
        case .double(let number): return "\(number)"  // shortest round-trip form, always with . or e
        case .string(let text):
            return String(decoding: try! JSONEncoder().encode(text), as: UTF8.self)
        case .bytes(let bytes): return "{\"$bytes\": \"\(bytes.map { String(format: "%02x", $0) }.joined())\"}"
        case .array(let items): return "[" + items.map(json).joined(separator: ", ") + "]"
        case .map(let entries):
            return "{" + entries.sorted { $0.key < $1.key }.map { "\(json(.string($0.key))): \(json($0.value))" }.joined(separator: ", ") + "}"
        }
    }
}
