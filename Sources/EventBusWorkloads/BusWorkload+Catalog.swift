import EventBus

// The workloads. Each builds its bus, subscribers and payload once, in `prepare()`; the loop in
// `run(iterations:)` only publishes (or, for the baseline, calls). Every handler reads a field of
// the event into `blackHole`, so that no handler is empty.

extension BusWorkload {
    /// The baseline: a stored closure called once per iteration with a prebuilt event; the
    /// closure reads `event.data` into ``blackHole(_:)``, as the bus workloads' handlers do.
    public static let baseline = BusWorkload(
        name: "baseline_stored_closure",
        summary: "call a stored closure with a prebuilt event; it reads event.data (no bus)"
    ) { name in
        let event = Event(type: .streamStarted, data: StreamStartedPayload.sampleValue)
        let stored = StoredHandler { event in blackHole(event.data) }
        return PreparedWorkload(name: name, handlersPerEvent: 1) { iterations in
            for _ in 0..<iterations { stored.handler(event) }
        } verify: { () throws(WorkloadVerificationError) in
            stored.handler(event)
        }
    }

    /// Publish a small untyped payload to a bus with no subscriber (history on, 1000 events).
    public static let publishNoSubscriber = BusWorkload(
        name: "publish_0_subscribers",
        summary: "publish a small untyped payload, no subscriber, history on (1000)"
    ) { name in
        let bus = EventBus(historyCapacity: 1000)
        return untypedPublishing(name: name, bus: bus, handlersPerEvent: 0)
    }

    /// The headline: publish a small untyped payload to one subscriber, history on (1000 events).
    public static let publishOneSubscriber = BusWorkload(
        name: "publish_1_subscriber",
        summary: "publish a small untyped payload to 1 subscriber, history on (1000)"
    ) { name in
        let bus = EventBus(historyCapacity: 1000)
        subscribeReadingData(bus, count: 1)
        return untypedPublishing(name: name, bus: bus, handlersPerEvent: 1)
    }

    /// Publish a small untyped payload to one subscriber, history off (`historyCapacity: 0`).
    public static let publishOneSubscriberNoHistory = BusWorkload(
        name: "publish_1_subscriber_no_history",
        summary: "publish a small untyped payload to 1 subscriber, history off (capacity 0)"
    ) { name in
        let bus = EventBus(historyCapacity: 0)
        subscribeReadingData(bus, count: 1)
        return untypedPublishing(name: name, bus: bus, handlersPerEvent: 1)
    }

    /// Publish a small untyped payload to ten subscribers, history on (1000 events).
    public static let publishTenSubscribers = BusWorkload(
        name: "publish_10_subscribers",
        summary: "publish a small untyped payload to 10 subscribers, history on (1000)"
    ) { name in
        let bus = EventBus(historyCapacity: 1000)
        subscribeReadingData(bus, count: 10)
        return untypedPublishing(name: name, bus: bus, handlersPerEvent: 10)
    }

    /// Publish a small untyped payload through one pass-through middleware to one subscriber,
    /// history on (1000 events).
    public static let publishOneSubscriberOneMiddleware = BusWorkload(
        name: "publish_1_subscriber_1_middleware",
        summary: "publish a small untyped payload through 1 pass-through middleware to 1 subscriber, history on (1000)"
    ) { name in
        let bus = EventBus(historyCapacity: 1000)
        bus.addMiddleware(name: "pass-through") { event, next in next(event) }
        subscribeReadingData(bus, count: 1)
        return untypedPublishing(name: name, bus: bus, handlersPerEvent: 1)
    }

    /// Publish a typed payload (an ``EventBus/EventPayload`` struct) to one typed subscriber,
    /// which receives it as published: no conversion. History on (1000 events).
    public static let typedPublishTypedSubscriber = BusWorkload(
        name: "typed_publish_typed_subscriber",
        summary: "publish a typed payload to 1 typed subscriber (no conversion), history on (1000)"
    ) { name in
        let bus = EventBus(historyCapacity: 1000)
        bus.subscribe(to: StreamStartedPayload.self) { event in blackHole(event.data.streamID) }
        return typedPublishing(name: name, bus: bus, handlersPerEvent: 1)
    }

    /// Publish a small untyped map to one typed subscriber: the payload is decoded into the
    /// typed struct once per event. History on (1000 events).
    public static let untypedPublishTypedSubscriber = BusWorkload(
        name: "untyped_publish_typed_subscriber",
        summary: "publish a small untyped map to 1 typed subscriber (decoded per event), history on (1000)"
    ) { name in
        let bus = EventBus(historyCapacity: 1000)
        bus.subscribe(to: StreamStartedPayload.self) { event in blackHole(event.data.streamID) }
        return untypedPublishing(name: name, bus: bus, handlersPerEvent: 1) { () throws(WorkloadVerificationError) in
            let event = Event(type: StreamStartedPayload.eventType, data: StreamStartedPayload.sampleValue)
            let decoded: StreamStartedPayload
            do {
                decoded = try event.payload(as: StreamStartedPayload.self)
            } catch {
                throw WorkloadVerificationError(workload: name, message: "the map payload does not decode as the typed payload: \(error)")
            }
            guard decoded == StreamStartedPayload.sample else {
                throw WorkloadVerificationError(workload: name, message: "the map payload decodes as \(decoded), expected \(StreamStartedPayload.sample)")
            }
        }
    }

