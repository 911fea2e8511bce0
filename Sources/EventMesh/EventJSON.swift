public import EventBus
import FoundationEssentials

/// JSON for events and payloads, as the `mesh` tool reads and prints them.
///
/// A JSON value maps to an ``EventBus/EventValue`` naturally: `null`, booleans, integers (that
/// fit 64 bits; other numbers become doubles), strings, arrays and objects. Bytes print as
/// base64 text.
public enum EventJSON {
    /// Parses JSON text into a payload.
    /// - Parameter text: the JSON text, e.g. `{"provider": "anthropic", "latency_ms": 12}`.
    /// - Returns: the value.
    /// - Throws: `DecodingError` with the position of the problem if `text` is not JSON.
    public static func value(from text: String) throws -> EventValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)).value
    }

    /// JSON text of a payload.
    /// - Parameter value: the payload.
    /// - Returns: compact JSON, object keys sorted.
    public static func text(of value: EventValue) -> String {
        encode(JSONValue(value))
    }

    /// One line of JSON describing an event: id, type, timestamp (ns since the epoch), source,
    /// origin node and sequence, metadata, scope and payload.
    /// - Parameter event: the event.
    /// - Returns: compact JSON, object keys sorted, no newline.
    public static func line(for event: Event) -> String {
        encode(EventLine(event))
    }

    private static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// An event as one JSON object.
struct EventLine: Encodable {
    var id: String
    var type: String
    var ts: Int64
    var source: String?
    var node: String?
    var seq: UInt64?
    var metadata: [String: String]?
    var scope: [String]?
    var data: JSONValue

    init(_ event: Event) {
        id = event.id.description
        type = event.type.name
        ts = event.timestamp.nanosecondsSinceEpoch
        source = event.source.isEmpty ? nil : event.source
        node = event.origin?.node
        seq = event.origin?.sequence
        metadata = event.metadata.isEmpty ? nil : event.metadata
        scope = event.scope.isEmpty ? nil : event.scope
        data = JSONValue(event.data)
    }
}

/// An ``EventValue`` as JSON.
struct JSONValue: Codable {
    var value: EventValue

    init(_ value: EventValue) { self.value = value }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            value = .null
        } else if let flag = try? container.decode(Bool.self) {
            value = .bool(flag)
        } else if let integer = try? container.decode(Int64.self) {
            value = .int(integer)
        } else if let number = try? container.decode(Double.self) {
            value = .double(number)
        } else if let text = try? container.decode(String.self) {
            value = .string(text)
        } else if let array = try? container.decode([JSONValue].self) {
            value = .array(array.map(\.value))
        } else {
            value = .map(EventMap(try container.decode([String: JSONValue].self).mapValues(\.value)))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch value {
        case .null: try container.encodeNil()
        case .bool(let flag): try container.encode(flag)
        case .int(let integer): try container.encode(integer)
        case .double(let number):
            // JSON has no NaN or infinity: write them as text rather than fail the whole line.
            if number.isFinite { try container.encode(number) } else { try container.encode("\(number)") }
        case .string(let text): try container.encode(text)
        case .bytes(let bytes): try container.encode(Data(bytes).base64EncodedString())
        case .array(let elements): try container.encode(elements.map(JSONValue.init))
        case .map(let entries): try container.encode(entries.dictionary.mapValues(JSONValue.init))
        }
    }
}
