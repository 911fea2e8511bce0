/// A map from string keys to event values: the entries of an ``EventValue/map(_:)`` payload.
///
/// `EventMap` has the dictionary operations a payload needs (`map["key"]`, setting, removing,
/// iterating `(key, value)` pairs, `count`, `keys`, `values`) and is writable as a dictionary
/// literal. Unlike `Dictionary`, it keeps its entries in a fixed order, ascending by the UTF-8
/// bytes of their keys (the order EventWire writes a map in), and it stores them in one
/// contiguous array: an event payload has a handful of short keys, which a binary search
/// finds faster than hashing, and a map decoded from the wire is built by appending, with no
/// hashing and no reordering.
///
/// Keys compare as `String` does (canonical equivalence), so, as in a `Dictionary`, `"é"`
/// written precomposed and written as `e` + combining accent are one key. While every key is
/// ASCII, bytes decide; once a key is not, a lookup that the binary search misses also scans
/// the entries, and an insertion moves the entries after it: both fine for the handful of keys
/// a payload has, slower than a `Dictionary` for maps of thousands (convert with
/// ``dictionary`` to work on one).
///
/// ```swift
/// var usage: EventMap = ["provider": "anthropic", "tokens": 42]
/// usage["cached"] = true
/// usage["tokens"]?.intValue        // 42
/// for (key, value) in usage { … }  // "cached", "provider", "tokens"
/// ```
public struct EventMap: Sendable {
    /// One entry: a key and its value.
    public typealias Element = (key: String, value: EventValue)

    /// An entry with what orders its key: the key's first 8 UTF-8 bytes as a big-endian integer
    /// (zero-padded) and its length, so that most comparisons are one integer comparison.
    struct Slot: Sendable {
        var key: String
        var value: EventValue
        var prefix: UInt64
        var length: Int
    }

    /// The entries, ascending by their keys' UTF-8 bytes; no two keys are equal as `String`s.
    var slots: ContiguousArray<Slot>

    /// Whether every key is ASCII, so that two keys are equal exactly when their bytes are.
    /// May be `false` when every key is ASCII (after a removal); never `true` otherwise.
    var keysAreASCII: Bool

    /// An empty map.
    public init() {
        slots = []
        keysAreASCII = true
    }

    /// An empty map with room for `minimumCapacity` entries.
    /// - Parameter minimumCapacity: how many entries the map can hold before it grows.
    public init(minimumCapacity: Int) {
        slots = []
        slots.reserveCapacity(minimumCapacity)
        keysAreASCII = true
    }

    /// A map with the entries of `dictionary`.
    /// - Parameter dictionary: the entries.
    public init(_ dictionary: [String: EventValue]) {
        // A dictionary's keys are unique as `String`s already.
        self.init(uniqueEntries: dictionary.lazy.map { ($0.key, $0.value) })
    }

    /// The map's entries as a `Dictionary`.
    public var dictionary: [String: EventValue] {
        var result = [String: EventValue](minimumCapacity: slots.count)
        for slot in slots { result[slot.key] = slot.value }
        return result
    }

    /// The keys, in the map's order.
    public var keys: LazyMapCollection<EventMap, String> { lazy.map(\.key) }

    /// The values, in the map's order.
    public var values: LazyMapCollection<EventMap, EventValue> { lazy.map(\.value) }

    /// The value stored under `key`; setting `nil` removes the entry.
    public subscript(key: String) -> EventValue? {
        get {
            guard let index = index(forKey: key) else { return nil }
            return slots[index].value
        }
        set {
            if let newValue {
                updateValue(newValue, forKey: key)
            } else {
                removeValue(forKey: key)
            }
        }
    }

    /// The position of the entry whose key equals `key`, if there is one.
    /// - Parameter key: the key to find.
    /// - Returns: the entry's index, or `nil`.
    public func index(forKey key: String) -> Int? {
        locate(key).index
    }

    /// Stores `value` under `key`, replacing the value of an equal key if there is one (whose
    /// key is kept).
    /// - Parameters:
    ///   - value: the value to store.
    ///   - key: its key.
    /// - Returns: the value that was replaced, or `nil` if the key is new.
    @discardableResult
    public mutating func updateValue(_ value: EventValue, forKey key: String) -> EventValue? {
        let (index, insertion, probe) = locate(key)
        if let index {
            let old = slots[index].value
            slots[index].value = value
            return old
        }
        let slot = Slot(key: key, value: value, prefix: probe.prefix, length: probe.length)
        if insertion == slots.count {
            slots.append(slot)
        } else {
            slots.insert(slot, at: insertion)
        }
        keysAreASCII = keysAreASCII && probe.isASCII
        return nil
    }

    /// Removes the entry whose key equals `key`.
    /// - Parameter key: the key to remove.
    /// - Returns: the removed value, or `nil` if there was no such key.
    @discardableResult
    public mutating func removeValue(forKey key: String) -> EventValue? {
        guard let index = index(forKey: key) else { return nil }
        return slots.remove(at: index).value
    }

