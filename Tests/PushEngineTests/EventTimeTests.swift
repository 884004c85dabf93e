import PushContract
import PushPolicy
import PushSenders
import Testing
@testable import PushEngine

/// CONTRACT §2 `time` (1.1): router clocks and SIP users do not control timing.
@Suite("Partition core: event times far from the worker's clock")
struct EventTimeTests {
    @Test("an event an hour ahead of the worker's clock is pushed now, and its outcome says why")
    func aheadIsCountedFromReadTime() throws {
        var core = try makeCore()
        let actions = core.apply(unanswered("e1", uri: Contacts.iosVoip, at: t0.adding(seconds: 3600)), now: t0)
        let send = try #require(actions.sends.first, "not delayed by the router's fast clock")
        #expect(actions.states.first?.record?.eventTime == t0, "the schedule stores the time it counts from")
        #expect(send.deadline == t0.adding(seconds: 30), "and its deadline counts from the read time too")
        let outcome = try #require(core.answer(send, at: t0.adding(milliseconds: 20)).outcomes.first)
        #expect(outcome.result == .sent)
        #expect(outcome.reason == "event time \(t0.adding(seconds: 3600).rfc3339) was 3600 s ahead of the worker's clock; counted from when it was read")
        #expect(outcome.timeReplaced == .ahead, "what the counter counts")
        #expect(outcome.latencyMs == 20)
    }

    @Test("a router clock up to 5 s ahead is trusted: the delay counts from its time")
    func smallSkewIsTrusted() throws {
        var core = try makeCore { o, _ in o.timeout = 10 }
        let actions = core.apply(unanswered("e1", uri: Contacts.iosVoip, at: t0.adding(seconds: 5)), now: t0)
        #expect(actions.sends.isEmpty)
        #expect(actions.states.first?.record?.eventTime == t0.adding(seconds: 5))
        #expect(core.nextDeadline == t0.adding(seconds: 15))
        // Just over the tolerance: replaced.
        var skewed = try makeCore { o, _ in o.timeout = 10 }
        _ = skewed.apply(unanswered("e2", uri: Contacts.iosVoip, at: t0.adding(milliseconds: 5_001)), now: t0)
        #expect(skewed.nextDeadline == t0.adding(seconds: 10))
    }

    @Test("an event read later than its TTL is pushed, counted from when it was read")
    func behindIsCountedFromReadTime() throws {
        var core = try makeCore { o, _ in o.messageTimeToLive = 10; o.retransmissionCount = 0 }
        let now = t0.adding(seconds: 3600)
        let actions = core.apply(unanswered("e1", method: "MESSAGE", uri: Contacts.android, body: "x"), now: now)
        let send = try #require(actions.sends.first)
        #expect(send.deadline == now.adding(seconds: 10), "its TTL runs from the read time")
        let outcome = try #require(core.answer(send, at: now).outcomes.first)
        #expect(outcome.reason == "event time \(t0.rfc3339) was 3600 s behind the worker's clock, more than the push's TTL of 10 s; counted from when it was read")
        #expect(outcome.timeReplaced == .behind)
        // Within its TTL it counts from the router's time: 9.5 s late, due at once, no note.
        var onTime = try makeCore { o, _ in o.messageTimeToLive = 10; o.retransmissionCount = 0 }
        let inTime = try #require(onTime.apply(unanswered("e2", method: "MESSAGE", uri: Contacts.android, body: "x"), now: t0.adding(milliseconds: 9_500)).sends.first)
        #expect(inTime.deadline == t0.adding(seconds: 10))
        #expect(onTime.answer(inTime, at: t0.adding(seconds: 9)).outcomes.first?.reason == nil)
    }

    @Test("repeated ringing read late rings for the whole fork timeout from the read time; every outcome says so")
    func ringingReadLate() throws {
        var core = try makeCore { o, r in o.callRemotePushInterval = 10; r.callForkTimeout = 30 }
        let now = t0.adding(seconds: 600)
        let first = try #require(core.apply(unanswered("e1", uri: Contacts.iosRemote), now: now).sends.first)
        #expect(core.schedule(first.key)?.ringingUntil == now.adding(seconds: 30))
        _ = core.answer(first, at: now)
        let second = try #require(core.fireDue(now: now.adding(seconds: 10)).sends.first)
        let outcome = try #require(core.answer(second, at: now.adding(seconds: 10)).outcomes.first)
        #expect(outcome.attempt == 2)
        #expect(outcome.reason?.contains("more than the push's TTL of 30 s; counted from when it was read") == true)
        #expect(outcome.timeReplaced == .behind)
    }

    @Test("the counter counts a replaced time once per push, however many outcomes the push has")
    func countedOncePerPush() throws {
        var core = try makeCore { o, r in o.callRemotePushInterval = 10; r.callForkTimeout = 30 }
        let now = t0.adding(seconds: 600)
        var outcomes: [PushOutcome] = []
        var send = try #require(core.apply(unanswered("e1", uri: Contacts.iosRemote), now: now).sends.first)
        var at = now
        // Alerts at +0, +10, +20, then the final "Missing call" at +30.
        while true {
            outcomes += core.answer(send, at: at).outcomes
            guard let next = core.nextDeadline, let s = core.fireDue(now: next).sends.first else { break }
            (send, at) = (s, next)
        }
        #expect(outcomes.count == 4)
        #expect(outcomes.allSatisfy { $0.timeReplaced == .behind }, "every outcome says so")
        #expect(outcomes.compactMap(EngineMetrics.replacedTime) == [.behind], "counted once")
    }

