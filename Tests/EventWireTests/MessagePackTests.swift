#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Testing
import EventBus
@testable import EventWire

// MARK: - Tests

@Suite struct MessagePackTests {
    // MARK: Exact bytes, against the MessagePack spec

    static let signedVectors: [(Int64, String)] = [
        (0, "00"), (1, "01"), (127, "7f"),
        (128, "cc80"), (255, "ccff"),
        (256, "cd0100"), (65535, "cdffff"),
        (65536, "ce00010000"), (4_294_967_295, "ceffffffff"),
        (4_294_967_296, "cf0000000100000000"), (.max, "cf7fffffffffffffff"),
        (-1, "ff"), (-32, "e0"),
        (-33, "d0df"), (-128, "d080"),
        (-129, "d1ff7f"), (-32768, "d18000"),
        (-32769, "d2ffff7fff"), (Int64(Int32.min), "d280000000"),
        (Int64(Int32.min) - 1, "d3ffffffff7fffffff"), (.min, "d38000000000000000"),
    ]

    static let unsignedVectors: [(UInt64, String)] = [
        (0, "00"), (127, "7f"), (128, "cc80"), (255, "ccff"), (256, "cd0100"),
        (65535, "cdffff"), (65536, "ce00010000"), (4_294_967_295, "ceffffffff"),
        (4_294_967_296, "cf0000000100000000"), (UInt64(Int64.max), "cf7fffffffffffffff"),
        (UInt64(Int64.max) + 1, "cf8000000000000000"), (.max, "cfffffffffffffffff"),
    ]

    @Test func signedIntegersUseTheSmallestFormat() throws {
        for (value, expected) in Self.signedVectors {
            let encoded = encode { $0.writeInt(value) }
            #expect(hex(encoded) == expected, "writeInt(\(value))")
            #expect(encode(.int(value)) == encoded, "write(.int(\(value)))")
            var reader = MessagePackReader(bytes: encoded)
            #expect(try reader.readInt() == value)
            #expect(reader.isAtEnd)
            #expect(try decode(encoded) == .int(value))
            var unsigned = MessagePackReader(bytes: encoded)
            if value >= 0 {
                #expect(try unsigned.readUInt64() == UInt64(value))
            } else {
                #expect(wireError { () throws(WireError) in try unsigned.readUInt64() }?.code == .integerOutOfRange)
            }
        }
    }

    @Test func unsignedIntegersUseTheSmallestFormat() throws {
        for (value, expected) in Self.unsignedVectors {
            let encoded = encode { $0.writeUInt(value) }
            #expect(hex(encoded) == expected, "writeUInt(\(value))")
            var reader = MessagePackReader(bytes: encoded)
            #expect(try reader.readUInt64() == value)
            #expect(reader.isAtEnd)
            var signed = MessagePackReader(bytes: encoded)
            if value <= UInt64(Int64.max) {
                #expect(try signed.readInt() == Int64(value))
            } else {
                #expect(wireError { () throws(WireError) in try signed.readInt() }?.code == .integerOutOfRange)
            }
        }
    }

    @Test func nonMinimalIntegerFormatsAreAccepted() throws {
        // Other encoders may use wider formats than needed, and signed formats for positive values.
        let vectors: [(String, Int64)] = [
            ("cc05", 5), ("cd0005", 5), ("ce00000005", 5), ("cf0000000000000005", 5),
            ("d005", 5), ("d1fffb", -5), ("d2fffffffb", -5), ("d3fffffffffffffffb", -5), ("d07f", 127),
        ]
        for (input, value) in vectors {
            #expect(try decode(bytes(hex: input)) == .int(value), "\(input)")
            var reader = MessagePackReader(bytes: bytes(hex: input))
            #expect(try reader.readInt() == value, "\(input)")
        }
        var reader = MessagePackReader(bytes: bytes(hex: "d005"))
        #expect(try reader.peekFormat() == .int)
        #expect(try reader.readUInt64() == 5)
    }

    @Test func scalarsAndFloats() throws {
        let vectors: [(EventValue, String)] = [
            (.null, "c0"), (.bool(false), "c2"), (.bool(true), "c3"),
            (.double(1.5), "cb3ff8000000000000"), (.double(0), "cb0000000000000000"),
            (.double(-0.0), "cb8000000000000000"), (.double(.infinity), "cb7ff0000000000000"),
            (.double(-.infinity), "cbfff0000000000000"), (.double(.pi), "cb400921fb54442d18"),
            (.double(.leastNonzeroMagnitude), "cb0000000000000001"),
        ]
        for (value, expected) in vectors {
            let encoded = encode(value)
            #expect(hex(encoded) == expected, "\(value)")
            let decoded = try decode(encoded)
            #expect(decoded == value)
            if case .double(let number) = value {
                #expect(decoded.doubleValue?.sign == number.sign, "the sign of \(number) survives")
            }
        }
        // NaN keeps its exact bit pattern (NaN != NaN, so compare bits).
        let nan = Double(bitPattern: 0x7ff8_0000_0000_1234)
        let encodedNaN = encode(.double(nan))
        #expect(hex(encodedNaN) == "cb7ff8000000001234")
        var nanReader = MessagePackReader(bytes: encodedNaN)
        #expect(try nanReader.readDouble().bitPattern == nan.bitPattern)
        // float32 is read (exactly widened) although the writer never produces it.
        #expect(try decode(bytes(hex: "ca3fc00000")) == .double(1.5))
        #expect(try decode(bytes(hex: "ca7f800000")) == .double(.infinity))
        var reader = MessagePackReader(bytes: bytes(hex: "ca3dcccccd"))
        #expect(try reader.peekFormat() == .float)
        #expect(try reader.readDouble() == Double(Float(0.1)))
        #expect(encode { $0.writeNil(); $0.writeBool(true); $0.writeBool(false); $0.writeDouble(-2) } == bytes(hex: "c0c3c2cbc000000000000000"))
        var typed = MessagePackReader(bytes: bytes(hex: "c0c3c2"))
        try typed.readNil()
        #expect(try typed.readBool() == true)
        #expect(try typed.readBool() == false)
        #expect(typed.isAtEnd)
    }

