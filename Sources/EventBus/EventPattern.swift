/// Which event types a subscription or history query selects, in NATS subject syntax.
///
/// - an exact type, `provider.connected`;
/// - `*` matches exactly one token: `provider.*` matches `provider.connected`, not `provider` or
///   `provider.a.b`;
/// - `>` as the last token matches one or more tokens: `provider.>` matches `provider.connected`
///   and `provider.a.b`, not `provider`;
/// - `>` alone matches every event.
///
/// A `*` or `>` inside a longer token is a literal character: `a*.b` matches only `a*.b`.
public struct EventPattern: Hashable, Sendable, CustomStringConvertible {
    /// The pattern as written.
    public let text: String
    private let tokens: [Substring]
    private let isExact: Bool

    /// Every event: `>`.
    public static let all: EventPattern = ">"

    /// Validates and parses a pattern.
    /// - Parameter text: the pattern, e.g. `provider.*`.
    /// - Throws: ``EventNameError`` if the pattern breaks a rule (empty token, `>` not last, …).
    public init(validating text: String) throws(EventNameError) {
        try validateEventName(text, allowWildcards: true, allowReserved: false)
        self.init(parsed: text)
    }

    /// A pattern that matches exactly one event type.
    /// - Parameter type: the type to match.
    public init(_ type: EventType) {
        self.init(parsed: type.name)
    }

    private init(parsed text: String) {
        self.text = text
        self.tokens = text.split(separator: ".", omittingEmptySubsequences: false)
        self.isExact = !tokens.contains { $0 == "*" || $0 == ">" }
    }

    /// The exact type this pattern names, if it has no wildcard.
    public var exactType: EventType? {
        isExact ? EventType(unchecked: text) : nil
    }

    /// The longest text that every type this pattern matches starts with: the whole type for an
    /// exact pattern, the tokens before the first wildcard and their dot otherwise
    /// (`provider.*` and `provider.>` → `provider.`, `a.*.c` → `a.`), and the empty string when
    /// the first token is a wildcard (`>`, `*.started`). A transport that filters by prefix
    /// subscribes to this and checks ``matches(_:)`` on what arrives.
    public var literalPrefix: String {
        if isExact { return text }
        var prefix = ""
        for token in tokens {
            if token == "*" || token == ">" { break }
            prefix += token
            prefix += "."
        }
        return prefix
    }

    /// Whether `type` is selected by this pattern.
    /// - Parameter type: the event type to test.
    /// - Returns: `true` if the pattern matches the type under the rules above.
    public func matches(_ type: EventType) -> Bool {
        if isExact { return type.name == text }
        let typeTokens = type.name.split(separator: ".", omittingEmptySubsequences: false)
        for (index, token) in tokens.enumerated() {
            if token == ">" { return typeTokens.count > index }
            guard index < typeTokens.count else { return false }
            if token != "*" && typeTokens[index] != token { return false }
        }
        return typeTokens.count == tokens.count
    }

    public var description: String { text }

    public static func == (lhs: EventPattern, rhs: EventPattern) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

extension EventPattern: ExpressibleByStringLiteral {
    /// Parses a literal pattern; a literal that is not a valid pattern stops the program.
    public init(stringLiteral value: String) {
        do {
            try self.init(validating: value)
        } catch {
            preconditionFailure(error.description)
        }
    }
}