    @Test("a worker taking the partition over fires at the same instants and its outcomes still say so")
    func takeoverKeepsReplacedTime() throws {
        var a = try makeCore { o, _ in o.timeout = 5 }
        let handled = a.apply(unanswered("e1", uri: Contacts.iosVoip, at: t0.adding(seconds: 3600)), now: t0)
        #expect(handled.sends.isEmpty)
        var b = try makeCore { o, _ in o.timeout = 5 }
        for state in handled.states { try b.restore(key: state.key, value: state.record.map { RecordEncoder.encode($0) }) }
        #expect(b.nextDeadline == t0.adding(seconds: 5), "5 s after the read, not after the router's time")
        let send = try #require(b.fireDue(now: t0.adding(seconds: 5)).sends.first)
        let outcome = try #require(b.answer(send, at: t0.adding(seconds: 5)).outcomes.first)
        #expect(outcome.reason?.contains("was 3600 s ahead of the worker's clock") == true)
    }
}

/// A push whose TTL passes while the worker holds it is dropped with an outcome; a delay
/// (`timeout`, a contact's `pn-timeout`) cannot keep a schedule past its TTL.
@Suite("Partition core: expiry and delays")
struct ExpiryTests {
    @Test("a pn-timeout longer than the TTL creates no schedule: a dropped outcome names the delay and the TTL")
    func pnTimeoutPastTTL() throws {
        var core = try makeCore { _, r in r.callForkTimeout = 90 }
        let actions = core.apply(unanswered("e1", uri: Contacts.iosVoip + ";pn-timeout=999999999"), now: t0)
        #expect(actions.sends.isEmpty)
        let outcome = try #require(actions.outcomes.first)
        #expect(outcome.result == .dropped)
        #expect(outcome.reason == "not scheduled: its delay (timeout/pn-timeout) of 999999999 s reaches past its TTL of 90 s, so it would expire before being sent")
        #expect(EngineMetrics.dropCause(outcome.reasonCode) == "not_scheduled")
        let record = try #require(actions.states.first?.record)
        #expect(record.phase == .done && record.event.isEmpty, "only a done marker")
        #expect(record.nextAt == t0.adding(milliseconds: EngineTiming().doneRetentionMs))
        #expect(core.count(in: .pending) == 0)
        // A delay equal to the TTL still goes out, at the last moment of its life.
        var limit = try makeCore { _, r in r.callForkTimeout = 90 }
        _ = limit.apply(unanswered("e2", uri: Contacts.iosVoip + ";pn-timeout=90"), now: t0)
        #expect(limit.fireDue(now: t0.adding(seconds: 90)).sends.count == 1)
    }

    @Test("the module timeout longer than a message's TTL drops it too")
    func moduleTimeoutPastTTL() throws {
        var core = try makeCore { o, _ in o.messageTimeToLive = 10; o.timeout = 20 }
        let actions = core.apply(unanswered("e1", method: "MESSAGE", uri: Contacts.android, body: "x"), now: t0)
        #expect(actions.outcomes.first?.result == .dropped)
        #expect(actions.outcomes.first?.reason?.contains("of 20 s reaches past its TTL of 10 s") == true)
        #expect(core.fireDue(now: t0.adding(seconds: 20)).sends.isEmpty)
    }

    @Test("ringing delayed to the end of the fork timeout is dropped at once, naming the fork timeout")
    func ringingDelayPastForkTimeout() throws {
        var core = try makeCore { o, r in o.callRemotePushInterval = 10; r.callForkTimeout = 30 }
        let actions = core.apply(unanswered("e1", uri: Contacts.iosRemote + ";pn-timeout=30"), now: t0)
        #expect(actions.outcomes.first?.result == .dropped)
        #expect(actions.outcomes.first?.reason?.contains("past the call's fork timeout of 30 s") == true)
    }

    @Test("a push whose TTL passes while held (a worker outage) is dropped when it comes due, not sent")
    func expiresWhileHeld() throws {
        var core = try makeCore { o, _ in o.messageTimeToLive = 10; o.timeout = 5 }
        _ = core.apply(unanswered("e1", method: "MESSAGE", uri: Contacts.android, body: "x"), now: t0)
        // The worker stalls until t0+11: due at t0+5, expired at t0+10.
        let late = core.fireDue(now: t0.adding(seconds: 11))
        #expect(late.sends.isEmpty)
        #expect(late.outcomes.first?.result == .dropped)
        #expect(late.outcomes.first?.reason == "expired before sending (TTL 10 s)")
        #expect(EngineMetrics.dropCause(late.outcomes.first?.reasonCode) == "expired")
    }

    @Test("a ringing branch held past its fork timeout before its first alert gets a dropped outcome, not silence")
    func ringingExpiresWhileHeld() throws {
        var core = try makeCore { o, r in o.callRemotePushInterval = 10; r.callForkTimeout = 30 }
        _ = core.apply(unanswered("e1", uri: Contacts.iosRemote + ";pn-timeout=5"), now: t0)
        let late = core.fireDue(now: t0.adding(seconds: 31))
        #expect(late.sends.isEmpty)
        #expect(late.outcomes.first?.result == .dropped)
        #expect(late.outcomes.first?.reason == "call-fork-timeout passed before the first push was sent")
        #expect(EngineMetrics.dropCause(late.outcomes.first?.reasonCode) == "expired")
        #expect(late.states.last?.record?.phase == .done)
    }
}
