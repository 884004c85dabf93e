import DequeModule

/// A lane's writes in input order, and which input offset may be stored once they are acknowledged.
///
/// Every step of a lane (a batch of records, a timer, a send result) produces its writes as one
/// entry; a step caused by input records carries the last offset of that input. An offset may be
/// stored only when its entry and every entry before it are acknowledged: storing it earlier
/// would let a restart skip an input whose state or outcome never reached Kafka. Kept apart from
/// the lane's I/O so that this rule is tested on its own.
struct WriteLedger {
    private struct Entry {
        var sequence: Int
        var offset: Int64?
        var done: Bool
        var began: ContinuousClock.Instant
    }

    private var entries = Deque<Entry>()
    private var nextSequence = 0
    /// The last input offset any entry carried (for naming the source of a later failure).
    private(set) var lastInputOffset: Int64?

    /// Entries begun and not yet stored past.
    var outstanding: Int { entries.count }
    var isEmpty: Bool { entries.isEmpty }

    /// Begins the writes of one step. `offset` is the input offset the step completes (nil for a
    /// timer or a send result); `empty` steps (nothing to write) are done at once. Returns the
    /// entry's sequence and the offset to store now, if any (the next offset to read).
    mutating func begin(offset: Int64?, empty: Bool, at now: ContinuousClock.Instant = .now) -> (sequence: Int, store: Int64?) {
        let sequence = nextSequence
        nextSequence += 1
        if let offset { lastInputOffset = offset }
        entries.append(Entry(sequence: sequence, offset: offset, done: empty, began: now))
        return (sequence, empty ? advance() : nil)
    }

    /// When the oldest entry still waiting for its acknowledgement began (nil: none waits).
    /// Entries before it that are done wait only for it, so the scan stops at the first.
    var oldestUnacknowledged: ContinuousClock.Instant? {
        entries.first { !$0.done }?.began
    }

    /// Marks an entry acknowledged; returns the offset to store, if one advanced. Unknown or
    /// repeated sequences change nothing.
    mutating func complete(_ sequence: Int) -> Int64? {
        guard let index = entries.firstIndex(where: { $0.sequence == sequence }), !entries[index].done else { return nil }
        entries[index].done = true
        return advance()
    }

    /// The offset after the last input whose entry, and every entry before it, are done.
    private mutating func advance() -> Int64? {
        var offset: Int64?
        while let first = entries.first, first.done {
            if let o = first.offset { offset = o }
            entries.removeFirst()
        }
        return offset.map { $0 + 1 }
    }
}