    @Test func stringHeadersAtEverySizeBoundary() throws {
        let vectors: [(Int, String)] = [
            (0, "a0"), (1, "a1"), (31, "bf"), (32, "d920"), (255, "d9ff"), (256, "da0100"),
            (65535, "daffff"), (65536, "db00010000"),
        ]
        for (length, header) in vectors {
            let string = String(repeating: "s", count: length)
            let encoded = encode(.string(string))
            #expect(hex(encoded.prefix(header.count / 2)) == header, "string of \(length) bytes")
            #expect(encoded.count == header.count / 2 + length)
            #expect(Array(encoded.dropFirst(header.count / 2)) == Array(string.utf8))
            #expect(encode { $0.writeString(string) } == encoded)
            var reader = MessagePackReader(bytes: encoded)
            #expect(try reader.peekFormat() == .string)
            #expect(try reader.readString() == string)
            #expect(reader.isAtEnd)
        }
        // Multi-byte scalars count in bytes, not characters: 8 × "😀" is 32 bytes, so str8.
        let emoji = String(repeating: "😀", count: 8)
        #expect(hex(encode(.string(emoji)).prefix(2)) == "d920")
        #expect(hex(encode(.string("é"))) == "a2c3a9")
        #expect(hex(encode(.string("😀"))) == "a4f09f9880")
        #expect(hex(encode(.string("e\u{301}"))) == "a365cc81", "strings are written as stored, not normalized")
        #expect(try decode(bytes(hex: "a365cc81")).stringValue?.utf8.count == 3)
    }

    @Test func binaryHeadersAtEverySizeBoundary() throws {
        let vectors: [(Int, String)] = [
            (0, "c400"), (1, "c401"), (31, "c41f"), (32, "c420"), (255, "c4ff"), (256, "c50100"),
            (65535, "c5ffff"), (65536, "c600010000"),
        ]
        for (length, header) in vectors {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            let encoded = encode(.bytes(data))
            #expect(hex(encoded.prefix(header.count / 2)) == header, "binary of \(length) bytes")
            #expect(Array(encoded.dropFirst(header.count / 2)) == data)
            #expect(encode { $0.writeBinary(data[...]) } == encoded, "any collection of bytes")
            var reader = MessagePackReader(bytes: encoded)
            #expect(try reader.peekFormat() == .binary)
            #expect(try reader.readBinary() == data)
            #expect(reader.isAtEnd)
        }
    }

    @Test func arrayAndMapHeadersAtEverySizeBoundary() throws {
        let arrays: [(Int, String)] = [
            (0, "90"), (1, "91"), (15, "9f"), (16, "dc0010"), (255, "dc00ff"), (256, "dc0100"),
            (65535, "dcffff"), (65536, "dd00010000"), (Int(UInt32.max), "ddffffffff"),
        ]
        for (count, header) in arrays {
            #expect(hex(encode { $0.writeArrayHeader(count) }) == header, "array header \(count)")
            guard count <= 65536 else { continue }
            let value = EventValue.array(Array(repeating: .null, count: count))
            let encoded = encode(value)
            #expect(encoded == bytes(hex: header) + Array(repeating: 0xc0, count: count))
            var reader = MessagePackReader(bytes: encoded)
            #expect(try reader.peekFormat() == .array)
            #expect(try reader.readArrayHeader() == count)
            #expect(try decode(encoded) == value)
        }
        let maps: [(Int, String)] = [
            (0, "80"), (1, "81"), (15, "8f"), (16, "de0010"), (255, "de00ff"), (256, "de0100"),
            (65535, "deffff"), (65536, "df00010000"), (Int(UInt32.max), "dfffffffff"),
        ]
        for (count, header) in maps {
            #expect(hex(encode { $0.writeMapHeader(count) }) == header, "map header \(count)")
            guard count <= 65536 else { continue }
            var entries = EventMap(minimumCapacity: count)
            for index in 0..<count { entries[String(index)] = .null }
            let encoded = encode(.map(entries))
            #expect(hex(encoded.prefix(header.count / 2)) == header)
            var reader = MessagePackReader(bytes: encoded)
            #expect(try reader.peekFormat() == .map)
            #expect(try reader.readMapHeader() == count)
            #expect(try decode(encoded) == .map(entries))
        }
    }

    @Test func nestedValuesAndRawBytes() throws {
        let value: EventValue = ["a": 1, "b": [true, nil], "c": ["d": .bytes([1, 2])]]
        #expect(hex(encode(value)) == "83a16101a16292c3c0a16381a164c4020102")
        // writeRaw splices pre-encoded values, e.g. a payload encoded once.
        let payload = encode(["k": "v"])
        let framed = encode {
            $0.writeArrayHeader(2)
            $0.writeString("p")
            $0.writeRaw(payload)
        }
        #expect(hex(framed) == "92a17081a16ba176")
        // Typed reads and readValue interleave, as the envelope layer uses them.
        var reader = MessagePackReader(bytes: framed)
        #expect(try reader.readArrayHeader() == 2)
        #expect(try reader.readString() == "p")
        #expect(try reader.readValue() == ["k": "v"])
        #expect(reader.isAtEnd)
        #expect(reader.offset == framed.count)
    }

    // MARK: Interop with Python's msgpack (1.x, default options)

