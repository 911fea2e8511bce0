import Foundation
import Testing
import ZeroMQ

/// Polls `socket` until a message arrives or `milliseconds` pass.
func receive(_ socket: ZMQSocket, within milliseconds: Int = 5000) throws -> [[UInt8]]? {
    let poller = ZMQPoller()
    let index = poller.add(socket)
    let deadline = ContinuousClock.now + .milliseconds(milliseconds)
    while ContinuousClock.now < deadline {
        try poller.poll(timeoutMilliseconds: 50)
        if poller.isReadable(index), let frames = try socket.receive(wait: false) { return frames }
    }
    return nil
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct SocketTests {
    let context = ZMQContext()

    @Test func bindingPortZeroReadsBackTheChosenPort() throws {
        let socket = try ZMQSocket(context, .pub)
        try socket.bind("tcp://127.0.0.1:*")
        let endpoint = try socket.lastEndpoint
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = Int(endpoint.split(separator: ":").last ?? "") ?? 0
        #expect(port > 0 && port < 65536)
    }

    @Test func multipartMessagesKeepEveryFrameIncludingEmptyOnes() throws {
        let left = try ZMQSocket(context, .pair)
        let right = try ZMQSocket(context, .pair)
        try left.bind("inproc://multipart")
        try right.connect("inproc://multipart")
        let frames: [[UInt8]] = [bytes("stream.started"), [], [0, 1, 2, 255], [UInt8](repeating: 7, count: 100_000)]
        #expect(try left.send(frames: frames))
        #expect(try receive(right) == frames)
    }

    @Test func aForwardedMessageArrivesWholeAndInOrder() throws {
        let sender = try ZMQSocket(context, .pair)
        let middleIn = try ZMQSocket(context, .pair)
        let middleOut = try ZMQSocket(context, .pair)
        let receiver = try ZMQSocket(context, .pair)
        try middleIn.bind("inproc://forward-in")
        try sender.connect("inproc://forward-in")
        try middleOut.bind("inproc://forward-out")
        try receiver.connect("inproc://forward-out")
        let message = ZMQMessage()
        #expect(try middleIn.forward(to: middleOut, through: message) == nil)
        let first: [[UInt8]] = [bytes("stream.started"), [], [UInt8](repeating: 7, count: 100_000)]
        let second: [[UInt8]] = [bytes("one")]
        #expect(try sender.send(frames: first))
        #expect(try sender.send(frames: second))
        var sizes: [Int] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while sizes.count < 2 && ContinuousClock.now < deadline {
            if let size = try middleIn.forward(to: middleOut, through: message) { sizes.append(size) }
        }
        #expect(sizes == [100_014, 3])
        #expect(try receive(receiver) == first)
        #expect(try receive(receiver) == second)
    }

    @Test func framesReceivedIntoAMessageCanBeReadInPlace() throws {
        let left = try ZMQSocket(context, .pair)
        let right = try ZMQSocket(context, .pair)
        try left.bind("inproc://message")
        try right.connect("inproc://message")
        let message = ZMQMessage()
        #expect(try right.receive(into: message, wait: false) == false)
        #expect(try left.send(frames: [bytes("a.b"), []]))
        #expect(try right.receive(into: message))
        #expect(message.hasMore && message.count == 3)
        #expect(message.holds(bytes("a.b")) && !message.holds(bytes("a.c")) && !message.holds(bytes("a.bc")))
        #expect(message.bytes == bytes("a.b"))
        #expect(message.withUnsafeBytes { Array($0) } == bytes("a.b"))
        #expect(try right.receive(into: message))
        #expect(!message.hasMore && message.count == 0 && message.holds([]) && message.bytes.isEmpty)
    }

    @Test func aSubscriberGetsOnlyItsPrefixes() throws {
        let publisher = try ZMQSocket(context, .pub)
        try publisher.bind("tcp://127.0.0.1:*")
        let subscriber = try ZMQSocket(context, .sub)
        try subscriber.subscribe(to: "provider.")
        try subscriber.connect(try publisher.lastEndpoint)
        // The subscription reaches the publisher asynchronously (the slow joiner): send until the
        // first matching message arrives, with a deadline.
        let deadline = ContinuousClock.now + .seconds(5)
        var received: [[UInt8]]?
        while received == nil && ContinuousClock.now < deadline {
            try publisher.send(frames: [bytes("agent.started"), bytes("no")])
            try publisher.send(frames: [bytes("provider.connected"), bytes("yes")])
            received = try receive(subscriber, within: 20)
        }
        #expect(received == [bytes("provider.connected"), bytes("yes")])
        // From now on only matching messages arrive, in order.
        try publisher.send(frames: [bytes("agent.started"), bytes("no")])
        try publisher.send(frames: [bytes("provider.created"), bytes("last")])
        var seen: [[UInt8]] = []
        while let frames = try receive(subscriber, within: 500) {
            seen.append(frames[0])
            if frames[1] == bytes("last") { break }
        }
        #expect(!seen.contains(bytes("agent.started")))
        #expect(seen.last == bytes("provider.created"))
    }

    @Test func anXPubSeesSubscriptionsAsMessages() throws {
        let xpub = try ZMQSocket(context, .xpub)
        try xpub.bind("tcp://127.0.0.1:*")
        let subscriber = try ZMQSocket(context, .sub)
        try subscriber.subscribe(to: "workflow.")
        try subscriber.connect(try xpub.lastEndpoint)
        #expect(try receive(xpub) == [[1] + bytes("workflow.")])
        try subscriber.unsubscribe(from: "workflow.")
        #expect(try receive(xpub) == [[0] + bytes("workflow.")])
    }

    @Test func aNonBlockingReceiveWithNothingPendingReturnsNil() throws {
        let socket = try ZMQSocket(context, .pull)
        try socket.bind("inproc://empty")
        #expect(try socket.receive(wait: false) == nil)
    }

    @Test func aReceiveTimeoutReturnsNil() throws {
        let socket = try ZMQSocket(context, .pull)
        try socket.bind("inproc://timeout")
        try socket.setReceiveTimeout(milliseconds: 10)
        #expect(try socket.receive() == nil)
    }

    @Test func aFullNonBlockingSendSaysSo() throws {
        // A PUSH with no peer cannot send: with wait: false that is `false`, not a block.
        let socket = try ZMQSocket(context, .push)
        try socket.bind("inproc://nobody")
        #expect(try socket.send(bytes("x"), wait: false) == false)
    }

    @Test func optionsAreAccepted() throws {
        let socket = try ZMQSocket(context, .xpub)
        try socket.setLinger(milliseconds: 1000)
        try socket.setSendHighWaterMark(10)
        try socket.setReceiveHighWaterMark(10)
        try socket.setReconnectInterval(milliseconds: 100, maximum: 1000)
        try socket.setHeartbeat(interval: 1000, timeout: 3000, ttl: 3000)
        try socket.setMaximumMessageSize(1 << 20)
        try socket.setXPubNoDrop(true)
        try socket.setXPubVerbose(true)
        try socket.setImmediate(true)
        try socket.setSendTimeout(milliseconds: 100)
        try socket.setReceiveTimeout(milliseconds: nil)
        #expect(try socket.hasMoreFrames == false)
    }
}

@Suite struct ErrorTests {
    let context = ZMQContext()

    @Test func aMalformedEndpointIsInvalid() throws {
        let socket = try ZMQSocket(context, .pub)
        let error = #expect(throws: ZMQError.self) { try socket.bind("tcp://not an endpoint") }
        #expect(error?.code == .invalidArgument)
        #expect(error?.operation.contains("zmq_bind") == true)
        #expect(error?.message.isEmpty == false)
    }

    @Test func anUnknownTransportIsNotSupported() throws {
        let socket = try ZMQSocket(context, .pub)
        let error = #expect(throws: ZMQError.self) { try socket.connect("carrier-pigeon://coop") }
        #expect(error?.code == .protocolNotSupported)
    }

    @Test func bindingABoundPortIsAddressInUse() throws {
        let first = try ZMQSocket(context, .pub)
        try first.bind("tcp://127.0.0.1:*")
        let second = try ZMQSocket(context, .pub)
        let error = #expect(throws: ZMQError.self) { try second.bind(try first.lastEndpoint) }
        #expect(error?.code == .addressInUse)
    }

    @Test func aClosedSocketThrowsInsteadOfCrashing() throws {
        let socket = try ZMQSocket(context, .pub)
        socket.close()
        let error = #expect(throws: ZMQError.self) { try socket.send(bytes("x")) }
        #expect(error?.code == .wrongState)
        #expect(throws: ZMQError.self) { try socket.bind("inproc://closed") }
    }

    @Test func anOptionForTheWrongSocketKindIsRejected() throws {
        let socket = try ZMQSocket(context, .pub)
        let error = #expect(throws: ZMQError.self) { try socket.subscribe(to: "x") }
        #expect(error?.code == .invalidArgument)
    }

    @Test func disconnectingFromAnUnknownEndpointSaysSo() throws {
        let socket = try ZMQSocket(context, .sub)
        let error = #expect(throws: ZMQError.self) { try socket.disconnect("tcp://127.0.0.1:1") }
        #expect(error?.code == .noEndpoint)
    }
}

@Suite struct PollerTests {
    let context = ZMQContext()

    @Test func aWakeupFromAnotherThreadEndsAPoll() throws {
        let wakeup = try ZMQWakeup()
        let poller = ZMQPoller()
        let index = poller.add(fileDescriptor: wakeup.fileDescriptor)
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
        let thread = Thread { wakeup.signal() }
        thread.start()
        // Without the signal this waits out the 10 s timeout and the expectation fails.
        #expect(try poller.poll(timeoutMilliseconds: 10_000) == 1)
        #expect(poller.isReadable(index))
        wakeup.drain()
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
    }

    @Test func signalsBeforeADrainCoalesceIntoOneWakeup() throws {
        let wakeup = try ZMQWakeup()
        let poller = ZMQPoller()
        _ = poller.add(fileDescriptor: wakeup.fileDescriptor)
        for _ in 0..<1000 { wakeup.signal() }
        #expect(try poller.poll(timeoutMilliseconds: 0) == 1)
        wakeup.drain()
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0, "one drain did not consume every signal")
        wakeup.drain()  // nothing pending: returns at once
        wakeup.signal()
        #expect(try poller.poll(timeoutMilliseconds: 0) == 1, "a signal after a drain did not wake")
    }

    @Test func aPollerReportsWhichSocketIsReady() throws {
        let quiet = try ZMQSocket(context, .pull)
        try quiet.bind("inproc://quiet")
        let busy = try ZMQSocket(context, .pull)
        try busy.bind("inproc://busy")
        let sender = try ZMQSocket(context, .push)
        try sender.connect("inproc://busy")
        try sender.send(bytes("hello"))
        let poller = ZMQPoller()
        let quietIndex = poller.add(quiet)
        let busyIndex = poller.add(busy)
        #expect(try poller.poll(timeoutMilliseconds: 5000) == 1)
        #expect(poller.isReadable(busyIndex))
        #expect(!poller.isReadable(quietIndex))
    }

    @Test func aSocketUsedSinceThePollIsReadAgain() throws {
        // libzmq signals a socket's descriptor once per batch of commands, and a receive can
        // take that signal: the poller must ask the socket, not trust its descriptor.
        let pull = try ZMQSocket(context, .pull)
        try pull.bind("inproc://used-since-poll")
        let push = try ZMQSocket(context, .push)
        try push.connect("inproc://used-since-poll")
        for text in ["one", "two"] { try push.send(bytes(text)) }
        let poller = ZMQPoller()
        let index = poller.add(pull)
        #expect(try poller.poll(timeoutMilliseconds: 5000) == 1)
        #expect(try pull.receive(wait: false) == [bytes("one")])
        #expect(try poller.poll(timeoutMilliseconds: 0) == 1, "the second message was not reported")
        #expect(poller.isReadable(index))
        #expect(try pull.receive(wait: false) == [bytes("two")])
        #expect(try pull.receive(wait: false) == nil)
        #expect(try poller.poll(timeoutMilliseconds: 0) == 0, "a drained socket was reported readable")
        try push.send(bytes("three"))
        // Without the descriptor's signal this waits out the 10 s timeout and fails.
        #expect(try poller.poll(timeoutMilliseconds: 10_000) == 1)
        #expect(try pull.receive(wait: false) == [bytes("three")])
    }

    @Test func twoPollersOfOneSocketBothSeeItsMessage() throws {
        let pull = try ZMQSocket(context, .pull)
        try pull.bind("inproc://two-pollers")
        let push = try ZMQSocket(context, .push)
        try push.connect("inproc://two-pollers")
        let first = ZMQPoller()
        first.add(pull)
        let second = ZMQPoller()
        second.add(pull)
        #expect(try first.poll(timeoutMilliseconds: 0) == 0)
        try push.send(bytes("hello"))
        #expect(try second.poll(timeoutMilliseconds: 5000) == 1)
        // The second poller's read took the descriptor's signal: the first must ask again.
        #expect(try first.poll(timeoutMilliseconds: 100) == 1, "a poller missed a message another poller had seen")
    }

    @Test func aTimeoutIsWaitedOutWhenNothingIsReady() throws {
        let pull = try ZMQSocket(context, .pull)
        try pull.bind("inproc://nothing-ready")
        let poller = ZMQPoller()
        poller.add(pull)
        let start = ContinuousClock.now
        #expect(try poller.poll(timeoutMilliseconds: 30) == 0)
        #expect(ContinuousClock.now - start >= .milliseconds(30), "the poll returned before its timeout")
    }

    @Test func pollingAClosedSocketThrows() throws {
        let socket = try ZMQSocket(context, .pull)
        let poller = ZMQPoller()
        poller.add(socket)
        socket.close()
        #expect(throws: ZMQError.self) { try poller.poll(timeoutMilliseconds: 0) }
        // Also when its state was read before the close and it has not been used since.
        let polled = try ZMQSocket(context, .pull)
        let other = ZMQPoller()
        other.add(polled)
        #expect(try other.poll(timeoutMilliseconds: 0) == 0)
        polled.close()
        #expect(throws: ZMQError.self) { try other.poll(timeoutMilliseconds: 0) }
    }
}

@Suite struct MonitorTests {
    let context = ZMQContext()

    @Test func connectsAndDisconnectsAreReported() throws {
        let publisher = try ZMQSocket(context, .pub)
        try publisher.bind("tcp://127.0.0.1:*")
        let endpoint = try publisher.lastEndpoint
        let subscriber = try ZMQSocket(context, .sub)
        let monitor = try subscriber.monitor()
        try subscriber.setReconnectInterval(milliseconds: 50)
        try subscriber.connect(endpoint)
        #expect(try waitFor(.connected, on: monitor)?.endpoint == endpoint)
        publisher.close()
        #expect(try waitFor(.disconnected, on: monitor)?.endpoint == endpoint)
    }

    /// Reads monitor events until one of `kind` arrives, with a deadline.
    func waitFor(_ kind: ZMQSocketEvent.Kind, on monitor: ZMQMonitor) throws -> ZMQSocketEvent? {
        let poller = ZMQPoller()
        poller.add(monitor.socket)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            try poller.poll(timeoutMilliseconds: 50)
            while let event = try monitor.receive(wait: false) {
                if event.kind == kind { return event }
            }
        }
        return nil
    }
}
