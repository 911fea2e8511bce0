/// Why a frame could not be decoded (or a value could not be read from it).
///
/// Every decoding failure in EventWire is a `WireError`: the decoder never traps on input, so a
/// caller can match ``code`` and log ``description`` for any byte string it was handed. The raw
/// MessagePack layer fills ``offset``; the envelope layer also fills ``field``.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem, for matching in code.
    ///
    /// A struct wrapping a private enum, so new codes can be added without breaking callers that
    /// switch over the ones they know.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case truncated, invalidFormat, unsupportedFormat, invalidUTF8, limitExceeded
            case integerOutOfRange, wrongType, missingField, invalidField, unsupportedVersion
            case typeMismatch, trailingBytes, duplicateKey
        }

        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The input ends before a value does, or a declared length is longer than what remains.
        public static let truncated = Code(.truncated)
        /// A byte that is not a valid MessagePack format where it stands (for example `0xc1`).
        public static let invalidFormat = Code(.invalidFormat)
        /// A valid MessagePack format EventWire does not accept: ext, fixext and timestamps.
        public static let unsupportedFormat = Code(.unsupportedFormat)
        /// A string (or map key) whose bytes are not well-formed UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// A ``WireLimits`` bound (frame size, depth, collection count, total values) was exceeded.
        public static let limitExceeded = Code(.limitExceeded)
        /// An integer that does not fit the type it is read as (a uint64 above `Int64.max`, or a
        /// negative value read as unsigned).
        public static let integerOutOfRange = Code(.integerOutOfRange)
        /// A well-formed value of another MessagePack type than the one asked for.
        public static let wrongType = Code(.wrongType)
        /// The envelope or payload lacks a field it must have.
        public static let missingField = Code(.missingField)
        /// An envelope or payload field has a value outside its allowed set or range.
        public static let invalidField = Code(.invalidField)
        /// The envelope declares a format version this decoder does not speak.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// A payload does not match the typed payload it is decoded into.
        public static let typeMismatch = Code(.typeMismatch)
        /// Bytes follow the end of the encoded event.
        public static let trailingBytes = Code(.trailingBytes)
        /// A map has the same key twice.
        public static let duplicateKey = Code(.duplicateKey)

        /// The code's name, as written in Swift (`truncated`, `invalidUTF8`, …).
        public var description: String {
            switch base {
            case .truncated: "truncated"
            case .invalidFormat: "invalidFormat"
            case .unsupportedFormat: "unsupportedFormat"
            case .invalidUTF8: "invalidUTF8"
            case .limitExceeded: "limitExceeded"
            case .integerOutOfRange: "integerOutOfRange"
            case .wrongType: "wrongType"
            case .missingField: "missingField"
            case .invalidField: "invalidField"
            case .unsupportedVersion: "unsupportedVersion"
            case .typeMismatch: "typeMismatch"
            case .trailingBytes: "trailingBytes"
            case .duplicateKey: "duplicateKey"
            }
        }
    }

    /// The kind of problem.
    public let code: Code
    /// The byte offset in the frame where the problem starts, when it has one.
    ///
    /// For a malformed value this is the offset of the value's first byte; for a declared length
    /// that runs past the input, the offset of the header that declares it; for input that ends
    /// between values, the end of the input.
    public let offset: Int?
    /// The envelope or payload path of the offending value, such as `p.items[3].name`, when known.
    public let field: String?
    /// A sentence saying what is wrong and where.
    public let message: String

    /// Creates an error.
    ///
    /// - Parameters:
    ///   - code: The kind of problem.
    ///   - offset: The byte offset in the frame where the problem starts, if known.
    ///   - field: The envelope or payload path of the offending value, if known.
    ///   - message: A sentence saying what is wrong and where, for example
    ///     `"truncated at offset 17: str8 declares 40 bytes, 12 remain"`.
    public init(_ code: Code, offset: Int?, field: String? = nil, message: String) {
        self.code = code
        self.offset = offset
        self.field = field
        self.message = message
    }

    /// The code, the field when known, and the message, on one line.
    public var description: String {
        if let field {
            return "\(code) in \(field): \(message)"
        }
        return "\(code): \(message)"
    }
}
