/// Per-destination objects by key, with a bounded count and an idle lifetime.
///
/// Destinations come from what SIP users send (an APNs bundle id under a team's token key, a
/// generic host): without bounds, every distinct value would keep a lane, a pool and a gauge
/// series forever. Not thread-safe: the owning registry holds it under its lock.
struct BoundedTable<Value> {
    private var entries: [String: (value: Value, lastUsed: Int64)] = [:]
    let capacity: Int
    let idleMs: Int64

    init(capacity: Int, idleMs: Int64) {
        self.capacity = max(1, capacity)
        self.idleMs = max(0, idleMs)
    }

    var count: Int { entries.count }
    var values: [Value] { entries.values.map(\.value) }
    var keys: [String] { Array(entries.keys) }

    /// The value for `key`, without marking it used.
    func peek(_ key: String) -> Value? { entries[key]?.value }

    /// The value for `key`, marked used at `now`.
    mutating func use(_ key: String, now: Int64) -> Value? {
        guard let entry = entries[key] else { return nil }
        entries[key] = (entry.value, now)
        return entry.value
    }

    /// Adds `value` unless the table is full of entries `evictable` refuses; makes room by
    /// dropping idle-expired entries, then the least recently used evictable one.
    mutating func insert(_ key: String, _ value: Value, now: Int64, evictable: (Value) -> Bool) -> (inserted: Bool, evicted: [(String, Value)]) {
        var evicted: [(String, Value)] = []
        if entries.count >= capacity { evicted = evictIdle(now: now, evictable: evictable) }
        if entries.count >= capacity {
            let oldest = entries.filter { evictable($0.value.value) }.min { $0.value.lastUsed < $1.value.lastUsed }
            guard let oldest else { return (false, evicted) }
            entries[oldest.key] = nil
            evicted.append((oldest.key, oldest.value.value))
        }
        entries[key] = (value, now)
        return (true, evicted)
    }

    /// Drops the entries unused for `idleMs` that `evictable` lets go.
    mutating func evictIdle(now: Int64, evictable: (Value) -> Bool) -> [(String, Value)] {
        let expired = entries.filter { now - $0.value.lastUsed >= idleMs && evictable($0.value.value) }
        for key in expired.keys { entries[key] = nil }
        return expired.map { ($0.key, $0.value.value) }
    }

    /// Removes and returns the entries whose key matches.
    mutating func remove(where matches: (String) -> Bool) -> [Value] {
        let keys = entries.keys.filter(matches)
        return keys.compactMap { entries.removeValue(forKey: $0)?.value }
    }

    mutating func removeAll() -> [Value] {
        defer { entries.removeAll() }
        return entries.values.map(\.value)
    }
}
