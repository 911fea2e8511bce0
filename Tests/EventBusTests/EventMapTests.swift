import Testing
@testable import EventBus

/// `EventMap`: a map payload's entries, in the order of their keys' UTF-8 bytes, with the key
/// equality of `String` (canonical equivalence).
@Suite struct EventMapTests {
    /// Keys that exercise every comparison path: shared 8-byte prefixes (long and short), a
    /// proper prefix, an embedded NUL, bytes above 0x7f, and canonically equivalent spellings.
    static let keys = [
        "", "a", "a\u{0}", "ab", "abcdefgh", "abcdefgh0", "abcdefgh1", "abcdefgi", "abcdefgh\u{E9}",
        "Z", "z", "K", "\u{212A}", "\u{E9}", "e\u{301}", "x\u{E9}", "xe\u{301}", "\u{10FFFF}", "stream_id", "s",
    ]

    static func bytesOrder(_ lhs: String, _ rhs: String) -> Bool {
        Array(lhs.utf8).lexicographicallyPrecedes(Array(rhs.utf8))
    }

    @Test func entriesAreInTheOrderOfTheirKeysBytesWhateverTheInsertionOrder() {
        let distinct = ["", "a", "a\u{0}", "ab", "abcdefgh", "abcdefgh0", "abcdefgh1", "abcdefgi", "abcdefgh\u{E9}", "Z", "z", "\u{E9}", "\u{10FFFF}"]
        let expected = distinct.sorted(by: Self.bytesOrder)
        var rng = SeededGenerator(seed: 7)
        var first: EventMap?
        for _ in 0..<50 {
            var map = EventMap()
            for (index, key) in distinct.shuffled(using: &rng).enumerated() { map[key] = .int(Int64(index)) }
            #expect(Array(map.keys) == expected)
            for (index, key) in distinct.enumerated() { map[key] = .int(Int64(index)) }
            if let first { #expect(map == first) } else { first = map }
        }
    }

    @Test func canonicallyEquivalentKeysAreOneKeyAndTheFirstSpellingIsKept() {
        var map: EventMap = ["\u{212A}": 1, "e\u{301}": 2]
        #expect(map["K"] == 1)
        #expect(map["\u{E9}"] == 2)
        map["K"] = 3
        map["\u{E9}"] = 4
        #expect(map.count == 2)
        #expect(Array(map.keys) == ["e\u{301}", "\u{212A}"].sorted(by: Self.bytesOrder))
        let kelvinKept = map.keys.contains { key in key.unicodeScalars.first == "\u{212A}" }
        #expect(kelvinKept, "the first spelling stays")
        #expect(map["\u{212A}"] == 3)

        let other: EventMap = ["K": 3, "\u{E9}": 4]
        #expect(map == other)
        #expect(map.hashValue == other.hashValue)
        #expect(map != ["K": 3, "\u{E9}": 5])
        #expect(map != ["K": 3, "f": 4])
        #expect(map.removeValue(forKey: "K") == 3)
        #expect(map.count == 1)
        #expect(map["\u{212A}"] == nil)
    }

    @Test func aLiteralKeepsTheLaterValueOfARepeatedKey() {
        let map: EventMap = ["a": 1, "b": 2, "a": 3]
        #expect(map.count == 2)
        #expect(map["a"] == 3)
        let value: EventValue = ["a": 1, "\u{212A}": 2, "K": 4]
        #expect(value.mapValue?.count == 2)
        #expect(value["K"] == 4)
    }

    /// A literal appends keys that come in order and inserts the rest: either way the map is
    /// the one its entries give, in byte order.
    @Test func literalsInAnyOrderGiveTheSameMap() {
        let inOrder: EventMap = ["a": 1, "b": 2, "prefix-long-1": 3, "prefix-long-2": 4, "z": 5]
        let outOfOrder: EventMap = ["z": 5, "prefix-long-2": 4, "a": 1, "prefix-long-1": 3, "b": 2]
        let expected = EventMap(["a": 1, "b": 2, "prefix-long-1": 3, "prefix-long-2": 4, "z": 5])
        #expect(inOrder == expected)
        #expect(outOfOrder == expected)
        #expect(Array(inOrder.keys) == ["a", "b", "prefix-long-1", "prefix-long-2", "z"])
        #expect(Array(outOfOrder.keys) == Array(inOrder.keys))
        // A repeated key right after itself, and a non-ASCII key after ASCII ones.
        let repeated: EventMap = ["a": 1, "a": 2, "b": 3, "é": 4, "c": 5]
        #expect(Array(repeated.keys) == ["a", "b", "c", "é"])
        #expect(repeated["a"] == 2)
        #expect(repeated["é"] == 4)
        let value: EventValue = ["z": 5, "prefix-long-2": 4, "a": 1, "prefix-long-1": 3, "b": 2]
        #expect(value.mapValue == expected)
    }

    /// Random sets, removals and reads on a map and on a `Dictionary` model agree, and the map
    /// stays in byte order with no two equal keys.
    @Test func randomOperationsAgreeWithADictionary() {
        for seed in UInt64(1)...40 {
            var rng = SeededGenerator(seed: seed)
            var map = EventMap()
            var model: [String: EventValue] = [:]
            for step in 0..<200 {
                let key = Self.keys.randomElement(using: &rng)!
                switch Int.random(in: 0..<10, using: &rng) {
                case 0..<5:
                    let value = EventValue.int(Int64(step))
                    #expect(map.updateValue(value, forKey: key) == model.updateValue(value, forKey: key), "seed \(seed)")
                case 5..<7:
                    #expect(map.removeValue(forKey: key) == model.removeValue(forKey: key), "seed \(seed)")
                case 7:
                    map[key] = nil
                    model[key] = nil
                default:
                    #expect(map[key] == model[key], "seed \(seed)")
                }
                #expect(map.count == model.count, "seed \(seed) step \(step)")
            }
            for key in Self.keys { #expect(map[key] == model[key], "seed \(seed) key \(key.debugDescription)") }
            let keys = Array(map.keys)
            #expect(keys == keys.sorted(by: Self.bytesOrder), "seed \(seed)")
            #expect(Set(keys).count == keys.count, "seed \(seed): two equal keys")
            #expect(map == EventMap(model), "seed \(seed)")
            #expect(map.dictionary == model, "seed \(seed)")
            #expect(map.hashValue == EventMap(model).hashValue, "seed \(seed)")
        }
    }

    @Test func mapsOfDifferentContentDiffer() {
        let base: EventMap = ["a": 1, "b": [1, 2], "c": ["d": nil]]
        #expect(base == ["c": ["d": nil], "b": [1, 2], "a": 1])
        #expect(base != ["a": 1, "b": [1, 2]])
        #expect(base != ["a": 1, "b": [1, 2], "c": ["d": 0]])
        #expect(base != ["a": 1, "b": [1, 2], "e": ["d": nil]])
        #expect(EventMap() == [:])
        #expect(EventMap().isEmpty)
    }

    @Test func decodersAppendInOrderAndSortTheRest() {
        var map = EventMap(minimumCapacity: 4)
        func append(_ value: EventValue, _ key: String) -> Bool { map.appendInOrder(value, forKey: key) }
        #expect(append(1, "a"))
        #expect(append(2, "abcdefgh1"))
        #expect(!append(3, "abcdefgh0"), "out of order")
        #expect(!append(3, "abcdefgh1"), "the same key")
        #expect(!append(3, "z\u{E9}"), "not ASCII")
        #expect(append(4, "b"))
        #expect(map == ["a": 1, "abcdefgh1": 2, "b": 4])

        let entries: [EventMap.Element] = [("z", 1), ("\u{E9}", 2), ("a", 3), ("abcdefgh1", 4), ("abcdefgh0", 5)]
        let unordered = EventMap(uniqueEntries: entries)
        #expect(Array(unordered.keys) == ["a", "abcdefgh0", "abcdefgh1", "z", "\u{E9}"])
        #expect(unordered["\u{E9}"] == 2)
        #expect(unordered["e\u{301}"] == 2)
        var extended = unordered
        let appended = extended.appendInOrder(6, forKey: "\u{FF}x")
        #expect(!appended, "a map with a non-ASCII key takes no appends")
        #expect(extended == unordered)
    }

    @Test func aMapDescribesItselfInKeyOrder() {
        let map: EventMap = ["b": "x", "a": 1, "\u{E9}": true]
        #expect(map.description == #"{"a":1,"b":"x","é":true}"#)
        #expect(EventValue.map(map).description == map.description)
    }
}