    /// Appends an entry if that keeps the map in order with the fast comparisons, as a decoder
    /// does for each key of a map written in EventWire's order.
    /// - Parameters:
    ///   - value: the value.
    ///   - key: its key.
    /// - Returns: `false`, changing nothing, unless `key` and every key already stored are
    ///   ASCII and `key`'s bytes sort after the last key's; then ``init(uniqueEntries:)`` takes
    ///   the entries from here.
    @inline(__always)
    package mutating func appendInOrder(_ value: consuming EventValue, forKey key: consuming String) -> Bool {
        let probe = KeyProbe(key)
        guard sortsLast(key, probe) else { return false }
        slots.append(Slot(key: key, value: value, prefix: probe.prefix, length: probe.length))
        return true
    }

    /// Whether an entry of `key` (whose probe is given) may be appended in order: it and every
    /// key stored are ASCII, and it sorts after the last one. The last slot is compared in
    /// place (`slots.last` would copy it: a retain and a release of its key and its value).
    @inline(__always)
    private func sortsLast(_ key: String, _ probe: KeyProbe) -> Bool {
        guard keysAreASCII && probe.isASCII else { return false }
        return slots.withUnsafeBufferPointer { buffer in
            buffer.isEmpty || Self.order(buffer[buffer.count - 1], key, probe.prefix, probe.length) < 0
        }
    }

    /// Calls `body` with each entry's key and value, in the map's order, reading them in place
    /// (iterating the collection copies each entry out, a retain and a release per field): for
    /// a writer that walks every entry.
    @inline(__always)
    package func forEachEntry(_ body: (String, EventValue) -> Void) {
        slots.withUnsafeBufferPointer { buffer in
            for index in buffer.indices { body(buffer[index].key, buffer[index].value) }
        }
    }

    /// A map of entries whose keys are known to be unique as `String`s, in any order.
    ///
    /// Sorting once keeps a decoder's cost at O(n log n) whatever the keys (finding duplicates
    /// is the caller's part, e.g. with a `Set<String>`).
    /// - Parameter uniqueEntries: the entries; no two keys may be equal.
    package init(uniqueEntries: some Sequence<Element>) {
        var slots = ContiguousArray<Slot>()
        slots.reserveCapacity(uniqueEntries.underestimatedCount)
        var keysAreASCII = true
        for (key, value) in uniqueEntries {
            let probe = KeyProbe(key)
            keysAreASCII = keysAreASCII && probe.isASCII
            slots.append(Slot(key: key, value: value, prefix: probe.prefix, length: probe.length))
        }
        slots.sort { Self.order($0, $1.key, $1.prefix, $1.length) < 0 }
        self.slots = slots
        self.keysAreASCII = keysAreASCII
    }

    /// Where `key` is: the index of the entry whose key equals it (`nil` if none), where it
    /// would be inserted, and its probe.
    ///
    /// A binary search by UTF-8 bytes; when it misses and a key involved is not ASCII, a scan
    /// with `String` equality, since bytes that differ can still spell one key (e.g. KELVIN SIGN
    /// and "K").
    private func locate(_ key: String) -> (index: Int?, insertion: Int, probe: KeyProbe) {
        let probe = KeyProbe(key)
        var low = 0
        var high = slots.count
        while low < high {
            let middle = (low + high) / 2
            let order = slots.withUnsafeBufferPointer { Self.order($0[middle], key, probe.prefix, probe.length) }
            if order < 0 {
                low = middle + 1
            } else if order > 0 {
                high = middle
            } else {
                return (middle, middle, probe)
            }
        }
        if keysAreASCII && probe.isASCII { return (nil, low, probe) }
        return (slots.firstIndex { $0.key == key }, low, probe)
    }

    /// How `slot`'s key compares with `key` (whose prefix and length are given) by UTF-8 bytes:
    /// negative if it sorts first, zero if the bytes are equal, positive otherwise.
    @inline(__always)
    static func order(_ slot: Slot, _ key: String, _ prefix: UInt64, _ length: Int) -> Int {
        if slot.prefix != prefix { return slot.prefix < prefix ? -1 : 1 }
        // Equal first 8 bytes: when one key has no more, it is a prefix of the other.
        if slot.length <= 8 || length <= 8 { return slot.length - length }
        return compareUTF8(slot.key, key)
    }

    /// Compares two strings by their UTF-8 bytes, as unsigned bytes, a proper prefix first.
    /// - Returns: a negative number if `lhs` sorts first, zero if the bytes are equal, a
    ///   positive number otherwise.
    package static func compareUTF8(_ lhs: String, _ rhs: String) -> Int {
        var lhs = lhs
        var rhs = rhs
        return lhs.withUTF8 { left in
            rhs.withUTF8 { right in
                let common = Swift.min(left.count, right.count)
                var index = 0
                while index < common {
                    let a = left[index]
                    let b = right[index]
                    if a != b { return a < b ? -1 : 1 }
                    index += 1
                }
                return left.count - right.count
            }
        }
    }
}

