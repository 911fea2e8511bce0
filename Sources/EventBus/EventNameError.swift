/// Why a string is not a valid ``EventType`` name or ``EventPattern``.
public struct EventNameError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem, for matching in code.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case empty, emptyToken, wildcardInType, misplacedFullWildcard, reserved, invalidCharacter, tooLong
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The name is the empty string.
        public static let empty = Code(.empty)
        /// The name has an empty token: a leading, trailing or doubled `.`.
        public static let emptyToken = Code(.emptyToken)
        /// An event type has a `*` or `>` token; those are for patterns only.
        public static let wildcardInType = Code(.wildcardInType)
        /// A pattern has a `>` token that is not its last.
        public static let misplacedFullWildcard = Code(.misplacedFullWildcard)
        /// The name starts with `_`, which is reserved for the mesh's own traffic.
        public static let reserved = Code(.reserved)
        /// The name has whitespace or a control character.
        public static let invalidCharacter = Code(.invalidCharacter)
        /// The name is longer than ``EventType/maximumLength`` bytes of UTF-8.
        public static let tooLong = Code(.tooLong)

        public var description: String {
            switch base {
            case .empty: "empty"
            case .emptyToken: "emptyToken"
            case .wildcardInType: "wildcardInType"
            case .misplacedFullWildcard: "misplacedFullWildcard"
            case .reserved: "reserved"
            case .invalidCharacter: "invalidCharacter"
            case .tooLong: "tooLong"
            }
        }
    }

    /// The kind of problem.
    public let code: Code
    /// The rejected name.
    public let name: String
    /// A sentence saying what is wrong.
    public let message: String

    package init(_ code: Code, name: String, message: String) {
        self.code = code
        self.name = name
        self.message = message
    }

    public var description: String {
        "invalid event name \"\(name)\": \(message)"
    }
}

/// Checks the rules shared by event types and patterns.
/// - Parameters:
///   - allowWildcards: whether `*` and `>` tokens are allowed (patterns) or not (types).
///   - allowReserved: whether a leading `_` is allowed (the mesh's own names).
func validateEventName(_ name: String, allowWildcards: Bool, allowReserved: Bool) throws(EventNameError) {
    let utf8 = name.utf8
    if utf8.isEmpty { throw EventNameError(.empty, name: name, message: "a name needs at least one token") }
    if utf8.count > EventType.maximumLength {
        throw EventNameError(.tooLong, name: name, message: "\(utf8.count) bytes of UTF-8, at most \(EventType.maximumLength) allowed")
    }
    if !allowReserved, utf8.first == UInt8(ascii: "_") {
        throw EventNameError(.reserved, name: name, message: "names starting with \"_\" are reserved for the mesh")
    }
    // One pass over the bytes, token by token, with no allocation: this runs for every event
    // that arrives from the network.
    var scratch = name
    let failure = scratch.withUTF8 { (bytes) -> EventNameError? in
        var tokenLength = 0
        var wildcard: UInt8 = 0  // the byte of a one-byte token that is "*" or ">", else 0
        if bytes.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            return EventNameError(.invalidCharacter, name: name, message: "whitespace and control characters are not allowed")
        }
        var index = 0
        while true {
            let atEnd = index == bytes.count
            let byte = atEnd ? UInt8(ascii: ".") : bytes[index]
            if byte == UInt8(ascii: ".") {
                if tokenLength == 0 {
                    return EventNameError(.emptyToken, name: name, message: "tokens between dots must not be empty")
                }
                // A "*" or ">" is a wildcard only as a whole token; inside a longer token it is literal.
                if tokenLength == 1 && wildcard != 0 {
                    if !allowWildcards {
                        return EventNameError(.wildcardInType, name: name, message: "\"*\" and \">\" tokens are for subscription patterns, not event types")
                    }
                    if wildcard == UInt8(ascii: ">") && !atEnd {
                        return EventNameError(.misplacedFullWildcard, name: name, message: "\">\" must be the last token")
                    }
                }
                if atEnd { return nil }
                tokenLength = 0
                wildcard = 0
            } else {
                if tokenLength == 0 && (byte == UInt8(ascii: "*") || byte == UInt8(ascii: ">")) { wildcard = byte }
                tokenLength += 1
            }
            index += 1
        }
    }
    if let failure { throw failure }
}