    /// Vectors from Python's `msgpack.packb`, with dict keys inserted in UTF-8 byte order.
    static let pythonVectors: [(expression: String, hex: String, value: EventValue)] = [
        (
            #"msgpack.packb({"a": 1, "b": [True, None, 1.5, b"\x00"], "s": "é"})"#,
            "83a16101a16294c3c0cb3ff8000000000000c40100a173a2c3a9",
            ["a": 1, "b": [true, nil, 1.5, .bytes([0])], "s": "é"]
        ),
        (
            "msgpack.packb([0, -1, -33, 128, 65536, -2**31 - 1, 2**63 - 1, -2**63])",
            "9800ffd0dfcc80ce00010000d3ffffffff7fffffffcf7fffffffffffffffd38000000000000000",
            [0, -1, -33, 128, 65536, .int(Int64(Int32.min) - 1), .int(.max), .int(.min)]
        ),
        (
            #"msgpack.packb({"": "", "emoji": "😀", "nested": {"k": [[], {}]}, "x" * 32: b""})"#,
            "84a0a0a5656d6f6a69a4f09f9880a66e657374656481a16b929080d9207878787878787878787878787878787878787878787878787878787878787878c400",
            ["": "", "emoji": "😀", "nested": ["k": [[], [:]]], String(repeating: "x", count: 32): .bytes([])]
        ),
        (
            #"msgpack.packb({"big": 2**32, "f": -0.25, "id": 9876543210, "t": False})"#,
            "84a3626967cf0000000100000000a166cbbfd0000000000000a26964cf000000024cb016eaa174c2",
            ["big": 4_294_967_296, "f": -0.25, "id": 9_876_543_210, "t": false]
        ),
    ]

    @Test func pythonMsgpackVectorsDecodeAndReencodeByteForByte() throws {
        for vector in Self.pythonVectors {
            let input = bytes(hex: vector.hex)
            #expect(try decode(input) == vector.value, "decoding \(vector.expression)")
            #expect(hex(encode(vector.value)) == vector.hex, "encoding \(vector.expression)")
        }
    }

    // MARK: Round trips and determinism

    @Test func randomTreesRoundTrip() throws {
        let seed = testSeed("randomTreesRoundTrip")
        var generator = TreeGenerator(rng: SeededGenerator(seed: seed))
        var seen: Set<String> = []
        for index in 0..<400 {
            // The first tree holds the 32-bit size boundaries; random ones reach them only rarely.
            let value = index == 0 ? generator.largeValue() : generator.value(depth: 0)
            recordFormats(of: value, into: &seen)
            let encoded = encode(value)
            var reader = MessagePackReader(bytes: encoded)
            let decoded = try reader.readValue()
            #expect(reader.isAtEnd)
            #expect(decoded == value, "tree \(index) (seed \(seed))")
            #expect(encode(decoded) == encoded, "re-encoding tree \(index) is byte-identical (seed \(seed))")
            var skipper = MessagePackReader(bytes: encoded)
            try skipper.skipValue()
            #expect(skipper.offset == encoded.count, "skipValue skips tree \(index) exactly (seed \(seed))")
        }
        // The generator reaches every format the writer produces, and the edge cases.
        let expected: Set<String> = [
            "positive fixint", "uint8", "uint16", "uint32", "uint64", "negative fixint", "int8", "int16", "int32", "int64",
            "nil", "true", "false", "float64", "fixstr", "str8", "str16", "str32", "bin8", "bin16", "bin32",
            "fixarray", "array16", "array32", "fixmap", "map16", "map32",
            "empty string", "4-byte scalar", "empty array", "empty map", "15 entries", "16 entries", "256 entries",
        ]
        #expect(expected.subtracting(seen).isEmpty, "not generated: \(expected.subtracting(seen).sorted()) (seed \(seed))")
    }

    /// Records the format of `value` and of everything in it, plus the edge cases it hits.
    private func recordFormats(of value: EventValue, into seen: inout Set<String>) {
        var writer = MessagePackWriter(reservingCapacity: 16)
        switch value {
        case .array(let elements):
            writer.writeArrayHeader(elements.count)
            for element in elements { recordFormats(of: element, into: &seen) }
            if elements.isEmpty { seen.insert("empty array") }
            if [15, 16, 256].contains(elements.count) { seen.insert("\(elements.count) entries") }
        case .map(let entries):
            writer.writeMapHeader(entries.count)
            for (key, entry) in entries {
                recordFormats(of: .string(key), into: &seen)
                recordFormats(of: entry, into: &seen)
            }
            if entries.isEmpty { seen.insert("empty map") }
            if [15, 16, 256].contains(entries.count) { seen.insert("\(entries.count) entries") }
        case .string(let string):
            writer.writeString(string)
            if string.isEmpty { seen.insert("empty string") }
            if string.unicodeScalars.contains(where: { $0.value >= 0x10000 }) { seen.insert("4-byte scalar") }
        default:
            writer.write(value)
        }
        seen.insert(MessagePackReader.formatName(writer.bytes[0]))
    }

    @Test func mapKeysAreSortedByUTF8BytesWhateverTheInsertionOrder() throws {
        // Byte order differs from String's `<` here: "e\u{301}x" (65 cc 81 …) sorts before "f"
        // by bytes, but after it (as "éx") by canonical Unicode order.
        // Keys sharing their first 8 bytes (or differing only in a trailing NUL) need the
        // writer's full comparison, not just its 8-byte prefix.
        let expectedOrder = [
            "", "Z", "a", "a\0", "aa", "abcdefgh", "abcdefgh0", "abcdefgh1", "abcdefgi", "b",
            "e\u{301}x", "f", "é", "€", "😀",
        ]
        var rng = SeededGenerator(seed: 42)
        var encodings: Set<[UInt8]> = []
        for round in 0..<20 {
            var keys = expectedOrder
            keys.shuffle(using: &rng)
            // Same content, different insertion orders and capacities, so different iteration orders.
            var entries = EventMap(minimumCapacity: round.isMultiple(of: 2) ? 1 : 500)
            for key in keys { entries[key] = .null }
            encodings.insert(encode(.map(entries)))
        }
        #expect(encodings.count == 1, "one encoding for every insertion order")
        let encoded = try #require(encodings.first)
        var reader = MessagePackReader(bytes: encoded)
        let count = try reader.readMapHeader()
        var order: [String] = []
        for _ in 0..<count {
            order.append(try reader.readString())
            try reader.readNil()
        }
        #expect(order == expectedOrder)
        #expect(EventMap.compareUTF8("e\u{301}x", "f") < 0)
        #expect(!(EventMap.compareUTF8("f", "e\u{301}x") < 0))
        #expect(!(EventMap.compareUTF8("a", "a") < 0))
        #expect(EventMap.compareUTF8("a", "aa") < 0)
    }

    // MARK: Totality

