public import Kafka
public import PushContract
public import PushPolicy
public import PushSenders

/// What a replay did with the records it read, for the summary line.
public struct ReplayTally: Sendable, Hashable {
    /// Records read in the offset range.
    public var read = 0
    /// Records whose Kafka timestamp is outside `--from`/`--to` (only for a time range).
    public var outsideTimeRange = 0
    /// Pushes sent (or, in a dry run, that would be sent).
    public var pushes = 0
    /// Pushes sent whose provider answered with a failure or an invalid token.
    public var failedSends = 0
    /// Pushes whose TTL had passed at replay time (not sent).
    public var expired = 0
    /// Records that cannot be decoded (the worker dead-lettered them when it first read them).
    public var undecodable = 0
    /// Pushes of the range still scheduled in the future at the end (left to the live workers).
    public var notDue = 0
    /// Decisions not to push, by reason code (`filter`, `needs_push`, `push_params`, `duplicate`…).
    public var skipped: [String: Int] = [:]

    public init() {}

    public var skippedTotal: Int { skipped.values.reduce(0, +) }

    public static func + (a: ReplayTally, b: ReplayTally) -> ReplayTally {
        var t = a
        t.read += b.read
        t.outsideTimeRange += b.outsideTimeRange
        t.pushes += b.pushes
        t.failedSends += b.failedSends
        t.expired += b.expired
        t.undecodable += b.undecodable
        t.notDue += b.notDue
        t.skipped.merge(b.skipped, uniquingKeysWith: +)
        return t
    }
}

/// One record of the range that gives no push, and why (for `--dry-run` lines).
public struct ReplayNote: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case skipped, expired, undecodable, failed
    }
    public var kind: Kind
    public var offset: Int64?
    public var callId: String?
    public var reason: String

    public init(kind: Kind, offset: Int64?, callId: String?, reason: String) {
        self.kind = kind
        self.offset = offset
        self.callId = callId
        self.reason = reason
    }
}

/// What a batch of the range asks for: pushes due now, and notes on what gives none.
public struct ReplayStep: Sendable, Hashable {
    public var sends: [SendOrder] = []
    public var notes: [ReplayNote] = []
}

/// The pure part of `pushfleet replay` for one partition: the worker's own `PartitionCore`,
/// driven over a range of the events topic with the current time, whose actions are filtered to
/// what a replay may do.
///
/// Reusing the core (rather than calling the policy directly) keeps every decision the worker's:
/// filter, needsPush, parameters, TTL expiry, one push context per call and device, and a
/// `branch.response` or `call.ended` later in the range cancelling the push of its branch.
/// What replay does *not* take from the worker, on purpose:
/// - no state records (`.state` actions are dropped): live workers own `pushfleet.state`;
/// - first pushes only: a schedule is settled as soon as its first push is sent (or, in a dry
///   run, listed), so no retransmission, ringing repetition or final push follows;
/// - no outcome for skips and expiries and no dead letter: the worker already wrote those for
///   the same records; replay counts them. Only pushes really sent get a `push.outcome`, with an
///   id of its own (`<original id>.replay`) so consumers that de-duplicate on ids keep both.
public struct ReplayCore: Sendable {
    private var core: PartitionCore
    /// Kafka record timestamps (ms) kept: `[from, to)`; nil = unbounded.
    public let timeRange: (from: Int64?, to: Int64?)
    public private(set) var tally = ReplayTally()

    public init(partition: Int32, policy: BranchPolicy, timeRange: (from: Int64?, to: Int64?) = (nil, nil), timing: EngineTiming = EngineTiming()) {
        // A replay trusts the router's times (`EngineTiming.boundEventTimes`): counted from the
        // replay's read time, every call of an old range would ring again.
        var timing = timing
        timing.boundEventTimes = false
        core = PartitionCore(partition: partition, policy: policy, timing: timing)
        self.timeRange = timeRange
    }

    /// Applies records of this partition, in offset order, then fires what is due at `now`.
    public mutating func handle(_ messages: [KafkaMessage], now: EventTime) -> ReplayStep {
        var step = ReplayStep()
        for message in messages {
            tally.read += 1
            if let ts = message.timestamp, !inTimeRange(ts) {
                tally.outsideTimeRange += 1
                continue
            }
            apply(core.handle(message, now: now), offset: message.offset, into: &step)
        }
        apply(core.fireDue(now: now), offset: nil, into: &step)
        return step
    }

    /// The outcome record of a push replay sent; the schedule ends there (first push only).
    public mutating func sent(_ order: SendOrder, outcome: SendOutcome, now: EventTime) -> PushOutcome? {
        let actions = core.completed(order, outcome: outcome, now: now)
        core.settle(key: order.key, now: now)
        if outcome.result != .sent { tally.failedSends += 1 }
        for case .outcome(var o) in actions {
            o.header.id = String(o.header.id.prefix(121)) + ".replay"
            return o
        }
        return nil
    }

    /// A dry run listed this push instead of sending it: the schedule ends as if it was sent.
    public mutating func listed(_ order: SendOrder, now: EventTime) {
        core.settle(key: order.key, now: now)
    }

    /// Counts the pushes of the range that are still due in the future (a `timeout` delay not
    /// yet passed): replay leaves them to the live workers. Call once, after the last batch.
    public mutating func finish() {
        tally.notDue = core.count(in: .pending)
    }

    private func inTimeRange(_ ts: Int64) -> Bool {
        if let from = timeRange.from, ts < from { return false }
        if let to = timeRange.to, ts >= to { return false }
        return true
    }

    private mutating func apply(_ actions: [CoreAction], offset: Int64?, into step: inout ReplayStep) {
        for action in actions {
            switch action {
            case .state:
                continue
            case .send(let order):
                tally.pushes += 1
                step.sends.append(order)
            case .deadLetter(let letter):
                tally.undecodable += 1
                step.notes.append(ReplayNote(kind: .undecodable, offset: letter.source.offset, callId: nil, reason: letter.error))
            case .outcome(let o):
                let reason = o.reason ?? o.result.rawValue
                switch o.result {
                case .dropped:
                    tally.expired += 1
                    step.notes.append(ReplayNote(kind: .expired, offset: offset, callId: o.callId, reason: reason))
                case .skipped:
                    // Grouped by rule (the code), not by the text: reasons quote values of the
                    // event (a parameter, another event id), which would make one line per record.
                    tally.skipped[o.reasonCode?.rawValue ?? "other", default: 0] += 1
                    step.notes.append(ReplayNote(kind: .skipped, offset: offset, callId: o.callId, reason: reason))
                default:
                    tally.failedSends += 1
                    step.notes.append(ReplayNote(kind: .failed, offset: offset, callId: o.callId, reason: reason))
                }
            }
        }
    }
}
