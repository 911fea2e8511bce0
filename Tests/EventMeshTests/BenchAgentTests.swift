import Dispatch
import EventBus
import EventMesh
import Foundation
import Testing
import ZeroMQ

@Suite struct BenchClockTests {
    func probe(sharesKernel: Bool, offset: Double, roundTrip: Double) -> BenchCoordinator.AgentProbe {
        let info = BenchControl.AgentInfo.current(name: "a")
        return BenchCoordinator.AgentProbe(
            endpoint: "tcp://127.0.0.1:1", info: info, roundTripMicroseconds: roundTrip,
            monotonicOffsetMicroseconds: offset, realtimeOffsetMicroseconds: offset, sharesKernel: sharesKernel)
    }

    @Test func latencyUsesTheMonotonicClockOnlyWhenEveryAgentSharesTheKernel() {
        #expect(BenchCoordinator.chooseClock([]) == .monotonic)
        #expect(BenchCoordinator.chooseClock([probe(sharesKernel: true, offset: 0, roundTrip: 100)]) == .monotonic)
        #expect(BenchCoordinator.chooseClock([probe(sharesKernel: true, offset: 0, roundTrip: 100),
                                              probe(sharesKernel: false, offset: 0, roundTrip: 100)]) == .realtime)
    }

    @Test func clocksDisagreeWhenTheOffsetIsMoreThanHalfTheRoundTrip() {
        #expect(!probe(sharesKernel: false, offset: 40, roundTrip: 100).clocksDisagree(.realtime))
        #expect(!probe(sharesKernel: false, offset: -50, roundTrip: 100).clocksDisagree(.realtime))
        #expect(probe(sharesKernel: false, offset: -51, roundTrip: 100).clocksDisagree(.realtime))
        #expect(probe(sharesKernel: false, offset: 2000, roundTrip: 100).clocksDisagree(.monotonic))
    }

    @Test func anAgentDescribesItsHost() {
        let info = BenchControl.AgentInfo.current(name: "x")
        #expect(info.name == "x")
        #expect(info.bootID.count == 36, "boot id '\(info.bootID)'")
        #expect(info.networkNamespace.hasPrefix("net:["), "namespace '\(info.networkNamespace)'")
        #expect(info.pid == getpid())
        let source = (try? String(contentsOfFile: "/sys/devices/system/clocksource/clocksource0/current_clocksource", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(info.clockSource == (source ?? "unknown"))
        #expect(info.realtimeNanoseconds > 1_700_000_000 * 1_000_000_000)
    }
}

/// `mesh bench agent` and `mesh bench fanout --agents`, as processes on this host.
@Suite(.serialized, .timeLimit(.minutes(3))) struct BenchAgentProcessTests {
    /// Starts an agent on an OS-assigned loopback port.
    /// - Returns: the process and the endpoint it printed.
    func startAgent(_ name: String) async throws -> (MeshProcess, String) {
        let agent = try MeshProcess(["bench", "agent", "--listen", "tcp://127.0.0.1:*", "--name", name, "--log-level", "info"])
        let line = try #require(await agent.waitForLine { $0.contains("listening on") }, "agent \(name) did not say where it listens")
        let endpoint = try #require(line.split(separator: " ").last.map(String.init))
        return (agent, endpoint)
    }

    @Test func subscribersRunOnTheAgentsAndTheirResultsComeBackOverTheControlChannel() async throws {
        let (first, firstEndpoint) = try await startAgent("agent-one")
        let (second, secondEndpoint) = try await startAgent("agent-two")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("agents-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Two runs (mesh, then raw) through the same agents: they serve one run after another.
        let bench = try MeshProcess(["bench", "fanout", "--agents", "\(firstEndpoint),\(secondEndpoint)",
                                     "--subscribers", "3", "--count", "2000", "--raw", "--json", path])
        #expect(await bench.waitForExit(within: 150), "the bench did not finish")
        #expect(bench.process.terminationStatus == 0, "bench exited \(bench.process.terminationStatus): \(bench.errorOutput.suffix(5))")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])

        let agents = try #require(document["agents"] as? [[String: Any]])
        #expect(agents.count == 2)
        let infos = agents.compactMap { $0["info"] as? [String: Any] }
        #expect(infos.map { $0["name"] as? String } == ["agent-one", "agent-two"])
        #expect(infos.map { $0["pid"] as? Int } == [Int(first.process.processIdentifier), Int(second.process.processIdentifier)])
        #expect(agents.allSatisfy { $0["sharesKernel"] as? Bool == true && ($0["roundTripMicroseconds"] as? Double ?? 0) > 0 })

        let step = try #require((document["steps"] as? [[String: Any]])?.first)
        for kind in ["mesh", "raw"] {
            let run = try #require((step[kind] as? [[String: Any]])?.first, "no \(kind) run")
            #expect(run["clock"] as? String == "monotonic", "\(kind)")
            let subscribers = try #require(run["subscribers"] as? [[String: Any]])
            // Placed round-robin, each result naming the agent it ran under.
            #expect(subscribers.map { $0["agent"] as? String } == ["agent-one", "agent-two", "agent-one"], "\(kind)")
            for subscriber in subscribers {
                #expect(subscriber["distinct"] as? Int == 2000, "\(kind): \(subscriber["node"] ?? "?")")
                #expect(subscriber["lost"] as? Int == 0, "\(kind): \(subscriber["node"] ?? "?")")
                #expect(subscriber["duplicates"] as? Int == 0, "\(kind): \(subscriber["node"] ?? "?")")
            }
        }
        #expect(bench.output.contains { $0.hasPrefix("agent agent-two at \(secondEndpoint)") }, "no line about the second agent")

        // The agents started and stopped the workers, and stop cleanly themselves.
        // Each agent started its share of the workers of both runs (logged at info).
        #expect(first.errorOutput.filter { $0.contains("started worker") }.count == 4, "\(first.errorOutput)")
        #expect(second.errorOutput.filter { $0.contains("started worker") }.count == 2, "\(second.errorOutput)")
        for agent in [first, second] {
            let exit = await agent.terminate()
            #expect(exit?.status == 0, "agent exit: \(String(describing: exit))")
        }
    }

    @Test func latencyOnTheWallClockIsMeasuredOnTheWallClockAtBothEnds() async throws {
        let (agent, endpoint) = try await startAgent("wall")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wall-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bench = try MeshProcess(["bench", "fanout", "--agents", endpoint, "--clock", "realtime", "--count", "1000", "--json", path])
        #expect(await bench.waitForExit(within: 120), "the bench did not finish")
        #expect(bench.process.terminationStatus == 0, "\(bench.errorOutput.suffix(5))")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        #expect((document["environment"] as? [String: Any])?["latencyClock"] as? String == "CLOCK_REALTIME (--clock realtime)")
        let run = try #require(((document["steps"] as? [[String: Any]])?.first?["mesh"] as? [[String: Any]])?.first)
        #expect(run["clock"] as? String == "realtime")
        let subscriber = try #require((run["subscribers"] as? [[String: Any]])?.first)
        #expect(subscriber["distinct"] as? Int == 1000)
        // A stamp and an arrival on different clocks would be ~1.7e15 µs apart (or clamped to
        // the 1 ns floor): only the same clock at both ends gives a latency in between.
        let p50 = try #require((subscriber["latencyMicroseconds"] as? [String: Any])?["p50"] as? Double)
        #expect(p50 > 1 && p50 < 5_000_000, "p50 \(p50) µs")
        _ = await agent.terminate()
    }

    @Test func anAgentThatDoesNotAnswerIsAClearErrorNotAHang() async throws {
        // A port nothing listens on: bind one, read it, close it.
        let (agent, endpoint) = try await startAgent("gone")
        _ = await agent.terminate()
        let bench = try MeshProcess(["bench", "fanout", "--agents", endpoint, "--agent-timeout", "1", "--count", "10"])
        #expect(await bench.waitForExit(within: 30), "the bench hung")
        #expect(bench.process.terminationStatus == 1)
        #expect(bench.errorOutput.joined(separator: "\n").contains("bench agent \(endpoint) did not answer within 1.0 s"), "\(bench.errorOutput)")
    }

    @Test func badAgentOptionsAreRefused() async throws {
        for (arguments, message) in [
            (["--agents", "nohost"], "'nohost' is not host:port"),
            (["--agents", "ipc:///tmp/x:1"], "is not host:port"),
            (["--advertise", "10.0.0.1"], "--advertise goes with --agents"),
            (["--agents", "127.0.0.1:7700", "--agent-timeout", "0"], "--agent-timeout must be"),
            (["--clock", "tai"], "--clock must be auto, monotonic or realtime"),
        ] {
            let bench = try MeshProcess(["bench", "fanout"] + arguments)
            #expect(await bench.waitForExit(within: 30))
            #expect(bench.process.terminationStatus == 64, "\(arguments)")
            #expect(bench.errorOutput.joined(separator: "\n").contains(message), "\(arguments): \(bench.errorOutput)")
        }
    }
}

/// The coordinator's side of a ping, against a stand-in agent on a ROUTER socket.
@Suite(.timeLimit(.minutes(1))) struct BenchProbeTests {
    @Test func aPongThatAnswersAnotherPingIsNotTakenForThisOne() throws {
        let context = ZMQContext()
        let bound = LockedValueBox<String?>(nil)
        let isBound = DispatchSemaphore(value: 0)
        let answered = LockedValueBox(0)
        let done = LockedValueBox(false)
        // Each ping gets a stale pong at once (right agent, another ping's nonce, clocks an hour
        // off), then its true answer over a slow link (100 ms later). Taken for this ping's
        // answer, the stale one would be the shortest round trip, so the one kept, and would put
        // the clocks an hour apart.
        let thread = Thread {
            // The socket lives on this thread only.
            guard let agent = try? ZMQSocket(context, .router), (try? agent.bind("tcp://127.0.0.1:*")) != nil else {
                isBound.signal()
                return
            }
            bound.withLockedValue { $0 = try? agent.lastEndpoint }
            isBound.signal()
            let poller = ZMQPoller()
            poller.add(agent)
            func answer(_ to: [UInt8], _ info: BenchControl.AgentInfo, nonce: UInt64) {
                let pong = BenchControl.Report(kind: "pong", worker: "stand-in", agent: info, nonce: nonce)
                guard let body = try? JSONEncoder().encode(pong) else { return }
                _ = try? agent.send(frames: [to, Array(body)])
            }
            while !done.withLockedValue({ $0 }) {
                guard (try? poller.poll(timeoutMilliseconds: 50)) ?? 0 > 0,
                      let frames = (try? agent.receive(wait: false)) ?? nil, frames.count == 2,
                      let ping = try? JSONDecoder().decode(BenchControl.Command.self, from: Data(frames[1])), ping.kind == "ping",
                      let nonce = ping.nonce
                else { continue }
                answered.withLockedValue { $0 += 1 }
                var stale = BenchControl.AgentInfo.current(name: "stand-in")
                stale.monotonicNanoseconds += 3_600_000_000_000
                stale.realtimeNanoseconds += 3_600_000_000_000
                answer(frames[0], stale, nonce: nonce &+ 1)
                // The slow link: no other ping can come before this one is answered.
                _ = try? ZMQPoller().poll(timeoutMilliseconds: 100)
                answer(frames[0], .current(name: "stand-in"), nonce: nonce)
            }
        }
        thread.start()
        defer { done.withLockedValue { $0 = true } }
        isBound.wait()
        let endpoint = try #require(bound.withLockedValue { $0 }, "the stand-in agent could not bind")
        let probes = try BenchCoordinator.probe(agents: [endpoint], timeoutSeconds: 10)
        let probe = try #require(probes.first)
        #expect(probe.info.name == "stand-in")
        #expect(answered.withLockedValue { $0 } == 5, "one ping per sample, five samples")
        // Only true answers were used: each read its clocks 100 ms after the ping, so about
        // 50 ms past the round trip's middle, nowhere near an hour.
        #expect(abs(probe.monotonicOffsetMicroseconds) < 1_000_000, "offset \(probe.monotonicOffsetMicroseconds) µs")
        #expect(abs(probe.realtimeOffsetMicroseconds) < 1_000_000, "offset \(probe.realtimeOffsetMicroseconds) µs")
        #expect(probe.roundTripMicroseconds >= 100_000, "round trip \(probe.roundTripMicroseconds) µs: a stale answer was taken")
        #expect(probe.sharesKernel)
    }
}