    @Test func everyProperPrefixIsTruncated() throws {
        var samples: [[UInt8]] = Self.pythonVectors.map { bytes(hex: $0.hex) }
        samples += Self.signedVectors.map { bytes(hex: $0.1) }
        samples += Self.unsignedVectors.map { bytes(hex: $0.1) }
        samples.append(encode(.string(String(repeating: "é", count: 200))))
        samples.append(encode(.bytes(Array(repeating: 7, count: 300))))
        samples.append(encode(.array(Array(repeating: .int(1), count: 20))))
        // Only skipValue accepts ext values: [ext8 of 3 bytes, [fixext1, nil]].
        let skipOnly = bytes(hex: "92c7030501020392d40100c0")
        samples.append(skipOnly)
        var generator = TreeGenerator(rng: SeededGenerator(seed: 7), largeBudget: 0)
        while samples.count < 80 {
            let sample = encode(generator.value(depth: 3))
            if sample.count <= 600 { samples.append(sample) }  // every prefix is quadratic work
        }
        for sample in samples {
            for length in 0..<sample.count {
                let prefix = Array(sample.prefix(length))
                var reader = MessagePackReader(bytes: prefix)
                let skipError = wireError { () throws(WireError) in try reader.skipValue() }
                #expect(skipError?.code == .truncated, "skipping \(hex(prefix))")
                guard sample != skipOnly else { continue }
                var decoder = MessagePackReader(bytes: prefix)
                let error = wireError { () throws(WireError) in try decoder.readValue() }
                #expect(error?.code == .truncated, "decoding \(hex(prefix))")
                if let offset = error?.offset { #expect(offset <= length) }
            }
        }
        expectDecodeError([], .truncated, at: 0)
        expectDecodeError(bytes(hex: "92c0"), .truncated, at: 0)  // 2 elements cannot fit in 1 byte
        expectDecodeError(bytes(hex: "92c0cd01"), .truncated, at: 2)  // the second element is cut short
        expectDecodeError(bytes(hex: "cd01"), .truncated, at: 0)  // uint16 with one byte
        expectDecodeError(bytes(hex: "81a1"), .truncated, at: 0)  // a map of 1 needs at least 2 more bytes
        expectDecodeError(bytes(hex: "81a161"), .truncated, at: 3)  // its value is missing
        expectDecodeError(bytes(hex: "d928616263"), .truncated, at: 0)  // str8 declares 40, 3 remain
        var reader = MessagePackReader(bytes: bytes(hex: "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0 d928") + Array(repeating: 0x61, count: 12))
        for _ in 0..<17 { try reader.readNil() }
        let str8 = wireError { () throws(WireError) in try reader.readString() }
        #expect(str8?.message == "truncated at offset 17: str8 declares 40 bytes, 12 remain")
        #expect(reader.offset == 17, "a failed typed read does not move the reader")
    }

    @Test func neverUsedFormatByteIsInvalid() throws {
        expectDecodeError([0xc1], .invalidFormat, at: 0)
        expectDecodeError(bytes(hex: "9201c1"), .invalidFormat, at: 2)
        expectDecodeError(bytes(hex: "81a161c1"), .invalidFormat, at: 3)
        expectDecodeError(bytes(hex: "81c101"), .invalidFormat, at: 1)  // as a key
        let reader = MessagePackReader(bytes: [0xc1])
        #expect(wireError { () throws(WireError) in try reader.peekFormat() }?.code == .invalidFormat)
        var typed = MessagePackReader(bytes: [0xc1])
        #expect(wireError { () throws(WireError) in try typed.readInt() }?.code == .invalidFormat)
        #expect(wireError { () throws(WireError) in try typed.skipValue() }?.code == .invalidFormat)
    }

    @Test func extensionsAreUnsupportedButSkippable() throws {
        let extensions = [
            "d40100", "d5010001", "d60100000000", "d7010000000000000000", "d80100000000000000000000000000000000",
            "c70105ff", "c8000105ff", "c90000000105ff",
            "d6ff5f5e0ff0",  // a timestamp 32
        ]
        for input in extensions {
            let value = bytes(hex: input)
            expectDecodeError(value, .unsupportedFormat, at: 0)
            expectDecodeError([0x92, 0xc0] + value, .unsupportedFormat, at: 2)
            var reader = MessagePackReader(bytes: value + [0x07])
            #expect(try reader.peekFormat() == .ext)
            try reader.skipValue()
            #expect(try reader.readInt() == 7, "skipValue skips \(input) exactly")
            var typed = MessagePackReader(bytes: value)
            #expect(wireError { () throws(WireError) in try typed.readBinary() }?.code == .wrongType)
        }
        let message = wireError { () throws(WireError) in try decode(bytes(hex: "d6ff5f5e0ff0")) }?.message
        #expect(message?.contains("fixext4 (ext type -1)") == true, "\(String(describing: message))")
    }

    @Test func invalidUTF8IsRejectedInStringsAndKeys() throws {
        let malformed = [
            "a2c328",  // a lead byte followed by ASCII
            "a1ff",  // never valid
            "a180",  // a lone continuation byte
            "a2c080",  // an overlong NUL
            "a3eda080",  // a UTF-16 surrogate
            "a4f4908080",  // above U+10FFFF
            "a3f09f98",  // a 4-byte scalar cut short
        ]
        for input in malformed {
            expectDecodeError(bytes(hex: input), .invalidUTF8, at: 0)
            expectDecodeError(bytes(hex: "91" + input), .invalidUTF8, at: 1)
            expectDecodeError(bytes(hex: "81" + input + "c0"), .invalidUTF8, at: 1)  // as a map key
            expectDecodeError(bytes(hex: "82a100c0" + input + "c0"), .invalidUTF8, at: 4)
            var reader = MessagePackReader(bytes: bytes(hex: input))
            #expect(wireError { () throws(WireError) in try reader.readString() }?.code == .invalidUTF8)
            #expect(reader.offset == 0)
        }
        let error = wireError { () throws(WireError) in try decode(bytes(hex: "a461c3a9ff")) }
        #expect(error?.message.contains("byte 3 (offset 4)") == true, "\(String(describing: error))")
        // The fallback for Apple platforms without UTF8Span agrees (on Linux it is otherwise unused).
        for input in malformed {
            #expect(MessagePackReader.portableString(validating: bytes(hex: input).dropFirst()) == nil, "\(input)")
        }
        for valid in ["", "abc", "é", "😀x", "\u{10FFFF}", "\0"] {
            #expect(MessagePackReader.portableString(validating: Array(valid.utf8)[...]) == valid)
        }
    }

    @Test func unsignedAboveInt64MaxIsOutOfRange() throws {
        let input = bytes(hex: "cf8000000000000000")
        expectDecodeError(input, .integerOutOfRange, at: 0)
        expectDecodeError(bytes(hex: "82a161c0a162cfffffffffffffffff"), .integerOutOfRange, at: 6)
        var reader = MessagePackReader(bytes: input)
        #expect(wireError { () throws(WireError) in try reader.readInt() }?.code == .integerOutOfRange)
        #expect(try reader.readUInt64() == UInt64(Int64.max) + 1)
    }

    @Test func nestingDeeperThanTheLimitIsRejected() throws {
        let ok = Array(repeating: UInt8(0x91), count: 32) + [0x01]
        var value: EventValue = 1
        for _ in 0..<32 { value = [value] }
        #expect(try decode(ok) == value)
        var skipper = MessagePackReader(bytes: ok)
        try skipper.skipValue()
        #expect(skipper.isAtEnd)

        let deep = Array(repeating: UInt8(0x91), count: 33) + [0x01]
        expectDecodeError(deep, .limitExceeded, at: 32)
        var deepSkipper = MessagePackReader(bytes: deep)
        let skipError = wireError { () throws(WireError) in try deepSkipper.skipValue() }
        #expect(skipError?.code == .limitExceeded)
        #expect(skipError?.offset == 32)
        // Maps count as levels too, and empty containers still sit at their depth.
        let maps: [UInt8] = Array(repeating: bytes(hex: "81a0"), count: 32).flatMap { $0 } + [0x90]
        expectDecodeError(maps, .limitExceeded, at: 64)
        // A lowered limit applies, and a sibling after a deep branch does not accumulate depth.
        let limits = WireLimits(maxDepth: 3)
        #expect(try decode(bytes(hex: "93919001919102"), limits: limits) == [[[]], 1, [[2]]])
        expectDecodeError(bytes(hex: "939191900101"), .limitExceeded, at: 3, limits: limits)
        var lowered = MessagePackReader(bytes: bytes(hex: "93919001919102"), limits: limits)
        try lowered.skipValue()
        #expect(lowered.isAtEnd)
    }

    @Test func hugeDeclaredLengthsAreTruncatedBeforeAllocating() throws {
        // A 5-byte input declaring 2^32 - 1 elements fails on the header, even with no count
        // limit at all: the check is against the bytes present, before any allocation.
        let unlimited = WireLimits(maxCollectionCount: .max, maxTotalValues: .max)
        for input in ["ddffffffff", "dfffffffff", "dbffffffff", "c6ffffffff", "c9ffffffff01"] {
            if !input.hasPrefix("c9") {  // readValue rejects ext as unsupported before its length
                expectDecodeError(bytes(hex: input), .truncated, at: 0, limits: unlimited)
            }
            var skipper = MessagePackReader(bytes: bytes(hex: input), limits: unlimited)
            let skipError = wireError { () throws(WireError) in try skipper.skipValue() }
            #expect(skipError?.code == .truncated)
            #expect(skipError?.offset == 0, "the header's offset, not that of a missing element")
        }
        var reader = MessagePackReader(bytes: bytes(hex: "ddffffffff"), limits: unlimited)
        let error = wireError { () throws(WireError) in try reader.readArrayHeader() }
        #expect(error?.code == .truncated)
        #expect(error?.message == "truncated at offset 0: array32 declares 4294967295 elements, which need at least 1 byte(s) each, 0 bytes remain")
        // A map needs two bytes per entry: 3 entries cannot fit in 5 bytes.
        expectDecodeError(bytes(hex: "83c0c0c0c0c0"), .truncated, at: 0)
        expectDecodeError(bytes(hex: "dc0003c0c0"), .truncated, at: 0)
        #expect(try decode(bytes(hex: "dc0003c0c0c0")) == [nil, nil, nil])
    }

    @Test func collectionsLargerThanTheLimitAreRejected() throws {
        let limits = WireLimits(maxCollectionCount: 3)
        #expect(try decode(bytes(hex: "93010203"), limits: limits) == [1, 2, 3])
        expectDecodeError(bytes(hex: "9401020304"), .limitExceeded, at: 0, limits: limits)
        expectDecodeError(bytes(hex: "91 dc0004 01020304"), .limitExceeded, at: 1, limits: limits)
        expectDecodeError(bytes(hex: "84 a0c0 a161c0 a162c0 a163c0"), .limitExceeded, at: 0, limits: limits)
        var reader = MessagePackReader(bytes: bytes(hex: "84 a0c0 a161c0 a162c0 a163c0"), limits: limits)
        #expect(wireError { () throws(WireError) in try reader.readMapHeader() }?.code == .limitExceeded)
        #expect(wireError { () throws(WireError) in try reader.skipValue() }?.code == .limitExceeded)
        // The default limit is 65,536 per collection.
        let tooMany = encode(.array(Array(repeating: .null, count: 65537)))
        expectDecodeError(tooMany, .limitExceeded, at: 0)
    }

    @Test func totalValuesOverTheLimitAreRejected() throws {
        let limits = WireLimits(maxTotalValues: 5)
        #expect(try decode(bytes(hex: "9401020304"), limits: limits) == [1, 2, 3, 4], "5 values: the array and 4 ints")
        expectDecodeError(bytes(hex: "950102030405"), .limitExceeded, at: 5, limits: limits)
        expectDecodeError(bytes(hex: "83 a001 a16102 a16203"), .limitExceeded, at: 6, limits: limits)  // keys count
        var reader = MessagePackReader(bytes: bytes(hex: "950102030405"), limits: limits)
        #expect(wireError { () throws(WireError) in try reader.skipValue() }?.offset == 5)
        // The count is per reader: successive reads share it.
        var typed = MessagePackReader(bytes: bytes(hex: "010203040506"), limits: limits)
        for expected in 1...5 { #expect(try typed.readInt() == Int64(expected)) }
        #expect(wireError { () throws(WireError) in try typed.readInt() }?.code == .limitExceeded)
    }

    @Test func duplicateKeysAreRejected() throws {
        expectDecodeError(bytes(hex: "82a16101a16102"), .duplicateKey, at: 4)
        expectDecodeError(bytes(hex: "92 81a0c0 83a161c0a162c0a161c0"), .duplicateKey, at: 11)
        // "é" precomposed and decomposed differ in bytes but are one Swift dictionary key.
        expectDecodeError(bytes(hex: "82a2c3a901a365cc8102"), .duplicateKey, at: 5)
        // Keys appended in order before the first out-of-order ("b") or non-ASCII ("é") key
        // still count: a later copy of one is a duplicate.
        expectDecodeError(bytes(hex: "84 a16101 a16302 a16203 a16304"), .duplicateKey, at: 10)
        expectDecodeError(bytes(hex: "83 a16101 a2c3a902 a16103"), .duplicateKey, at: 8)
        var skipper = MessagePackReader(bytes: bytes(hex: "82a16101a16102"))
        try skipper.skipValue()
        #expect(skipper.isAtEnd, "skipValue checks structure only")
    }

    @Test func mapsInAnyKeyOrderDecodeIntoTheMapsOrder() throws {
        // c, é, a: out of order and not ASCII; then z, y: out of order only.
        for (input, keys) in [("83 a16301 a2c3a902 a16103", ["a", "c", "\u{E9}"]), ("82 a17a01 a17902", ["y", "z"])] {
            let value = try decode(bytes(hex: input))
            let map = try #require(value.mapValue)
            #expect(Array(map.keys) == keys, "\(input)")
            #expect(value == .map(EventMap(map.dictionary)), "\(input)")
            #expect(encode(value) == encode(.map(EventMap(map.dictionary))))
        }
    }

    @Test func nonStringKeysAreWrongType() throws {
        expectDecodeError(bytes(hex: "810102"), .wrongType, at: 1)
        expectDecodeError(bytes(hex: "82a0c0c0c0"), .wrongType, at: 3)
        expectDecodeError(bytes(hex: "81c40161c0"), .wrongType, at: 1)  // binary is not a string key
        expectDecodeError(bytes(hex: "8190c0"), .wrongType, at: 1)
        let error = wireError { () throws(WireError) in try decode(bytes(hex: "810102")) }
        #expect(error?.message == "wrong type at offset 1: expected a string map key, found positive fixint")
    }

    @Test func typedReadsOfTheWrongTypeFailWithoutMoving() throws {
        typealias Read = (inout MessagePackReader) throws(WireError) -> Void
        let cases: [(input: String, read: Read, name: String)] = [
            ("01", { reader throws(WireError) in _ = try reader.readString() }, "readString on an int"),
            ("a161", { reader throws(WireError) in _ = try reader.readInt() }, "readInt on a string"),
            ("cb3ff8000000000000", { reader throws(WireError) in _ = try reader.readInt() }, "readInt on a float"),
            ("01", { reader throws(WireError) in _ = try reader.readDouble() }, "readDouble on an int"),
            ("a0", { reader throws(WireError) in _ = try reader.readUInt64() }, "readUInt64 on a string"),
            ("a161", { reader throws(WireError) in _ = try reader.readBinary() }, "readBinary on a string"),
            ("c40161", { reader throws(WireError) in _ = try reader.readString() }, "readString on binary"),
            ("80", { reader throws(WireError) in _ = try reader.readArrayHeader() }, "readArrayHeader on a map"),
            ("90", { reader throws(WireError) in _ = try reader.readMapHeader() }, "readMapHeader on an array"),
            ("c0", { reader throws(WireError) in _ = try reader.readBool() }, "readBool on nil"),
            ("c2", { reader throws(WireError) in try reader.readNil() }, "readNil on false"),
            ("d40100", { reader throws(WireError) in _ = try reader.readInt() }, "readInt on an ext"),
        ]
        for (input, read, name) in cases {
            let data = bytes(hex: "c0" + input)
            var reader = MessagePackReader(bytes: data)
            try reader.readNil()
            let error = wireError { () throws(WireError) in try read(&reader) }
            #expect(error?.code == .wrongType, "\(name): \(String(describing: error))")
            #expect(error?.offset == 1, "\(name)")
            #expect(reader.offset == 1, "\(name) leaves the reader where it was")
        }
        var reader = MessagePackReader(bytes: bytes(hex: "a3616263"))
        let error = wireError { () throws(WireError) in try reader.readInt() }
        #expect(error?.message == "wrong type at offset 0: expected an integer, found fixstr")
        #expect(try reader.readString() == "abc", "the value is still there to read")
    }

    @Test func frameSizeIsChecked() throws {
        let limits = WireLimits(maxFrameBytes: 100)
        try MessagePackReader.checkFrameSize(100, limits: limits)
        let error = wireError { () throws(WireError) in try MessagePackReader.checkFrameSize(101, limits: limits) }
        #expect(error?.code == .limitExceeded)
        #expect(error?.offset == 100)
        try MessagePackReader.checkFrameSize(1 << 20, limits: .default)
        #expect(wireError { () throws(WireError) in try MessagePackReader.checkFrameSize((1 << 20) + 1, limits: .default) } != nil)
    }

    @Test func errorsDescribeThemselves() {
        let error = WireError(.truncated, offset: 17, message: "truncated at offset 17: str8 declares 40 bytes, 12 remain")
        #expect(error.description == "truncated: truncated at offset 17: str8 declares 40 bytes, 12 remain")
        let located = WireError(.missingField, offset: nil, field: "p.items[3].name", message: "required")
        #expect(located.description == "missingField in p.items[3].name: required")
        #expect(WireError.Code.invalidUTF8.description == "invalidUTF8")
        #expect(WireError.Code.truncated != .trailingBytes)
        #expect(WireLimits.default == WireLimits(maxFrameBytes: 1 << 20, maxDepth: 32, maxCollectionCount: 65_536, maxTotalValues: 1 << 20))
    }

    // MARK: Fuzzing

    @Test func randomAndMutatedInputsNeverTrap() throws {
        let seed = testSeed("randomAndMutatedInputsNeverTrap")
        var rng = SeededGenerator(seed: seed)
        var generator = TreeGenerator(rng: SeededGenerator(seed: seed ^ 0x5eed), largeBudget: 0)
        var valid: [[UInt8]] = Self.pythonVectors.map { bytes(hex: $0.hex) }
        for _ in 0..<60 { valid.append(encode(generator.value(depth: 2))) }
        let interesting: [UInt8] = [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc4, 0xc7, 0xca, 0xcb, 0xcf, 0xd3, 0xd4, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff]
        let limits = [WireLimits.default, WireLimits(maxDepth: 3, maxCollectionCount: 4, maxTotalValues: 20)]
        var outcomes: [String: Int] = [:]

        func check(_ input: [UInt8]) {
            for limit in limits {
                var reader = MessagePackReader(bytes: input, limits: limit)
                var skipper = MessagePackReader(bytes: input, limits: limit)
                let skipped = wireError { () throws(WireError) in try skipper.skipValue() } == nil
                do {
                    let value = try reader.readValue()
                    outcomes["value", default: 0] += 1
                    #expect(skipped && skipper.offset == reader.offset, "skipValue agrees with readValue on \(hex(input)) (seed \(seed))")
                    let reencoded = encode(value)
                    var again = MessagePackReader(bytes: reencoded)
                    let value2 = try again.readValue()
                    #expect(encode(value2) == reencoded, "stable re-encoding of \(hex(input)) (seed \(seed))")
                } catch {
                    outcomes["\(error.code)", default: 0] += 1
                    if let offset = error.offset {
                        #expect(offset >= 0 && offset <= input.count, "offset within input: \(error) (seed \(seed))")
                    } else {
                        Issue.record("an error without an offset: \(error) (seed \(seed))")
                    }
                }
            }
        }

        for _ in 0..<20_000 {
            let length = Int.random(in: 0...64, using: &rng)
            var input = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Bias some bytes towards format bytes so that headers, not just fixints, get exercised.
            for index in input.indices where Int.random(in: 0..<4, using: &rng) == 0 {
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
                    if !input.isEmpty { input.remove(at: Int.random(in: input.indices, using: &rng)) }
                }
            }
            check(input)
        }
        print("randomAndMutatedInputsNeverTrap outcomes: \(outcomes.sorted { $0.key < $1.key })")
        for code in ["value", "truncated", "invalidFormat", "unsupportedFormat", "invalidUTF8", "limitExceeded", "wrongType"] {
            #expect(outcomes[code, default: 0] > 0, "the fuzz inputs reach \(code)")
        }
    }
}

// MARK: - Helpers

// Helpers are members, so they never clash with other files' declarations in this test target.
extension MessagePackTests {
    /// Lowercase hex of `bytes`, two digits per byte.
    private func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of a hex string (whitespace ignored).
    private func bytes(hex: String) -> [UInt8] {
        let digits = hex.utf8.filter { $0 != UInt8(ascii: " ") }
        precondition(digits.count % 2 == 0, "odd hex digit count")
        func nibble(_ digit: UInt8) -> UInt8 {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: preconditionFailure("not a hex digit")
            }
        }
        return stride(from: 0, to: digits.count, by: 2).map { nibble(digits[$0]) << 4 | nibble(digits[$0 + 1]) }
    }

