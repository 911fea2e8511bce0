import Synchronization

/// One event: what happened (``type``), its payload (``data``), and where and when.
///
/// `Event` is a value type backed by a single shared, immutable-once-published object, so
/// passing an event to many subscribers and keeping it in history copies one reference.
/// Changing a field (as middleware may) copies that object first.
///
/// The payload can be held as a dynamic ``EventValue``, as a typed ``EventPayload``, or still
/// encoded (``EncodedPayload``, for events that arrived from elsewhere). ``data`` and
/// ``payload(as:)`` convert between these forms lazily, at most once per event and Swift type.
public struct Event: Sendable {
    /// How an event holds its payload.
    public enum Payload: Sendable {
        /// A dynamic value.
        case value(EventValue)
        /// A typed payload, as published.
        case typed(any EventPayload)
        /// Bytes still in a transport's encoding, decoded on demand.
        case encoded(any EncodedPayload)
    }

    @usableFromInline
    var storage: EventStorage

    /// Makes a new event with a fresh id and the current time.
    /// - Parameters:
    ///   - type: what happened.
    ///   - data: the payload; `nil` for none.
    ///   - source: who published it (free text, e.g. a component name).
    ///   - metadata: string annotations (trace ids, tenant, …).
    ///   - isLocal: whether the event must stay on this bus and never reach a parent.
    public init(
        type: EventType,
        data: EventValue = nil,
        source: String = "",
        metadata: [String: String] = [:],
        isLocal: Bool = false
    ) {
        self.init(type: type, payload: .value(data), source: source, metadata: metadata, isLocal: isLocal)
    }

    /// Makes a new event with a typed payload, a fresh id and the current time.
    /// - Parameters:
    ///   - payload: the payload; the event's type is `P.eventType`.
    ///   - source: who published it.
    ///   - metadata: string annotations.
    ///   - isLocal: whether the event must stay on this bus and never reach a parent.
    public init<P: EventPayload>(
        _ payload: P,
        source: String = "",
        metadata: [String: String] = [:],
        isLocal: Bool = false
    ) {
        self.init(type: P.eventType, payload: .typed(payload), source: source, metadata: metadata, isLocal: isLocal)
    }

    /// Makes a new event with a fresh id and the current time, in `spare` (an object no one
    /// else references, see ``ThreadDispatch/recycle(_:)``) when there is one.
    init(
        type: EventType, payload: consuming Payload, source: String, metadata: borrowing [String: String],
        isLocal: Bool, scope: borrowing [String] = [], reusing spare: consuming EventStorage? = nil
    ) {
        let now = Timestamp.now()
        let id = EventID.next(milliseconds: now.millisecondsSinceEpoch)
        if let spare {
            spare.reinitialize(
                id: id, type: type, payload: payload, timestamp: now, source: source, metadata: metadata,
                scope: scope, isLocal: isLocal)
            storage = spare
        } else {
            storage = EventStorage(
                id: id, type: type, payload: payload, timestamp: now, source: source, metadata: metadata,
                scope: scope, origin: nil, isLocal: isLocal)
        }
    }

