import Testing
@testable import EventBus

/// A parent sink that records what it is handed, as a network bridge would.
final class RecordingSink: EventSink {
    let accepted = Recorder<Event>()
    func accept(_ event: Event) { accepted.append(event) }
}

@Suite struct ScopedEventBusTests {
    @Test func eventsPropagateUpThreeLevelsWithOneID() {
        let root = EventBus()
        let agents = root.scoped("agents")
        let agent = agents.child("agent-1")
        let log = Recorder<String>()
        let ids = Recorder<EventID>()
        root.subscribe(">") { log.append("root"); ids.append($0.id) }
        agents.subscribe(">") { log.append("agents"); ids.append($0.id) }
        agent.subscribe(">") { log.append("agent-1"); ids.append($0.id) }
        let id = agent.publish(.agentStarted, data: ["name": "planner"])
        #expect(log.values == ["agent-1", "agents", "root"], "local first, then up")
        #expect(ids.values == [id, id, id])
        for bus in [root, agents, agent] {
            let recorded = bus.history()
            #expect(recorded.map(\.id) == [id])
            #expect(recorded.first?.scope == ["agents", "agent-1"])
        }
        #expect(agent.path == ["agents", "agent-1"])
        #expect(agent.scope == "agent-1")
    }

    @Test func eventsDoNotFlowDown() {
        let root = EventBus()
        let child = root.scoped("child")
        let received = Recorder<EventID>()
        child.subscribe(">") { received.append($0.id) }
        root.publish(.systemInit)
        child.scoped("grandchild").publish(.systemInit)
        #expect(received.count == 1, "only the grandchild's event, which flows up through the child")
    }

    @Test func localEventsStayWhereTheyArePublished() {
        let sink = RecordingSink()
        let node = ScopedEventBus(scope: "node", parent: sink)
        node.publish(Event(type: "debug.only", isLocal: true))
        let id = node.publish("shared.event")
        #expect(sink.accepted.values.map(\.id) == [id])
    }

    @Test func aSinkParentGetsTheSameEventAfterLocalDelivery() {
        let sink = RecordingSink()
        let node = ScopedEventBus(scope: "node-a", parent: sink)
        let order = Recorder<String>()
        node.subscribe(">") { _ in order.append("local (sink has \(sink.accepted.count))") }
        let id = node.publish(.providerConnected, data: ["p": "x"])
        #expect(order.values == ["local (sink has 0)"])
        let handed = sink.accepted.values
        #expect(handed.count == 1)
        #expect(handed[0].id == id)
        #expect(handed[0].scope == ["node-a"])
        #expect(handed[0].data == ["p": "x"])
    }

    @Test func remoteDeliveryIsNotHandedBackToTheParent() {
        let sink = RecordingSink()
        let node = ScopedEventBus(scope: "node", parent: sink)
        let received = Recorder<EventID>()
        node.subscribe(">") { received.append($0.id) }
        let remote = Event(type: "from.elsewhere")
        node.deliverRemote(remote)
        #expect(received.values == [remote.id])
        #expect(sink.accepted.count == 0)
    }

    @Test func childHandlerPublishesKeepTheParentsOrder() {
        let root = EventBus()
        let child = root.scoped("c")
        let rootSeen = Recorder<EventType>()
        child.subscribe("first") { _ in child.publish("second") }
        root.subscribe(">") { rootSeen.append($0.type) }
        child.publish("first")
        #expect(rootSeen.values == ["first", "second"])
    }
}