    private func encode(_ value: EventValue) -> [UInt8] {
        var writer = MessagePackWriter()
        writer.write(value)
        return writer.bytes
    }

    private func encode(_ body: (inout MessagePackWriter) -> Void) -> [UInt8] {
        var writer = MessagePackWriter()
        body(&writer)
        return writer.bytes
    }

    /// Decodes one value and requires that it used every byte.
    private func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(WireError) -> EventValue {
        var reader = MessagePackReader(bytes: bytes, limits: limits)
        let value = try reader.readValue()
        #expect(reader.isAtEnd, "decoding \(hex(bytes.prefix(32))) left \(bytes.count - reader.offset) bytes")
        return value
    }

    /// The error `body` throws, or nil if it returns.
    private func wireError<T>(_ body: () throws(WireError) -> T) -> WireError? {
        do {
            _ = try body()
            return nil
        } catch {
            return error
        }
    }

    /// Checks that decoding `input` with `readValue` fails with `code` at `offset`.
    private func expectDecodeError(
        _ input: [UInt8], _ code: WireError.Code, at offset: Int, limits: WireLimits = .default,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        var reader = MessagePackReader(bytes: input, limits: limits)
        let error = wireError { () throws(WireError) in try reader.readValue() }
        #expect(error?.code == code, "decoding \(hex(input.prefix(40))): \(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.offset == offset, "decoding \(hex(input.prefix(40))): \(String(describing: error))", sourceLocation: sourceLocation)
        #expect(error?.message.contains("offset \(offset)") == true, "message says where: \(String(describing: error))", sourceLocation: sourceLocation)
    }