    /// Rebuilds an event with every field given, as a transport does for an event that arrived
    /// from elsewhere; nothing is minted or stamped.
    /// - Parameters:
    ///   - id: the event's id.
    ///   - type: the event's type.
    ///   - payload: the payload in any of its forms.
    ///   - timestamp: when the event was created.
    ///   - source: who published it.
    ///   - metadata: string annotations.
    ///   - scope: the scope path of the bus it was published on.
    ///   - origin: the node it came from.
    ///   - isLocal: whether it must stay on the bus it is delivered to.
    public init(
        id: EventID,
        type: EventType,
        payload: consuming Payload,
        timestamp: Timestamp,
        source: String = "",
        metadata: [String: String] = [:],
        scope: [String] = [],
        origin: EventOrigin? = nil,
        isLocal: Bool = false
    ) {
        storage = EventStorage(
            id: id, type: type, payload: consume payload, timestamp: timestamp, source: source,
            metadata: metadata, scope: scope, origin: origin, isLocal: isLocal)
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    /// The event's unique id, kept when the event crosses buses and machines.
    public var id: EventID { storage.id }

    /// What happened.
    public var type: EventType {
        get { storage.type }
        set { makeUnique(); storage.type = newValue }
    }

    /// When the event was created (wall clock, nanoseconds).
    public var timestamp: Timestamp { storage.timestamp }

    /// Who published it.
    public var source: String {
        get { storage.source }
        set { makeUnique(); storage.source = newValue }
    }

    /// String annotations.
    public var metadata: [String: String] {
        get { storage.metadata }
        set { makeUnique(); storage.metadata = newValue }
    }

    /// The scope path of the bus the event was published on, outermost first (empty for a root bus).
    public var scope: [String] {
        get { storage.scope }
        set { makeUnique(); storage.scope = newValue }
    }

    /// The node the event entered the mesh from; `nil` until the mesh stamps it.
    public var origin: EventOrigin? {
        get { storage.origin }
        set { makeUnique(); storage.origin = newValue }
    }

    /// Whether the event stays on the bus it is published on (never handed to a parent or the
    /// network). `handler.error` events are local.
    public var isLocal: Bool {
        get { storage.isLocal }
        set { makeUnique(); storage.isLocal = newValue }
    }

    /// The payload in the form it is held (dynamic, typed or still encoded).
    public var payload: Payload {
        get { storage.payload }
        set { makeUnique(); storage.setPayload(newValue) }
    }

    /// The payload as a dynamic value.
    ///
    /// A typed payload is converted to a map keyed by its coding keys, and an encoded payload is
    /// decoded, once per event; later reads return the cached result. A payload that cannot be
    /// converted reads as `nil` (``EventValue/null``); ``payloadValue()`` says why.
    public var data: EventValue {
        get {
            // Reads after the first find the converted value without copying the payload.
            if storage.hasDynamicPayload { return storage.dynamicPayload }
            if let converted = storage.convertedDynamicValue { return converted }
            return (try? storage.dynamicValue()) ?? .null
        }
        set { makeUnique(); storage.setPayload(.value(newValue)) }
    }

    /// One field of the payload: the same as `data[key]`, but a payload that is still encoded is
    /// not decoded as a whole.
    ///
    /// Use it to read a few fields of an event that arrived from another node when nothing else
    /// needs the whole payload: only the field is decoded, and the other fields' values are
    /// skipped, however large. Once the payload has been converted (by ``data`` or another
    /// subscriber), the converted map is used. A field read this way is not cached: each call
    /// decodes it again, so a handler that reads most of a payload should read ``data`` once
    /// instead. A typed payload is converted to its dynamic form (once per event, as ``data``
    /// does).
    /// - Parameter key: the field's key.
    /// - Returns: the field's value; `nil` when the payload is not a map, has no such field, or
    ///   does not convert (as `data[key]`).
    public func data(forKey key: String) -> EventValue? {
        storage.dynamicValue(forKey: key)
    }

    /// The payload as a dynamic value, or the error that kept it from converting.
    /// - Returns: the payload as an ``EventValue``.
    /// - Throws: the encoding or decoding error of the conversion.
    public func payloadValue() throws -> EventValue {
        try storage.dynamicValue()
    }

    /// The payload decoded as `type`.
    ///
    /// If the event was published with a `T`, that value is returned as is; otherwise the
    /// conversion runs once per event and type and its result (or error) is cached.
    /// - Parameter type: the type to decode.
    /// - Returns: the payload as a `T`.
    /// - Throws: a `DecodingError` (or the transport's error) if the payload does not fit `T`.
    public func payload<T: Decodable & Sendable>(as type: T.Type) throws -> T {
        try storage.typedValue(type)
    }
}

extension Event: CustomStringConvertible {
    /// A one-line rendering for logs: `type id source data`.
    public var description: String {
        var text = "\(type) \(id)"
        if !source.isEmpty { text += " from \(source)" }
        text += " \(data)"
        return text
    }
}

/// The shared object behind an ``Event``.
///
/// @unchecked Sendable: the fields are mutated only through `Event`'s setters, which first make
/// the object uniquely referenced (so no other thread can see it); `cache` is read and written
/// only under `EventStorage.lock(for:)` (`hasConversions`, set under the lock once it holds
/// something, lets a first conversion skip the lookup), and so is `dynamicCache` until
/// `dynamicReady` says it is set for good (a releasing store after the write, under the lock;
/// an acquiring load before reading it without the lock).
@usableFromInline
final class EventStorage: @unchecked Sendable {
    // Fields change only while the object is uniquely referenced (see Event's setters), so the
    // dynamic exclusivity checks that class properties get would only cost time on every read.
    @exclusivity(unchecked) var id: EventID
    @exclusivity(unchecked) var type: EventType
    /// The payload when it is dynamic (``Event/Payload/value(_:)``), `.null` otherwise. Held
    /// apart from the other forms so that reading it copies one reference, not a
    /// multi-payload enum through its value witnesses.
    @exclusivity(unchecked) private(set) var dynamicPayload: EventValue
    /// The payload when it is typed; `nil` otherwise.
    @exclusivity(unchecked) private var typedPayload: (any EventPayload)?
    /// The payload when it is still encoded; an empty ``NoEncodedPayload`` otherwise. A field of
    /// its own, and not optional, rather than a case of an enum shared with `typedPayload`:
    /// reading a field of the payload (``dynamicValue(forKey:)``) then calls the field, where
    /// taking the payload out of the enum (and out of the optional) copied it twice per call
    /// (about 140 instructions: `profile.sh mesh_receive_bench_fields`).
    @exclusivity(unchecked) private var encodedPayload: any EncodedPayload
    /// Which of the three fields holds the payload, kept apart because testing the existentials
    /// goes through their value witnesses.
    @exclusivity(unchecked) private var form: PayloadForm
    @exclusivity(unchecked) var timestamp: Timestamp
    @exclusivity(unchecked) var source: String
    // Most events have no metadata and no scope: storing `nil` then spares a retain and a
    // release of an empty collection per event.
    @exclusivity(unchecked) private var metadataIfAny: [String: String]?
    @exclusivity(unchecked) private var scopeIfAny: [String]?
    @exclusivity(unchecked) var origin: EventOrigin?
    @exclusivity(unchecked) var isLocal: Bool
    /// Conversions of the payload to typed values, made lazily; guarded by
    /// `EventStorage.lock(for: self)`.
    @exclusivity(unchecked) private var cache: ConversionCache?
    /// Whether `cache` may hold something: false means it is empty, or being stored right now,
    /// so a first conversion looks for no cached one and takes the lock once, to store.
    private let hasConversions = Atomic<Bool>(false)
    /// The payload's dynamic form once converted (the common case gets a slot of its own:
    /// no boxing, no array); guarded by `EventStorage.lock(for: self)`.
    @exclusivity(unchecked) private var dynamicCache: Result<EventValue, any Error>?
    /// Whether `dynamicCache` is set and will not change again while the object is shared, so
    /// that reading it needs no lock (every read of ``Event/data`` after the first).
    private let dynamicReady = Atomic<Bool>(false)

