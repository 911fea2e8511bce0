import Foundation
import Testing
@testable import EventBus
@testable import EventWire

/// `validateValue()` accepts exactly what `readValue()` accepts, fails with the same error, and
/// says truly whether the bytes are canonical; `EventCodec` keeps validated payloads encoded and
/// copies canonical ones through.
@Suite struct PayloadValidationTests {
    /// Runs `readValue()` and `validateValue()` on `input` and checks that they agree: both
    /// succeed having read as far and counted as many values (and the canonical flag is true
    /// exactly when re-encoding gives the same bytes), or both fail with the same error.
    /// - Returns: the validation's outcome.
    @discardableResult
    static func expectAgreement(
        _ input: [UInt8], limits: WireLimits = .default, _ comment: @autoclosure () -> String = "",
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Result<Bool, WireError> {
        var reader = MessagePackReader(bytes: input, limits: limits)
        var validator = MessagePackReader(bytes: input, limits: limits)
        let read = Result { () throws(WireError) in try reader.readValue() }
        let validated = Result { () throws(WireError) in try validator.validateValue() }
        switch (read, validated) {
        case (.success(let value), .success(let isCanonical)):
            #expect(validator.offset == reader.offset, "\(Self.hex(input)) \(comment())", sourceLocation: sourceLocation)
            #expect(validator.valueCount == reader.valueCount, "\(Self.hex(input)) \(comment())", sourceLocation: sourceLocation)
            var writer = MessagePackWriter()
            writer.write(value)
            let reencodesAlike = writer.bytes == Array(input[..<reader.offset])
            #expect(isCanonical == reencodesAlike, "canonical flag of \(Self.hex(input)) \(comment())", sourceLocation: sourceLocation)
        case (.failure(let readError), .failure(let validationError)):
            #expect(validationError == readError, "\(Self.hex(input)) \(comment())", sourceLocation: sourceLocation)
        default:
            Issue.record("readValue \(read) but validateValue \(validated) on \(Self.hex(input)) \(comment())", sourceLocation: sourceLocation)
        }
        return validated
    }

    /// The malformed-input classes of `MessagePackTests`, one or more inputs each, with the
    /// limits they need.
    static let malformed: [(hex: String, limits: WireLimits)] = {
        var cases: [(String, WireLimits)] = []
        let unlimited = WireLimits(maxCollectionCount: .max, maxTotalValues: .max)
        // Truncation, including declared lengths far beyond the input.
        for input in ["", "92c0", "92c0cd01", "cd01", "81a1", "81a161", "d928616263", "83c0c0c0c0c0", "dc0003c0c0", "cb3ff8"] {
            cases.append((input, .default))
        }
        for input in ["ddffffffff", "dfffffffff", "dbffffffff", "c6ffffffff"] { cases.append((input, unlimited)) }
        // The never-used format byte, anywhere.
        for input in ["c1", "9201c1", "81a161c1", "81c101"] { cases.append((input, .default)) }
        // Extensions and timestamps.
        for input in ["d40100", "c70105ff", "c8000105ff", "c90000000105ff", "d6ff5f5e0ff0", "92c0d40100", "81a161d40100"] {
            cases.append((input, .default))
        }
        // Invalid UTF-8 in strings and in keys, after ASCII too.
        for input in ["a2c328", "a1ff", "a180", "a2c080", "a3eda080", "a4f4908080", "a3f09f98", "a461c3a9ff"] {
            cases.append((input, .default))
            cases.append(("91" + input, .default))
            cases.append(("81" + input + "c0", .default))
            cases.append(("82a100c0" + input + "c0", .default))
        }
        cases.append(("d920" + String(repeating: "61", count: 31) + "ff", .default))
        // Integers out of range.
        cases.append(("cf8000000000000000", .default))
        cases.append(("82a161c0a162cfffffffffffffffff", .default))
        // Nesting beyond the limit (arrays and maps), and a lowered limit.
        cases.append((String(repeating: "91", count: 33) + "01", .default))
        cases.append((String(repeating: "81a0", count: 32) + "90", .default))
        cases.append(("939191900101", WireLimits(maxDepth: 3)))
        // Collections beyond the count limit, and values beyond the total.
        cases.append(("9401020304", WireLimits(maxCollectionCount: 3)))
        cases.append(("91dc000401020304", WireLimits(maxCollectionCount: 3)))
        cases.append(("84a0c0a161c0a162c0a163c0", WireLimits(maxCollectionCount: 3)))
        cases.append(("950102030405", WireLimits(maxTotalValues: 5)))
        cases.append(("83a001a16102a16203", WireLimits(maxTotalValues: 5)))
        // Duplicate keys: equal bytes (in and out of order), canonically equivalent spellings
        // ("é" precomposed and decomposed, "K" and KELVIN SIGN, both ways round), deep in a map.
        for input in [
            "82a16101a16102", "9281a0c083a161c0a162c0a161c0", "83a162c0a161c0a162c0", "82a2c3a901a365cc8102",
            "82a14b01a3e284aa02", "82a3e284aa01a14b02", "83a3e284aa01a178c0a14b02", "83a14bc0a2c3a9c0a14b02",
        ] {
            cases.append((input, .default))
        }
        var bigMap = "de0012"
        for index in 0..<17 { bigMap += "a2" + Self.hex(Array("k\(Character(UnicodeScalar(UInt8(97 + index))))".utf8)) + "c0" }
        cases.append((bigMap + "a26b62c0", .default))  // "kb" again as the 18th key
        // Keys that are not strings.
        for input in ["810102", "82a0c0c0c0", "81c40161c0", "8190c0", "8180c0"] { cases.append((input, .default)) }
        return cases
    }()

    @Test func validationRejectsEveryMalformedClassAsReadingDoes() {
        for (input, limits) in Self.malformed {
            let outcome = Self.expectAgreement(Self.bytes(hex: input), limits: limits)
            #expect((try? outcome.get()) == nil, "\(input) is malformed")
        }
    }

    @Test func validationAgreesWithReadingOnRandomAndMutatedInput() {
        var rng = SeededGenerator(seed: codecTestSeed ^ 0x7a11d)
        let interesting: [UInt8] = [0x00, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x91, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xc1, 0xc4, 0xc7, 0xca, 0xcb, 0xcc, 0xcf, 0xd0, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff, 0xc3, 0xa9, 0xe2, 0x84, 0xaa, 0x4b]
        let limits = [WireLimits.default, WireLimits(maxDepth: 3, maxCollectionCount: 4, maxTotalValues: 20)]
        var valid: [[UInt8]] = Self.malformed.map { Self.bytes(hex: $0.hex) }
        for _ in 0..<80 {
            var writer = MessagePackWriter()
            writer.write(RandomEvents.value(&rng))
            if writer.count < 2000 { valid.append(writer.bytes) }
        }
        var outcomes: [String: Int] = [:]
        func check(_ input: [UInt8]) {
            for limit in limits {
                switch Self.expectAgreement(input, limits: limit, "(seed \(codecTestSeed))") {
                case .success(true): outcomes["canonical", default: 0] += 1
                case .success(false): outcomes["not canonical", default: 0] += 1
                case .failure(let error): outcomes["\(error.code)", default: 0] += 1
                }
            }
        }
        for _ in 0..<10_000 {
            var input = (0..<Int.random(in: 0...48, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for index in input.indices where Int.random(in: 0..<3, using: &rng) == 0 {
                input[index] = interesting.randomElement(using: &rng)!
            }
            check(input)
        }
        for _ in 0..<10_000 {
            var input = valid.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                switch Int.random(in: 0..<5, using: &rng) {
                case 0 where !input.isEmpty:
                    input[Int.random(in: input.indices, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1 where !input.isEmpty:
                    input[Int.random(in: input.indices, using: &rng)] = interesting.randomElement(using: &rng)!
                case 2 where !input.isEmpty:
                    input.removeSubrange(Int.random(in: input.indices, using: &rng)...)
                case 3:
                    input.insert(interesting.randomElement(using: &rng)!, at: Int.random(in: 0...input.count, using: &rng))
                default:
                    // Swap two bytes: reorders keys, changes widths.
                    if input.count > 1 { input.swapAt(Int.random(in: input.indices, using: &rng), Int.random(in: input.indices, using: &rng)) }
                }
            }
            check(input)
        }
        print("validationAgreesWithReadingOnRandomAndMutatedInput outcomes: \(outcomes.sorted { $0.key < $1.key })")
        for outcome in ["canonical", "not canonical", "truncated", "invalidFormat", "unsupportedFormat", "invalidUTF8", "limitExceeded", "wrongType", "duplicateKey", "integerOutOfRange"] {
            #expect(outcomes[outcome, default: 0] > 0, "the inputs reach \(outcome)")
        }
    }

    @Test func writerOutputIsCanonicalAndOtherEncodingsAreNot() {
        var rng = SeededGenerator(seed: codecTestSeed ^ 0xca70)
        for _ in 0..<300 {
            var writer = MessagePackWriter()
            writer.write(RandomEvents.value(&rng))
            #expect((try? Self.expectAgreement(writer.bytes).get()) == true, "\(Self.hex(writer.bytes.prefix(64)))")
        }
        // Valid, but not what the writer writes: wider integer, string, binary and collection
        // headers than needed, signed formats for non-negative values, float32, keys out of order.
        let notCanonical = [
            "cc05", "cd00ff", "ce0000ffff", "cf00000000ffffffff", "d005", "d0e0", "d1ff80", "d2ffff8000", "d3ffffffff80000000",
            "ca3fc00000", "d90161", "da000161", "db0000000161", "c5000101", "c600000001ff", "dc0001c0", "dd00000001c0",
            "de0001a161c0", "df00000001a161c0", "82a162c0a161c0", "82a2616200a161c0", "91cc05", "81a161d90162",
            "82a3e284aa01a14a02",  // KELVIN SIGN before "J": distinct keys, not in byte order
        ]
        for input in notCanonical {
            #expect((try? Self.expectAgreement(Self.bytes(hex: input)).get()) == false, "\(input)")
        }
        let canonical = ["05", "ccff", "d0df", "e0", "cb3ff8000000000000", "a161", "c40101", "90", "80", "82a161c0a162c0", "82a14a02a3e284aa01", "82a161c0a26100c0"]
        for input in canonical {
            #expect((try? Self.expectAgreement(Self.bytes(hex: input)).get()) == true, "\(input)")
        }
    }

    // MARK: Through EventCodec

    static func envelope(payload: [UInt8]?) -> [UInt8] {
        var writer = MessagePackWriter()
        writer.writeMapHeader(payload == nil ? 4 : 5)
        writer.writeString("v")
        writer.writeInt(1)
        writer.writeString("id")
        writer.writeBinary([UInt8](repeating: 7, count: 16))
        writer.writeString("t")
        writer.writeString("a.b")
        writer.writeString("ts")
        writer.writeInt(5)
        if let payload {
            writer.writeString("p")
            writer.writeRaw(payload)
        }
        return writer.bytes
    }

    @Test func decodedPayloadsStayEncodedAndNilIsNoPayload() throws {
        let codec = EventCodec()
        let event = try codec.decode(Self.envelope(payload: bytes(hex: "82a161c0a16201")))
        guard case .encoded(let encoded) = event.payload, let wire = encoded as? WirePayload else {
            Issue.record("payload not kept encoded: \(event.payload)")
            return
        }
        #expect(wire.isCanonical)
        #expect(Array(wire.bytes) == bytes(hex: "82a161c0a16201"))
        // Held inline by `any EncodedPayload`, without an allocation of its own.
        #expect(MemoryLayout<WirePayload>.size <= 3 * MemoryLayout<Int>.size)
        let unclaimed = WirePayload(frame: wire.frame, range: wire.range, isCanonical: false)
        #expect(!unclaimed.isCanonical && unclaimed.range == wire.range)
        #expect(event.data == ["a": nil, "b": 1])
        for payload in [nil, bytes(hex: "c0")] {
            let empty = try codec.decode(Self.envelope(payload: payload))
            guard case .value(let value) = empty.payload else {
                Issue.record("a nil or absent payload is \(empty.payload)")
                continue
            }
            #expect(value == .null)
            #expect(try codec.encode(empty) == Self.envelope(payload: nil), "nil is written as no payload")
        }
        // Scalars are payloads too.
        #expect(try codec.decode(Self.envelope(payload: bytes(hex: "2a"))).data == 42)
        #expect(try codec.decode(Self.envelope(payload: bytes(hex: "2a"))).payload(as: Int.self) == 42)
    }

    @Test func canonicalPayloadsAreCopiedAndOthersReencoded() throws {
        let codec = EventCodec()
        let canonical = bytes(hex: "83a161c0a1629201a2c3a9a163cb3ff8000000000000")
        #expect(try codec.encode(codec.decode(Self.envelope(payload: canonical))) == Self.envelope(payload: canonical))
        for input in ["82a162c0a161c0", "ca3fc00000", "91cc05", "81a161d90162", "de0001a161c0"] {
            let decoded = try codec.decode(Self.envelope(payload: bytes(hex: input)))
            let reencoded = try codec.encode(decoded)
            var writer = MessagePackWriter()
            writer.write(decoded.data)
            #expect(reencoded == Self.envelope(payload: writer.bytes), "\(input) is re-encoded canonically")
            #expect(try codec.encode(codec.decode(reencoded)) == reencoded, "and then stays as it is")
        }
        // Copying does not decode: a payload that claims to be canonical is written as it is,
        // even bytes that would not decode (this never happens with EventCodec's own payloads).
        let ext = bytes(hex: "d6ff5f5e0ff0")
        let frame = Self.envelope(payload: ext)
        let claimed = WirePayload(frame: frame, range: frame.count - ext.count..<frame.count, isCanonical: true)
        let forged = Event(id: EventID(bytes: [UInt8](repeating: 7, count: 16))!, type: "a.b", payload: .encoded(claimed), timestamp: Timestamp(nanosecondsSinceEpoch: 5))
        #expect(try codec.encode(forged) == frame)
        // Without the claim, the payload is decoded to be re-encoded, and the decoding error is
        // the encoder's typed error.
        let unclaimed = WirePayload(frame: frame, range: claimed.range, isCanonical: false)
        let honest = Event(id: forged.id, type: "a.b", payload: .encoded(unclaimed), timestamp: forged.timestamp)
        #expect(throws: WireError.self) { try codec.encode(honest) }
    }

    @Test func malformedPayloadsFailTheWholeFrameWithTheFieldNamed() {
        for (input, limits) in Self.malformed where limits == .default && !input.isEmpty {
            let frame = Self.envelope(payload: bytes(hex: input))
            do {
                let event = try EventCodec(limits: limits).decode(frame)
                Issue.record("decoded \(event) from payload \(input)")
            } catch {
                #expect(error.field == "p", "\(input): \(error)")
            }
        }
    }
}

// Helpers are members, so they never clash with other files' declarations in this test target.
extension PayloadValidationTests {
    /// Lowercase hex of `bytes`.
    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The bytes of a hex string (spaces ignored).
    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8.filter { $0 != UInt8(ascii: " ") })
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
    }

    private func bytes(hex: String) -> [UInt8] { Self.bytes(hex: hex) }
}
