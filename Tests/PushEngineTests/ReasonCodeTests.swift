import PushContract
import PushPolicy
import PushSenders
import Testing
@testable import PushEngine

/// Skip and drop metrics count the code the cores set where they decide, not the wording of the
/// outcome's `reason` (issue #19 §1: rewording a message used to move a Prometheus series).
@Suite("Outcome reason codes")
struct ReasonCodeTests {
    static func outcome(_ result: PushResult, _ text: String?, _ code: OutcomeReason.Code?) -> PushOutcome {
        PushOutcome(header: RecordHeader(id: "o", time: t0), eventId: "e", callId: "c", result: result, reason: text, reasonCode: code)
    }

    @Test("the skip class comes from the code: a reworded text, or one that reads like another class, counts under its code")
    func skipClassFromCode() {
        let cases: [(String?, OutcomeReason.Code?, String)] = [
            ("this event was seen before, reworded", .duplicate, "duplicate"),
            ("filter is false: looks like a filter skip", .noSchedule, "no_schedule"),
            ("no push destination (reads like push_params)", .needsPush, "needs_push"),
            (nil, .misrouted, "misrouted"),
            ("anything", .filter, "filter"),
            ("anything", .pushParams, "push_params"),
            ("anything", .disabled, "disabled"),
            ("filter is false: a text alone classifies nothing", nil, "other"),
        ]
        for (text, code, expected) in cases {
            #expect(EngineMetrics.skipClass(Self.outcome(.skipped, text, code).reasonCode) == expected, "\(String(describing: text))")
        }
    }

    @Test("the drop cause comes from the code, and the exported causes keep their label values")
    func dropCauseFromCode() {
        #expect(EngineMetrics.dropCause(Self.outcome(.dropped, "queue full for fcm:1", .expired).reasonCode) == "expired")
        #expect(EngineMetrics.dropCause(Self.outcome(.dropped, "no room at the destination (reworded)", .queueFull).reasonCode) == "queue_full")
        #expect(EngineMetrics.dropCause(Self.outcome(.dropped, "expired before sending", .notScheduled).reasonCode) == "not_scheduled")
        #expect(EngineMetrics.dropCause(nil) == "expired")
        #expect(EngineMetrics.dropCauses == ["expired", "not_scheduled", "queue_full"])
    }

    @Test("the codec neither writes nor reads the code: the wire record is unchanged")
    func codeIsNotOnTheWire() throws {
        var coded = Self.outcome(.skipped, "filter is false: x", .filter)
        let bytes = RecordEncoder.encode(coded)
        coded.reasonCode = nil
        #expect(bytes == RecordEncoder.encode(coded))
        let decoded = try RecordDecoder.decodePushOutcome(bytes)
        #expect(decoded.reason == "filter is false: x" && decoded.reasonCode == nil)
    }

    @Test("every skip PartitionCore decides carries the code of its decision")
    func partitionCoreSkips() throws {
        func skip(_ actions: [CoreAction]) -> OutcomeReason.Code? {
            actions.outcomes.first { $0.result == .skipped }?.reasonCode
        }
        var filtered = try makeCore { o, _ in o.filter = "from.uri.domain == 'other.org'" }
        #expect(skip(filtered.apply(unanswered("f1", uri: Contacts.iosVoip), now: t0)) == .filter)
        var core = try makeCore()
        #expect(skip(core.apply(unanswered("n1", uri: Contacts.iosVoip, toTag: "t"), now: t0)) == .needsPush)
        #expect(skip(core.apply(unanswered("p1", uri: "sip:alice@10.0.0.1"), now: t0)) == .pushParams)
        var noApple = try makeCore { o, _ in o.apple = false }
        #expect(skip(noApple.apply(unanswered("d1", uri: Contacts.iosVoip), now: t0)) == .disabled)
        #expect(skip(core.apply(response("r0", call: "none", status: 200, at: t0), now: t0)) == .noSchedule)
        #expect(skip(core.apply(ended("c0", call: "none", reason: .cancelled, at: t0), now: t0)) == .noSchedule)

        let first = unanswered("e1", uri: Contacts.iosVoip)
        #expect(core.apply(first, now: t0).sends.count == 1)
        #expect(skip(core.apply(first, now: t0)) == .duplicate, "a re-delivery")
        #expect(skip(core.apply(unanswered("e2", uri: Contacts.iosVoip), now: t0)) == .duplicate, "a second push context")
        #expect(skip(core.apply(response("r1", status: 100, at: t0), now: t0)) == .noSchedule)
        #expect(skip(core.apply(response("r2", status: 503, at: t0), now: t0)) == .noSchedule)

        let misrouted = RouterEvent.registrationUpdated(RegistrationUpdated(
            header: RecordHeader(id: "reg", time: t0), aor: "sip:alice@example.org", contact: Contacts.android,
            instanceId: nil, callId: "register-1", expires: 600, updatedAt: t0))
        #expect(skip(core.handle(misrouted, bytes: RecordEncoder.encode(misrouted), now: t0)) == .misrouted)
    }

    @Test("PartitionCore's drops carry expired or not_scheduled, whatever their text says")
    func partitionCoreDrops() throws {
        var core = try makeCore { o, _ in o.timeout = 10_000 }
        let dropped = core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0).outcomes.first { $0.result == .dropped }
        #expect(dropped?.reasonCode == .notScheduled)

        var late = try makeCore { o, _ in o.retransmissionCount = 0 }
        let actions = late.handle(unanswered("e2", uri: Contacts.android).0, bytes: unanswered("e2", uri: Contacts.android).1, now: t0)
        #expect(actions.sends.isEmpty, "due at the next fireDue")
        let expired = late.fireDue(now: t0.adding(seconds: 3 * 86_400)).outcomes.first { $0.result == .dropped }
        #expect(expired?.reasonCode == .expired)
    }

    @Test("a wake-up the senders dropped keeps the senders' code, whatever its text")
    func registrationDropCode() throws {
        var core = RegistrationCore(partition: 0, options: RegistrationCoreTests.options(), now: t0)
        _ = core.handle(RegistrationCoreTests.registration("a", updatedAt: t0, expires: 600), now: t0)
        let order = try #require(core.fireDue(now: t0.adding(seconds: 300)).sends.first)
        var full = SendOutcome(result: .dropped, reason: "no room (reworded)", provider: "fcm")
        full.reasonCode = .queueFull
        full.noCapacity = true
        let outcome = core.completed(order, outcome: full, now: t0.adding(seconds: 300)).outcomes.first
        #expect(outcome?.reason == "no room (reworded)")
        #expect(EngineMetrics.dropCause(outcome?.reasonCode) == "queue_full")
    }
}