    init(
        id: EventID, type: EventType, payload: consuming Event.Payload, timestamp: Timestamp, source: String,
        metadata: borrowing [String: String], scope: borrowing [String], origin: EventOrigin?, isLocal: Bool
    ) {
        self.id = id
        self.type = type
        // Each field initialized once, in the branch of the payload's form (a tuple assignment
        // from a helper cost an assignment, a copy and a destroy of the payload: about 250
        // instructions per received event).
        switch consume payload {
        case .value(let value):
            (dynamicPayload, typedPayload, encodedPayload) = (value, nil, NoEncodedPayload())
            form = .dynamic
        case .typed(let typed):
            (dynamicPayload, typedPayload, encodedPayload) = (.null, typed, NoEncodedPayload())
            form = .typed
        case .encoded(let encoded):
            (dynamicPayload, typedPayload, encodedPayload) = (.null, nil, encoded)
            form = .encoded
        }
        self.timestamp = timestamp
        self.source = source
        self.metadataIfAny = metadata.isEmpty ? nil : copy metadata
        self.scopeIfAny = scope.isEmpty ? nil : copy scope
        self.origin = origin
        self.isLocal = isLocal
    }

    /// Gives a recycled object the fields of a new event. Only called on an object that
    /// ``clearForReuse()`` emptied and that no one else references.
    func reinitialize(
        id: EventID, type: EventType, payload: consuming Event.Payload, timestamp: Timestamp, source: String,
        metadata: borrowing [String: String], scope: borrowing [String], isLocal: Bool
    ) {
        self.id = id
        self.type = type
        // The emptied object holds a dynamic nil payload: a dynamic payload goes straight into
        // its field (splitting the enum costs about 300 instructions on the publish path); the
        // other forms replace it.
        switch consume payload {
        case .value(let data): dynamicPayload = data
        case let other: setPayload(other)
        }
        self.timestamp = timestamp
        // Most events have no source: two empty strings need no release and retain.
        if !(source.isEmpty && self.source.isEmpty) { self.source = source }
        if !metadata.isEmpty { self.metadataIfAny = copy metadata }
        if !scope.isEmpty { self.scopeIfAny = copy scope }
        self.isLocal = isLocal
    }

