import HeapModule
import PushContract

/// The schedules of one events partition and their timers, laid out for memory.
///
/// A worker holds every pending schedule of its partitions (100k and more), and the engine's
/// budget is ≤ 1 KiB per schedule, of which the stored `branch.unanswered` bytes (kept so that
/// any worker can re-derive the push) and the state key take about 600 B. So the bookkeeping
/// around them must stay small, which a plain `[String: ScheduleRecord]` plus per-call
/// `Set`s and an `armedAt` dictionary did not (≈ 900 B: at 100k entries a Swift dictionary has
/// 262,144 buckets, 2.6 per entry, all of them touched by hashing; a one-element `Set` is a
/// 128-byte allocation):
/// - schedules live in one array of compact slots (times as milliseconds, counters as `Int32`,
///   the state key stored once); freed slots are reused. A growing array's spare capacity is
///   never written, so it costs address space, not resident memory;
/// - the key index maps keys to slot numbers (a bucket holds the key and 4 bytes, not a
///   168-byte record);
/// - the state key starts with the Call-ID (`callId:provider:param:prid`, Flexisip's push-context
///   key), so a slot keeps the Call-ID as a length into its key instead of a second string;
/// - the schedules of one call form a linked list through their slots, found by the Call-ID's
///   hash (calls whose hashes collide share a list, and walking it compares the Call-IDs; calls
///   have few branches, so walking is cheap);
/// - the timer heap holds (instant, slot) pairs, and each slot remembers the instant of its live
///   entry: an entry whose slot no longer expects that instant is stale and skipped.
///
/// `ScheduleRecord` stays the exchange type (state records, `PartitionCore`'s logic); the table
/// converts at its edges, which copies strings by reference only.
struct ScheduleTable: Sendable {
    private static let none = Int64.min
    private static let end: Int32 = -1

    private struct Slot: Sendable {
        /// The state key; empty while the slot is free.
        var key: String
        var eventId: String
        /// The Call-ID when the key does not start with it (never, for keys the policy makes).
        var callIdOverride: String?
        var branch: String
        var provider: String
        var event: [UInt8]
        var writtenAt: Int64
        var eventTime: Int64
        var nextAt: Int64
        var ringingUntil: Int64
        /// The instant of this slot's live timer entry (`none` = not armed).
        var armedAt: Int64
        var attempt: Int32
        var retransmissionsLeft: Int32
        /// The next slot of the same call (`end` = last), or the next free slot.
        var nextInCall: Int32
        /// UTF-8 length of the Call-ID at the start of `key`.
        var callIdLength: UInt32
        var requestIndex: UInt8
        var pushType: PushType
        var phase: ScheduleRecord.Phase
        var finalReason: CallEndReason?

        init(_ r: ScheduleRecord) {
            key = r.key
            eventId = r.header.id
            let prefixed = r.key.utf8.count > r.callId.utf8.count
                && r.key.utf8.starts(with: r.callId.utf8)
                && r.key.utf8[r.key.utf8.index(r.key.utf8.startIndex, offsetBy: r.callId.utf8.count)] == UInt8(ascii: ":")
            callIdOverride = prefixed ? nil : r.callId
            callIdLength = UInt32(r.callId.utf8.count)
            branch = r.branch
            provider = r.provider
            event = r.event
            writtenAt = r.header.time.millisecondsSince1970
            eventTime = r.eventTime.millisecondsSince1970
            nextAt = r.nextAt?.millisecondsSince1970 ?? ScheduleTable.none
            ringingUntil = r.ringingUntil?.millisecondsSince1970 ?? ScheduleTable.none
            armedAt = ScheduleTable.none
            attempt = Int32(clamping: r.attempt)
            retransmissionsLeft = Int32(clamping: r.retransmissionsLeft)
            nextInCall = ScheduleTable.end
            requestIndex = UInt8(clamping: r.requestIndex)
            pushType = r.pushType
            phase = r.phase
            finalReason = r.finalReason
        }

        /// Overwrites the record's fields, keeping the slot's links, timer and key string (the
        /// same key, but maybe another copy of it: a restore decodes one per version, and the
        /// index holds the first).
        mutating func update(_ r: ScheduleRecord) {
            var fresh = Slot(r)
            fresh.key = key
            fresh.armedAt = armedAt
            fresh.nextInCall = nextInCall
            self = fresh
        }

        var callIdBytes: Substring.UTF8View {
            if let callIdOverride { return Substring(callIdOverride).utf8 }
            return Substring(key).utf8.prefix(Int(callIdLength))
        }

        var callId: String { callIdOverride ?? String(decoding: callIdBytes, as: UTF8.self) }

        var record: ScheduleRecord {
            ScheduleRecord(
                header: RecordHeader(id: eventId, time: EventTime(millisecondsSince1970: writtenAt)), key: key,
                callId: callId, branch: branch, eventTime: EventTime(millisecondsSince1970: eventTime),
                requestIndex: Int(requestIndex), provider: provider, pushType: pushType, phase: phase,
                attempt: Int(attempt), nextAt: ScheduleTable.time(nextAt),
                retransmissionsLeft: Int(retransmissionsLeft), ringingUntil: ScheduleTable.time(ringingUntil),
                finalReason: finalReason, event: event)
        }
    }

    private struct TimerEntry: Comparable, Sendable {
        var at: Int64
        var slot: Int32
        static func < (a: TimerEntry, b: TimerEntry) -> Bool { a.at < b.at }
    }

