import ArgumentParser
import EventBus
import EventMesh

/// What to publish: the options shared by `mesh publish` and `mesh node --publish`.
struct PublishingOptions: ParsableArguments {
    @Option(name: .customLong("data"), help: ArgumentHelp(
        "The payload as JSON, e.g. '{\"provider\": \"anthropic\"}' (default: none). Each event also gets \"n\", its number from 1.",
        valueName: "json"))
    var data: String?

    @Option(name: .customLong("count"), help: ArgumentHelp("How many events to publish.", valueName: "n"))
    var count: Int = 1

    @Option(name: .customLong("rate"), help: ArgumentHelp(
        "Events per second, or 'max'.", valueName: "rate"))
    var rate: String = "max"

    func validate() throws {
        if count < 0 { throw ValidationError("--count must not be negative, got \(count)") }
        _ = try eventsPerSecond()
        _ = try payload()
    }

    /// The rate, or nil for as fast as possible.
    func eventsPerSecond() throws -> Double? {
        if rate == "max" { return nil }
        guard let value = Double(rate), value > 0, value.isFinite else {
            throw ValidationError("--rate must be a positive number of events per second or 'max', not '\(rate)'")
        }
        return value
    }

    func payload() throws -> EventValue {
        guard let data else { return nil }
        do {
            return try EventJSON.value(from: data)
        } catch {
            throw ValidationError("--data is not valid JSON: \(error)")
        }
    }

    /// Publishes `count` events of `type` on `node` at the rate asked for; stops early if the
    /// task is cancelled or the node stops.
    /// - Returns: the ids published, in order.
    func publish(_ type: EventType, on node: MeshNode, source: String) async throws -> [EventID] {
        let base = try payload()
        let interval = try eventsPerSecond().map { 1.0 / $0 }
        let clock = ContinuousClock()
        let start = clock.now
        var ids: [EventID] = []
        ids.reserveCapacity(count)
        for index in 0..<count {
            if Task.isCancelled { break }
            if let interval {
                // A fixed schedule: the next event is due at start + index × interval.
                let due = start + .nanoseconds(Int64(Double(index) * interval * 1e9))
                if due > clock.now { try? await Task.sleep(until: due, clock: clock) }
            }
            var data = base
            if case .map(var entries) = data {
                entries["n"] = .int(Int64(index + 1))
                data = .map(entries)
            } else if data.isNull {
                data = ["n": .int(Int64(index + 1))]
            }
            do {
                ids.append(try node.publish(type, data: data, source: source))
            } catch {
                break
            }
        }
        return ids
    }
}

/// Parses an event type argument with a clear error.
func parseEventType(_ text: String, what: String) throws -> EventType {
    do {
        return try EventType(validating: text)
    } catch {
        throw ValidationError("\(what) '\(text)' is not an event type: \(error.description)")
    }
}

/// Parses a subscription pattern argument with a clear error.
func parsePattern(_ text: String) throws -> EventPattern {
    do {
        return try EventPattern(validating: text)
    } catch {
        throw ValidationError("'\(text)' is not a pattern: \(error.description)")
    }
}