    /// Releases the payload and everything optional the object holds, and leaves it as a new
    /// event with a dynamic `nil` payload and no metadata, scope, origin or cached conversion
    /// (the type and source stay until ``reinitialize(id:type:payload:timestamp:source:metadata:scope:isLocal:)``
    /// overwrites them: they hold no user object). Only called on an object no one else
    /// references. Fields that are already empty are left alone, which spares a call per field.
    func clearForReuse() {
        dynamicPayload = .null
        releaseOtherPayload()
        form = .dynamic
        if metadataIfAny != nil { metadataIfAny = nil }
        if scopeIfAny != nil { scopeIfAny = nil }
        if origin != nil { origin = nil }
        // The flag, not `cache != nil`: testing the optional struct cost 165 instructions a publish.
        if hasConversions.load(ordering: .relaxed) {
            cache = nil
            hasConversions.store(false, ordering: .relaxed)
        }
        if dynamicCache != nil {
            dynamicCache = nil
            dynamicReady.store(false, ordering: .relaxed)
        }
    }

    /// Whether the payload is dynamic (held in `dynamicPayload`).
    var hasDynamicPayload: Bool { form == .dynamic }

    /// Empties the typed or encoded field, whichever holds the payload. Only the field that
    /// holds something is assigned: an assignment to an existential field destroys what it held
    /// through the value witnesses, even the empty placeholder.
    private func releaseOtherPayload() {
        switch form {
        case .dynamic: break
        case .typed: typedPayload = nil
        case .encoded: encodedPayload = NoEncodedPayload()
        }
    }

    /// The payload in the form it is held.
    var payload: Event.Payload {
        switch form {
        case .dynamic: .value(dynamicPayload)
        case .typed: .typed(typedPayload!)
        case .encoded: .encoded(encodedPayload)
        }
    }

    var metadata: [String: String] {
        get { metadataIfAny ?? [:] }
        set { metadataIfAny = newValue.isEmpty ? nil : newValue }
    }

    var scope: [String] {
        get { scopeIfAny ?? [] }
        set { scopeIfAny = newValue.isEmpty ? nil : newValue }
    }

    func copy() -> EventStorage {
        let copy = EventStorage(
            id: id, type: type, payload: payload, timestamp: timestamp, source: source,
            metadata: metadata, scope: scope, origin: origin, isLocal: isLocal)
        let (cache, dynamicCache) = EventStorage.lock(for: self).withLock { (self.cache, self.dynamicCache) }
        copy.cache = cache
        if cache != nil { copy.hasConversions.store(true, ordering: .releasing) }
        copy.dynamicCache = dynamicCache
        if dynamicCache != nil { copy.dynamicReady.store(true, ordering: .releasing) }
        return copy
    }

    /// Replaces the payload; only called on a uniquely referenced storage.
    func setPayload(_ newPayload: consuming Event.Payload) {
        releaseOtherPayload()
        switch consume newPayload {
        case .value(let value):
            dynamicPayload = value
            form = .dynamic
        case .typed(let typed):
            dynamicPayload = .null
            typedPayload = typed
            form = .typed
        case .encoded(let encoded):
            dynamicPayload = .null
            encodedPayload = encoded
            form = .encoded
        }
        cache = nil
        hasConversions.store(false, ordering: .relaxed)
        dynamicCache = nil
        dynamicReady.store(false, ordering: .relaxed)
    }

    func dynamicValue() throws -> EventValue {
        switch form {
        case .dynamic: return dynamicPayload
        case .typed: return try cachedDynamic { try EventValueEncoder().encode(typedPayload!) }
        case .encoded: return try cachedDynamic { try encodedPayload.decodeValue() }
        }
    }

    /// `dynamicValue()[key]`, decoding only that field of a payload still encoded.
    func dynamicValue(forKey key: String) -> EventValue? {
        if form == .dynamic { return dynamicPayload[key] }
        // A failed conversion is cached too: then `data` reads nil, and so does this.
        if dynamicReady.load(ordering: .acquiring), let converted = dynamicCache { return (try? converted.get())?[key] }
        // Called on the field: testing `typedPayload` against nil, or binding an optional,
        // would copy an existential (about 90 instructions) first.
        if form == .encoded { return (try? encodedPayload.decodeValue(forKey: key)) ?? nil }
        return (try? dynamicValue())?[key]
    }

    /// The payload's dynamic form if a conversion already made it; `nil` otherwise (also for
    /// a `.value` payload, which needs no conversion). Takes no lock.
    var convertedDynamicValue: EventValue? {
        guard dynamicReady.load(ordering: .acquiring), case .success(let value)? = dynamicCache else { return nil }
        return value
    }