    private var slots: [Slot] = []
    /// Head of the free-slot list (`end` = none), linked through `nextInCall`.
    private var freeHead: Int32 = ScheduleTable.end
    private var index: [String: Int32] = [:]
    /// First slot of the list of each Call-ID hash.
    private var calls: [Int: Int32] = [:]
    private var timers = Heap<TimerEntry>()

    private static func time(_ ms: Int64) -> EventTime? {
        ms == none ? nil : EventTime(millisecondsSince1970: ms)
    }

    var count: Int { index.count }

    subscript(key: String) -> ScheduleRecord? {
        index[key].map { slots[Int($0)].record }
    }

    /// The earliest instant of a live or stale timer entry (stale ones are skipped by `popDue`).
    var nextDeadline: EventTime? {
        timers.min.map { EventTime(millisecondsSince1970: $0.at) }
    }

    /// How many schedules are in `phase`.
    func count(in phase: ScheduleRecord.Phase) -> Int {
        index.values.reduce(0) { $0 + (slots[Int($1)].phase == phase ? 1 : 0) }
    }

    /// The state keys of a call's schedules, sorted (the order actions are taken in).
    func keys(ofCall callId: String) -> [String] {
        var keys: [String] = []
        var at = calls[ScheduleTable.hash(callId.utf8)] ?? ScheduleTable.end
        while at != ScheduleTable.end {
            if slots[Int(at)].callIdBytes.elementsEqual(callId.utf8) { keys.append(slots[Int(at)].key) }
            at = slots[Int(at)].nextInCall
        }
        return keys.sorted()
    }

    /// The hash that finds a call's list; bytes, so that a key's prefix hashes like the Call-ID.
    private static func hash<Bytes: Sequence<UInt8>>(_ callId: Bytes) -> Int {
        var hasher = Hasher()
        for byte in callId { hasher.combine(byte) }
        return hasher.finalize()
    }

    /// Stores `record` under its key and arms its timer at `nextAt` (a changed instant makes the
    /// previous heap entry stale; nil disarms).
    mutating func put(_ record: ScheduleRecord) {
        let slot: Int32
        if let existing = index[record.key] {
            slot = existing
            if !slots[Int(slot)].callIdBytes.elementsEqual(record.callId.utf8) {
                unlink(slot)
                slots[Int(slot)].update(record)
                link(slot)
            } else {
                slots[Int(slot)].update(record)
            }
        } else {
            slot = allocate(Slot(record))
            index[record.key] = slot
            link(slot)
        }
        let nextAt = slots[Int(slot)].nextAt
        if nextAt != slots[Int(slot)].armedAt {
            slots[Int(slot)].armedAt = nextAt
            if nextAt != ScheduleTable.none { timers.insert(TimerEntry(at: nextAt, slot: slot)) }
        }
    }

    mutating func remove(_ key: String) {
        guard let slot = index.removeValue(forKey: key) else { return }
        unlink(slot)
        // Releasing the strings and the event now, not when the slot is reused.
        slots[Int(slot)] = Slot(ScheduleRecord.freed)
        slots[Int(slot)].nextInCall = freeHead
        freeHead = slot
    }

    /// Pops the next timer due at `now` whose schedule still expects it, and disarms it.
    mutating func popDue(now: EventTime) -> (key: String, at: EventTime)? {
        let limit = now.millisecondsSince1970
        while let top = timers.min, top.at <= limit {
            _ = timers.popMin()
            let i = Int(top.slot)
            guard slots[i].armedAt == top.at, !slots[i].key.isEmpty else { continue }  // stale entry
            slots[i].armedAt = ScheduleTable.none
            return (slots[i].key, EventTime(millisecondsSince1970: top.at))
        }
        return nil
    }

    private mutating func allocate(_ slot: Slot) -> Int32 {
        guard freeHead != ScheduleTable.end else {
            slots.append(slot)
            return Int32(slots.count - 1)
        }
        let reused = freeHead
        freeHead = slots[Int(reused)].nextInCall
        slots[Int(reused)] = slot
        return reused
    }

    private mutating func link(_ slot: Int32) {
        let call = ScheduleTable.hash(slots[Int(slot)].callIdBytes)
        slots[Int(slot)].nextInCall = calls[call] ?? ScheduleTable.end
        calls[call] = slot
    }

    private mutating func unlink(_ slot: Int32) {
        let call = ScheduleTable.hash(slots[Int(slot)].callIdBytes)
        guard let head = calls[call] else { return }
        let next = slots[Int(slot)].nextInCall
        if head == slot {
            calls[call] = next == ScheduleTable.end ? nil : next
            return
        }
        var at = head
        while slots[Int(at)].nextInCall != ScheduleTable.end {
            if slots[Int(at)].nextInCall == slot {
                slots[Int(at)].nextInCall = next
                return
            }
            at = slots[Int(at)].nextInCall
        }
    }
}

extension ScheduleRecord {
    /// The content of a free table slot: no strings, no event.
    fileprivate static let freed = ScheduleRecord(
        header: RecordHeader(id: "", time: EventTime(millisecondsSince1970: 0)), key: "", callId: "", branch: "",
        eventTime: EventTime(millisecondsSince1970: 0), requestIndex: 0, provider: "", pushType: .voip, phase: .done,
        attempt: 0, nextAt: nil, retransmissionsLeft: 0, ringingUntil: nil, finalReason: nil, event: [])
}
