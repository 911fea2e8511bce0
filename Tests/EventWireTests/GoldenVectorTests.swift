import Foundation
import Testing
@testable import EventBus
@testable import EventWire

/// The golden vectors of docs/WIRE.md: Swift decodes each one to the fields its JSON names and
/// re-encodes it byte for byte.
@Suite struct GoldenVectorTests {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Vectors")

    static var names: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".msgpack") }.map { String($0.dropLast(".msgpack".count)) }.sorted()
    }

    static func load(_ name: String) throws -> (bytes: [UInt8], expected: [String: Any]) {
        let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(name + ".msgpack")))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(name + ".json")))
        return (bytes, try #require(json as? [String: Any]))
    }

    /// The JSON form of a payload, as make_vectors.py writes it.
    static func value(fromJSON json: Any) throws -> EventValue {
        switch json {
        case is NSNull: return .null
        case let number as NSNumber:
            // JSONSerialization gives booleans the objCType "c" (char).
            if String(cString: number.objCType) == "c" { return .bool(number.boolValue) }
            let text = number.stringValue
            if text.contains(".") || text.contains("e") { return .double(number.doubleValue) }
            return .int(number.int64Value)
        case let string as String: return .string(string)
        case let array as [Any]: return .array(try array.map(value(fromJSON:)))
        case let map as [String: Any]:
            if map.count == 1, let hex = map["$bytes"] as? String {
                var bytes: [UInt8] = []
                var index = hex.startIndex
                while index < hex.endIndex {
                    let next = hex.index(index, offsetBy: 2)
                    bytes.append(try #require(UInt8(hex[index..<next], radix: 16)))
                    index = next
                }
                return .bytes(bytes)
            }
            return .map(EventMap(try map.mapValues(value(fromJSON:))))
        default:
            throw TestFailure("unexpected JSON value \(json)")
        }
    }

    @Test func thereAreAtLeastFourVectors() {
        #expect(GoldenVectorTests.names.count >= 4)
        #expect(GoldenVectorTests.names.contains("hand_assembled"))
    }

    @Test(arguments: GoldenVectorTests.names)
    func vectorDecodesToItsFields(name: String) throws {
        let (bytes, expected) = try GoldenVectorTests.load(name)
        let frame1 = try #require(expected["frame1"] as? String)
        let event = try EventCodec().decode(bytes, frameType: frame1)
        #expect(event.id.description == expected["id"] as? String)
        #expect(event.type.name == expected["t"] as? String)
        #expect(event.timestamp.nanosecondsSinceEpoch == (expected["ts"] as? NSNumber)?.int64Value)
        #expect(event.source == (expected["src"] as? String ?? ""))
        #expect(event.metadata == (expected["md"] as? [String: String] ?? [:]))
        #expect(event.scope == (expected["sc"] as? [String] ?? []))
        if let node = expected["on"] as? String {
            let origin = try #require(event.origin)
            #expect(origin.node == node)
            #expect(origin.incarnation == (expected["oi"] as? NSNumber)?.uint64Value)
            #expect(origin.sequence == (expected["seq"] as? NSNumber)?.uint64Value)
            #expect(origin.hops == ((expected["hop"] as? NSNumber)?.intValue ?? 0))
        } else {
            #expect(event.origin == nil)
        }
        let payload = try expected["p"].map(GoldenVectorTests.value(fromJSON:)) ?? .null
        #expect(event.data == payload)
    }

    @Test(arguments: GoldenVectorTests.names)
    func vectorReencodesByteForByte(name: String) throws {
        let (bytes, _) = try GoldenVectorTests.load(name)
        let event = try EventCodec().decode(bytes)
        #expect(try EventCodec().encode(event) == bytes)
    }

    @Test(arguments: GoldenVectorTests.names)
    func everyProperPrefixIsRejectedAsTruncated(name: String) throws {
        let (bytes, _) = try GoldenVectorTests.load(name)
        for length in 0..<bytes.count {
            #expect {
                try EventCodec().decode(Array(bytes.prefix(length)))
            } throws: { error in
                (error as? WireError)?.code == .truncated
            }
        }
    }

    @Test func fuzzRegressionVectorsDecodeOrFailCleanly() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("FuzzRegressions")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for file in files where !file.hasPrefix(".") && file != "README.md" {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(file)))
            if let event = try? EventCodec().decode(bytes) {
                let encoded = try EventCodec().encode(event)
                let again = try EventCodec().decode(encoded)
                // Compared through encodings: a NaN payload is never == itself.
                #expect(again.id == event.id, "\(file)")
                #expect(try EventCodec().encode(again) == encoded, "\(file)")
            }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