    /// The seed for a randomized test: `EVENTWIRE_SEED` when set, else a fresh one; printed either way.
    private func testSeed(_ test: String) -> UInt64 {
        let environment = ProcessInfo.processInfo.environment["EVENTWIRE_SEED"]
        let seed = environment.flatMap { UInt64($0) } ?? UInt64.random(in: .min ... .max)
        print("\(test): seed \(seed) (replay with EVENTWIRE_SEED=\(seed))")
        return seed
    }

    // MARK: Random EventValue trees

    /// Builds random `EventValue` trees that hit every MessagePack size boundary.
    private struct TreeGenerator {
        var rng: SeededGenerator
        /// How many more 65,535+ byte strings or large collections random trees may hold, to
        /// bound test time.
        var largeBudget = 3

        static let lengthBoundaries = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536]
        static let countBoundaries = [0, 1, 15, 16]
        static let integerBoundaries: [Int64] = [
            0, 1, 127, 128, 255, 256, 65535, 65536, 4_294_967_295, 4_294_967_296, .max,
            -1, -32, -33, -128, -129, -32768, -32769, Int64(Int32.min), Int64(Int32.min) - 1, .min,
        ]
        static let scalars: [Unicode.Scalar] = [
            "a", "Z", "0", " ", "\0", "\u{7f}", "é", "ß", "€", "\u{FFFD}", "\u{FFFF}", "中", "😀", "\u{1F1EB}", "\u{10FFFF}", "\u{301}",
        ]

