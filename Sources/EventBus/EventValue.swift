/// A dynamically typed event payload: the untyped form of an event's data.
///
/// `EventValue` covers what a MessagePack or JSON document can hold, so any payload can cross a
/// process or language boundary. It is writable as a literal:
///
/// ```swift
/// let data: EventValue = ["stream_id": "s1", "provider": "anthropic", "tokens": 42]
/// data["provider"]?.stringValue   // "anthropic"
/// ```
///
/// Typed payloads (``EventPayload``) convert to and from this form through
/// ``EventValueEncoder`` and ``EventValueDecoder``.
public enum EventValue: Sendable, Hashable {
    /// No value (`nil` in a payload, `None` in Python, `null` in JSON).
    case null
    /// A boolean.
    case bool(Bool)
    /// A signed 64-bit integer.
    case int(Int64)
    /// A 64-bit IEEE 754 floating-point number.
    case double(Double)
    /// A UTF-8 string.
    case string(String)
    /// Raw bytes.
    case bytes([UInt8])
    /// An ordered list of values.
    case array([EventValue])
    /// A map from string keys to values, in the order of the keys' UTF-8 bytes.
    case map(EventMap)
}

extension EventValue {
    /// Whether this value is ``null``.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The boolean, if this value is ``bool(_:)``.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The integer, if this value is ``int(_:)``.
    public var intValue: Int64? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The number as a `Double`, if this value is ``double(_:)`` or ``int(_:)``.
    public var doubleValue: Double? {
        switch self {
        case .double(let value): return value
        case .int(let value): return Double(value)
        default: return nil
        }
    }

    /// The string, if this value is ``string(_:)``.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The bytes, if this value is ``bytes(_:)``.
    public var bytesValue: [UInt8]? {
        if case .bytes(let value) = self { return value }
        return nil
    }

    /// The elements, if this value is ``array(_:)``.
    public var arrayValue: [EventValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The entries, if this value is ``map(_:)``.
    public var mapValue: EventMap? {
        if case .map(let value) = self { return value }
        return nil
    }

    /// The value stored under `key`, if this value is a map that has it.
    public subscript(key: String) -> EventValue? {
        if case .map(let entries) = self { return entries[key] }
        return nil
    }

    /// The element at `index`, if this value is an array long enough to have it.
    public subscript(index: Int) -> EventValue? {
        if case .array(let elements) = self, elements.indices.contains(index) { return elements[index] }
        return nil
    }
}

extension EventValue: ExpressibleByNilLiteral {
    public init(nilLiteral: ()) { self = .null }
}

extension EventValue: ExpressibleByBooleanLiteral {
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension EventValue: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
}

extension EventValue: ExpressibleByFloatLiteral {
    public init(floatLiteral value: Double) { self = .double(value) }
}

extension EventValue: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
}

extension EventValue: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: EventValue...) { self = .array(elements) }
}

extension EventValue: ExpressibleByDictionaryLiteral {
    // Inlinable, and reading the literal's entries in place through a pointer: iterating the
    // array in EventMap's own code cost about 200 instructions more for a literal of three
    // entries (`Benchmarks/Profiling/profile.sh mesh_send_bench_event`).
    @inlinable
    public init(dictionaryLiteral elements: (String, EventValue)...) {
        self = elements.withUnsafeBufferPointer { .map(EventMap(literalEntries: $0)) }
    }
}

extension EventValue: CustomStringConvertible {
    /// A compact, JSON-like rendering for logs and the CLI (bytes as `<hex>`; map keys in the
    /// map's order, by their UTF-8 bytes).
    public var description: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .int(let value): out += String(value)
        case .double(let value): out += String(value)
        case .string(let value): EventValue.writeQuoted(value, to: &out)
        case .bytes(let value):
            out += "<"
            for byte in value {
                let hex = String(byte, radix: 16)
                if hex.count == 1 { out += "0" }
                out += hex
            }
            out += ">"
        case .array(let elements):
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                element.write(to: &out)
            }
            out += "]"
        case .map(let entries):
            out += "{"
            for (index, entry) in entries.enumerated() {
                if index > 0 { out += "," }
                EventValue.writeQuoted(entry.key, to: &out)
                out += ":"
                entry.value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeQuoted(_ string: String, to out: inout String) {
        out += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
