import PushContract

/// CONTRACT §2 `time` *(1.1)*: which instant a push's delay and TTL count from.
///
/// The router's `time` is trusted only within bounds, because it is written by another machine's
/// clock (and, through `pn-timeout`, timing is partly in a SIP user's hands): a router whose clock
/// runs an hour fast would delay every push by an hour, and one that runs slow, or a backlog read
/// late, would have every push dropped as expired. So a `branch.unanswered` whose `time` is more
/// than `aheadToleranceMs` ahead of the worker's clock, or further behind it than the push's
/// lifetime, counts from `now`, the instant the worker read it. The replaced time is what the
/// schedule stores (`eventTime`), so a worker taking the partition over fires at the same
/// instants; the router's time stays in the stored event, so every outcome of the push can say
/// what was replaced (`note`), and the metrics count it from the push's first outcome.
///
/// `branch.response` and `call.ended` need no such rule: the engine acts on them at `now` and
/// never reads their `time`.
enum EventTimeRule {
    /// A router clock this far ahead is tolerated (NTP-synchronised clocks differ by far less).
    static let aheadToleranceMs: Int64 = 5_000

    typealias Direction = EventTimeNote.Direction

    /// The instant delays and TTLs count from: the router's `time`, or `now` when it is out of
    /// bounds. `lifetimeSeconds` is the push's TTL as the engine applies it (`PartitionCore.lifetime`).
    static func counted(from routerTime: EventTime, lifetimeSeconds: Int, now: EventTime) -> EventTime {
        direction(routerTime: routerTime, lifetimeSeconds: lifetimeSeconds, now: now) == nil ? routerTime : now
    }

    static func direction(routerTime: EventTime, lifetimeSeconds: Int, now: EventTime) -> Direction? {
        let offset = routerTime.millisecondsSince1970 - now.millisecondsSince1970
        if offset > aheadToleranceMs { return .ahead }
        if -offset > Int64(max(0, lifetimeSeconds)) * 1000 { return .behind }
        return nil
    }

    /// What an outcome's `reason` says when the schedule counts from `counted` rather than from
    /// the router's time; nil when they are the same (nothing was replaced).
    static func note(routerTime: EventTime, counted: EventTime, lifetimeSeconds: Int) -> EventTimeNote? {
        let offset = routerTime.millisecondsSince1970 - counted.millisecondsSince1970
        if offset == 0 { return nil }
        let amount = seconds(abs(offset))
        if offset > 0 {
            return EventTimeNote(.ahead, "event time \(routerTime.rfc3339) was \(amount) s ahead of the worker's clock; counted from when it was read")
        }
        return EventTimeNote(.behind, "event time \(routerTime.rfc3339) was \(amount) s behind the worker's clock, more than the push's TTL of \(lifetimeSeconds) s; counted from when it was read")
    }

    /// A provider's reason (maybe none) with the note appended, if there is one (the engine's
    /// own reasons append it with `OutcomeReason.appending`, the same way).
    static func joined(_ reason: String?, _ note: EventTimeNote?) -> String? {
        guard let note else { return reason }
        guard let reason, !reason.isEmpty else { return note.text }
        return "\(reason); \(note.text)"
    }

    /// Whole seconds as `3600`, others as `5.25` (no Foundation formatter in the core).
    private static func seconds(_ ms: Int64) -> String {
        let whole = ms / 1000, fraction = ms % 1000
        guard fraction != 0 else { return "\(whole)" }
        var digits = String(fraction + 1000).dropFirst()
        while digits.last == "0" { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}