        mutating func int(below bound: Int) -> Int { Int.random(in: 0..<bound, using: &rng) }
        mutating func chance(_ percent: Int) -> Bool { int(below: 100) < percent }

        mutating func length() -> Int {
            if chance(60) { return int(below: 40) }
            let length = Self.lengthBoundaries.randomElement(using: &rng)!
            if length >= 65535 {
                guard largeBudget > 0 else { return int(below: 300) }
                largeBudget -= 1
            }
            return length
        }

        /// A string of exactly `byteCount` UTF-8 bytes, mixing 1- to 4-byte scalars (in its first
        /// 100 bytes; long strings end in a cheap repeated filler, to keep debug builds fast).
        mutating func string(byteCount: Int) -> String {
            var scalars = String.UnicodeScalarView()
            var used = 0
            if byteCount > 100 {
                scalars.append(contentsOf: String(repeating: "ab€", count: (byteCount - 100) / 5).unicodeScalars)
                used = (byteCount - 100) / 5 * 5
            }
            while used < byteCount {
                let scalar = chance(70) ? Self.scalars.randomElement(using: &rng)! : Unicode.Scalar(UInt8(0x20 + int(below: 95)))
                let width = UTF8.width(scalar)
                if used + width <= byteCount {
                    scalars.append(scalar)
                    used += width
                } else {
                    scalars.append("x")
                    used += 1
                }
            }
            return String(scalars)
        }