    /// Returns the cached dynamic form, or runs `convert` (outside any lock) and caches its
    /// result or error; as with ``cached(key:_:)``, the first stored result wins.
    private func cachedDynamic(_ convert: () throws -> EventValue) throws -> EventValue {
        // `dynamicReady` is set under the lock with the cache: while it is false, no result is
        // stored yet, or one is being stored right now (a race in which both threads convert).
        if dynamicReady.load(ordering: .acquiring), let hit = dynamicCache { return try hit.get() }
        let lock = EventStorage.lock(for: self)
        let result: Result<EventValue, any Error>
        do { result = .success(try convert()) } catch { result = .failure(error) }
        let stored = lock.withLock { () -> Result<EventValue, any Error> in
            if let existing = dynamicCache { return existing }
            dynamicCache = result
            dynamicReady.store(true, ordering: .releasing)
            return result
        }
        return try stored.get()
    }

    func typedValue<T: Decodable & Sendable>(_ type: T.Type) throws -> T {
        // `as!` after a check rather than `as?`: unspecialized code casting to `T?` looks up
        // `Optional<T>`'s metadata at run time (a few hundred instructions) on every call. The
        // payload's own type is checked first, which spares the common case a second cast.
        if let typed = typedPayload, Swift.type(of: typed) == T.self || typed is T { return typed as! T }
        return try cached(key: ObjectIdentifier(T.self)) {
            if form == .dynamic { return try EventValueDecoder().decode(T.self, from: dynamicPayload) }
            if form == .typed { return try EventValueDecoder().decode(T.self, from: dynamicValue()) }
            // If the dynamic form was already decoded, building T from it is cheaper than
            // decoding the bytes again.
            if let dynamic = convertedDynamicValue { return try EventValueDecoder().decode(T.self, from: dynamic) }
            return try encodedPayload.decode(T.self)
        }
    }

    /// Returns the cached conversion for `key`, or runs `convert` (outside any lock) and caches
    /// its result or error. Two threads racing on the same key may both convert; the first
    /// stored result wins, so every caller sees the same value.
    private func cached<T: Sendable>(key: ObjectIdentifier, _ convert: () throws -> T) throws -> T {
        let lock = EventStorage.lock(for: self)
        if hasConversions.load(ordering: .acquiring), let hit = lock.withLock({ cache?.lookup(key) }) {
            return try ConversionCache.unwrap(hit, as: T.self)
        }
        let result: Result<any Sendable, any Error>
        do { result = .success(try convert()) } catch { result = .failure(error) }
        let stored = lock.withLock { () -> Result<any Sendable, any Error> in
            if let existing = cache?.lookup(key) { return existing }
            if cache == nil {
                cache = ConversionCache(first: (key, result))
                hasConversions.store(true, ordering: .releasing)
            } else {
                cache!.others.append((key, result))
            }
            return result
        }
        return try ConversionCache.unwrap(stored, as: T.self)
    }

    private static let locks: [Lock] = (0..<16).map { _ in Lock() }

    /// One of a few shared locks, chosen by the object's address, so that events need no lock each.
    static func lock(for storage: EventStorage) -> Lock {
        let address = UInt(bitPattern: ObjectIdentifier(storage).hashValue)
        return locks[Int((address >> 6) & 15)]
    }
}

/// Which of ``EventStorage``'s fields holds the payload.
enum PayloadForm: UInt8 {
    case dynamic, typed, encoded
}

/// What ``EventStorage`` holds as its encoded payload when the payload is not encoded.
private struct NoEncodedPayload: EncodedPayload {
    func decodeValue() -> EventValue { .null }
}

/// Cached typed conversions of one event's payload, keyed by target type.
struct ConversionCache {
    /// The first conversion, held inline: most events are converted to one type at most.
    var first: (ObjectIdentifier, Result<any Sendable, any Error>)
    /// Conversions to further types.
    var others: [(ObjectIdentifier, Result<any Sendable, any Error>)] = []

    func lookup(_ key: ObjectIdentifier) -> Result<any Sendable, any Error>? {
        if first.0 == key { return first.1 }
        return others.first { $0.0 == key }?.1
    }

    static func unwrap<T>(_ result: Result<any Sendable, any Error>, as type: T.Type) throws -> T {
        // The cache is keyed by ObjectIdentifier(T.self), so a success always holds a T. (`as!`,
        // not `as?`: a cast to `T?` looks up `Optional<T>`'s metadata at run time on every call.)
        try result.get() as! T
    }
}