/// What a map needs to know of a key before it compares it: its first 8 UTF-8 bytes as a
/// big-endian integer (zero-padded), its length, and whether it is ASCII.
package struct KeyProbe {
    package let prefix: UInt64
    package let length: Int
    package let isASCII: Bool

    @inline(__always)
    package init(_ key: borrowing String) {
        // In place when the string is contiguous UTF-8, as native ones are: `withUTF8` needs a
        // mutable copy (a retain and a release).
        if let probe = key.utf8.withContiguousStorageIfAvailable(Self.probe) {
            (prefix, length, isASCII) = probe
            return
        }
        var key = copy key
        (prefix, length, isASCII) = key.withUTF8(Self.probe)
    }

    @inline(__always)
    private static func probe(_ bytes: UnsafeBufferPointer<UInt8>) -> (UInt64, Int, Bool) {
        // One pass: the prefix from the first 8 bytes, the high bits from all of them.
        var prefix: UInt64 = 0
        var high: UInt8 = 0
        var index = 0
        while index < bytes.count && index < 8 {
            prefix |= UInt64(bytes[index]) &<< (56 &- 8 &* UInt64(index))
            high |= bytes[index]
            index += 1
        }
        while index < bytes.count {
            high |= bytes[index]
            index += 1
        }
        return (prefix, bytes.count, high < 0x80)
    }

    /// The first 8 of `bytes` as a big-endian integer, zero-padded. When two byte strings'
    /// prefixes differ, they order them as their bytes do (a zero pad sorts first, like the end
    /// of a shorter string); when they are equal, the bytes after the eighth decide.
    @inline(__always)
    package static func prefix(of bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var prefix: UInt64 = 0
        var index = 0
        while index < bytes.count && index < 8 {
            prefix |= UInt64(bytes[index]) &<< (56 &- 8 &* UInt64(index))
            index += 1
        }
        return prefix
    }
}

extension EventMap: RandomAccessCollection {
    /// The position of the first entry.
    public var startIndex: Int { 0 }

    /// The position after the last entry.
    public var endIndex: Int { slots.count }

    /// The entry at `position`, in the map's order.
    public subscript(position: Int) -> Element {
        let slot = slots[position]
        return (slot.key, slot.value)
    }

    /// The number of entries.
    public var count: Int { slots.count }

    /// Whether the map has no entries.
    public var isEmpty: Bool { slots.isEmpty }

    /// Makes room for `minimumCapacity` entries.
    /// - Parameter minimumCapacity: how many entries the map can then hold before it grows.
    public mutating func reserveCapacity(_ minimumCapacity: Int) {
        slots.reserveCapacity(minimumCapacity)
    }
}

extension EventMap: Hashable {
    /// Whether the two maps have equal keys with equal values, in any byte spelling of the keys.
    public static func == (lhs: EventMap, rhs: EventMap) -> Bool {
        guard lhs.count == rhs.count else { return false }
        // Both in byte order: equal maps of ASCII keys have equal entries position by position.
        var samePositions = true
        for index in 0..<lhs.count where lhs.slots[index].key != rhs.slots[index].key {
            samePositions = false
            break
        }
        if samePositions {
            return lhs.slots.indices.allSatisfy { lhs.slots[$0].value == rhs.slots[$0].value }
        }
        if lhs.keysAreASCII && rhs.keysAreASCII { return false }
        let other = rhs.dictionary
        return lhs.slots.allSatisfy { slot in other[slot.key] == slot.value }
    }

    /// Hashes the entries independently of their order, so that maps that are equal with keys
    /// spelled differently hash alike.
    public func hash(into hasher: inout Hasher) {
        var combined = 0
        for slot in slots {
            var entryHasher = Hasher()
            entryHasher.combine(slot.key)
            entryHasher.combine(slot.value)
            combined ^= entryHasher.finalize()
        }
        hasher.combine(slots.count)
        hasher.combine(combined)
    }
}

extension EventMap: ExpressibleByDictionaryLiteral {
    /// A map of the literal's entries; of two equal keys, the later value is kept.
    @inlinable
    public init(dictionaryLiteral elements: (String, EventValue)...) {
        self = elements.withUnsafeBufferPointer { EventMap(literalEntries: $0) }
    }

    /// The map of a literal's entries: appended while their keys come in the map's order (as
    /// literals are usually written), inserted otherwise; of two equal keys, the later value
    /// is kept. The entries are read in place (see ``EventValue/init(dictionaryLiteral:)``).
    @usableFromInline
    package init(literalEntries elements: UnsafeBufferPointer<(String, EventValue)>) {
        self.init(minimumCapacity: elements.count)
        for index in elements.indices {
            // One copy of each entry, moved into its slot (appendInOrder consumes its arguments).
            if !appendInOrder(elements[index].1, forKey: elements[index].0) { self[elements[index].0] = elements[index].1 }
        }
    }
}

extension EventMap: CustomStringConvertible {
    /// The map as ``EventValue/description`` renders it.
    public var description: String { EventValue.map(self).description }
}