    /// Publish a typed payload to one untyped subscriber that reads `event.data`: the payload
    /// is encoded into a map once per event. History on (1000 events).
    public static let typedPublishUntypedSubscriber = BusWorkload(
        name: "typed_publish_untyped_subscriber",
        summary: "publish a typed payload to 1 untyped subscriber reading event.data (encoded per event), history on (1000)"
    ) { name in
        let bus = EventBus(historyCapacity: 1000)
        subscribeReadingData(bus, count: 1)
        return typedPublishing(name: name, bus: bus, handlersPerEvent: 1) { () throws(WorkloadVerificationError) in
            let data = Event(StreamStartedPayload.sample).data
            guard data == StreamStartedPayload.sampleValue else {
                throw WorkloadVerificationError(workload: name, message: "the typed payload reads as \(data), expected \(StreamStartedPayload.sampleValue)")
            }
        }
    }
}

// MARK: Building blocks

extension BusWorkload {
    /// Subscribes `count` untyped handlers that each read `event.data` into the black hole.
    fileprivate static func subscribeReadingData(_ bus: EventBus, count: Int) {
        for _ in 0..<count {
            bus.subscribe(StreamStartedPayload.eventType) { event in blackHole(event.data) }
        }
    }

    /// A workload that publishes the small untyped payload, built here once, on every iteration.
    fileprivate static func untypedPublishing(
        name: String,
        bus: EventBus,
        handlersPerEvent: Int,
        payloadCheck: @escaping @Sendable () throws(WorkloadVerificationError) -> Void = {}
    ) -> PreparedWorkload {
        let type = StreamStartedPayload.eventType
        let data = StreamStartedPayload.sampleValue
        let run: @Sendable (Int) -> Void = { iterations in
            for _ in 0..<iterations { bus.publish(type, data: data) }
        }
        return PreparedWorkload(name: name, handlersPerEvent: handlersPerEvent, run: run) { () throws(WorkloadVerificationError) in
            try payloadCheck()
            try checkDelivery(name: name, bus: bus, handlersPerEvent: handlersPerEvent, run: run)
        }
    }

    /// A workload that publishes the typed payload, built here once, on every iteration.
    fileprivate static func typedPublishing(
        name: String,
        bus: EventBus,
        handlersPerEvent: Int,
        payloadCheck: @escaping @Sendable () throws(WorkloadVerificationError) -> Void = {}
    ) -> PreparedWorkload {
        let payload = StreamStartedPayload.sample
        let run: @Sendable (Int) -> Void = { iterations in
            for _ in 0..<iterations { bus.publish(payload) }
        }
        return PreparedWorkload(name: name, handlersPerEvent: handlersPerEvent, run: run) { () throws(WorkloadVerificationError) in
            try payloadCheck()
            try checkDelivery(name: name, bus: bus, handlersPerEvent: handlersPerEvent, run: run)
        }
    }

    /// Runs one iteration and checks the bus's counters: one event in, every handler called,
    /// nothing thrown or dropped.
    fileprivate static func checkDelivery(
        name: String,
        bus: EventBus,
        handlersPerEvent: Int,
        run: @Sendable (Int) -> Void
    ) throws(WorkloadVerificationError) {
        let before = bus.stats
        run(1)
        let after = bus.stats
        if after.handlerErrors != before.handlerErrors {
            let report = bus.history(matching: EventPattern(EventType.handlerError), order: .newestFirst, limit: 1).first
            let reason = report?.data["error"]?.stringValue ?? "(no handler.error event in history)"
            throw WorkloadVerificationError(
                workload: name,
                message: "\(after.handlerErrors - before.handlerErrors) handler error(s) for one event: \(reason)")
        }
        if after.dropped != before.dropped {
            throw WorkloadVerificationError(workload: name, message: "middleware dropped the event")
        }
        if after.published - before.published != 1 {
            throw WorkloadVerificationError(
                workload: name, message: "expected 1 event to enter the pipeline, counted \(after.published - before.published)")
        }
        if after.delivered - before.delivered != handlersPerEvent {
            throw WorkloadVerificationError(
                workload: name,
                message: "expected \(handlersPerEvent) handler call(s) per event, counted \(after.delivered - before.delivered)")
        }
    }
}