        mutating func double() -> Double {
            switch int(below: 6) {
            case 0: return [0.0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1.5].randomElement(using: &rng)!
            case 1: return Double(Float.random(in: -1e6...1e6, using: &rng))
            default:
                while true {
                    let value = Double(bitPattern: rng.next())
                    if !value.isNaN { return value }
                }
            }
        }

        mutating func value(depth: Int) -> EventValue {
            // Shrinking with depth keeps trees finite and small (about 60 nodes on average).
            let containerChance = depth >= 6 ? 0 : 50 / (depth + 1)
            if chance(containerChance) {
                var count = chance(80) ? Self.countBoundaries.randomElement(using: &rng)! : int(below: 24)
                let large = depth <= 1 && largeBudget > 0 && chance(3)
                if large {
                    largeBudget -= 1
                    count = [255, 256, 65535, 65536].randomElement(using: &rng)!
                }
                if large {
                    // Large collections cycle through a few random scalars, to keep debug builds fast.
                    let pool = smallScalars()
                    if chance(50) {
                        return .array((0..<count).map { pool[$0 % pool.count] })
                    }
                    return .map(EventMap(Dictionary(uniqueKeysWithValues: (0..<count).map { (String($0), pool[$0 % pool.count]) })))
                }
                if chance(50) {
                    return .array((0..<count).map { _ in value(depth: depth + 1) })
                }
                var entries: EventMap = [:]
                var attempts = 0
                while entries.count < count {
                    attempts += 1
                    let key = attempts > 3 * count + 10 ? "k\(entries.count)-\(attempts)" : string(byteCount: chance(80) ? int(below: 12) : length())
                    entries[key] = value(depth: depth + 1)
                }
                return .map(entries)
            }
            return scalar()
        }

        /// A tree holding the larger size boundaries: strings, binaries and arrays of 255, 256,
        /// 65,535 and 65,536, and maps of 256 and 65,536.
        mutating func largeValue() -> EventValue {
            let pool = smallScalars()
            // Keys differ in their ASCII prefix only, so no two are canonically equivalent.
            let suffix = ":" + string(byteCount: 4)
            var elements: [EventValue] = []
            for count in [255, 256, 65535, 65536] {
                elements.append(.string(string(byteCount: count)))
                elements.append(.bytes((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) }))
                elements.append(.array((0..<count).map { pool[$0 % pool.count] }))
                // (Maps stop at one 32-bit size: sorting 65,536 keys is slow in debug builds, and
                // arrayAndMapHeadersAtEverySizeBoundary covers 65,535 exactly.)
                guard count != 255 && count != 65535 else { continue }
                let entries = (0..<count).map { (String($0) + suffix, pool[$0 % pool.count]) }
                elements.append(.map(EventMap(Dictionary(uniqueKeysWithValues: entries))))
            }
            elements.shuffle(using: &rng)
            return .array(elements)
        }

        /// Sixteen random scalars of at most 39 bytes each, to fill large collections with.
        mutating func smallScalars() -> [EventValue] {
            var pool: [EventValue] = []
            while pool.count < 16 {
                let candidate = scalar()
                var writer = MessagePackWriter()
            writer.write(candidate)
            if writer.bytes.count < 40 { pool.append(candidate) }
            }
            return pool
        }

        mutating func scalar() -> EventValue {
            switch int(below: 7) {
            case 0: return .null
            case 1: return .bool(chance(50))
            case 2:
                if chance(50) { return .int(Self.integerBoundaries.randomElement(using: &rng)!) }
                return .int(Int64(bitPattern: rng.next()) >> UInt64(int(below: 64)))
            case 3: return .double(double())
            case 4: return .string(string(byteCount: length()))
            case 5:
                let count = length()
                let head = (0..<Swift.min(count, 100)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                return .bytes(head + (0..<Swift.max(0, count - 100)).map { UInt8(truncatingIfNeeded: $0) })
            default: return .int(Int64(int(below: 256)) - 128)
            }
        }
    }
}
