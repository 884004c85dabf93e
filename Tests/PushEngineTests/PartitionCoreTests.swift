import PushContract
import PushPolicy
import PushSenders
import Testing
@testable import PushEngine

@Suite("Partition core: Flexisip's schedule logic without I/O")
struct PartitionCoreTests {
    @Test("a request decided by handle serves only its own schedule: one re-created before fireDue is derived from its own event")
    func decidedRequestBelongsToItsSchedule() throws {
        var core = try makeCore()
        let first = unanswered("e1", uri: Contacts.iosVoip)
        _ = core.handle(first.0, bytes: first.1, now: t0)  // due at once: its request is kept for fireDue
        let end = ended("end", reason: .cancelled, at: t0)
        _ = core.handle(end.0, bytes: end.1, now: t0)      // never sent: finished
        let again = unanswered("e3", uri: Contacts.iosVoip + ";pn-timeout=5")
        _ = core.handle(again.0, bytes: again.1, now: t0)  // replaces the finished context, due 5 s later
        // No fireDue in between (a caller may batch): the entry kept for e1 is still there.
        let send = try #require(core.fireDue(now: t0.adding(seconds: 5)).sends.first)
        #expect(send.eventId == "e3")
        #expect(send.request.delay == 5, "e3's own request, not the one decided for e1")
    }

    @Test("iOS VoIP call, timeout 0: one VoIP push at once, then done")
    func voipCall() throws {
        var core = try makeCore()
        let actions = core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0.adding(milliseconds: 3))
        let send = try #require(actions.sends.first)
        #expect(actions.sends.count == 1)
        #expect(send.request.pushType == .voip)
        #expect(send.request.destination.token == Contacts.voipToken)
        #expect(send.attempt == 1)
        #expect(send.deadline == t0.adding(milliseconds: 3 + 30_000), "one send is bounded by the send timeout (TTL 90 s is longer)")
        #expect(actions.states.first?.record?.phase == .pending)
        let after = core.answer(send, at: t0.adding(milliseconds: 40))
        #expect(after.outcomes.first?.result == .sent)
        #expect(after.outcomes.first?.latencyMs == 40)
        #expect(after.outcomes.first?.pushType == .voip)
        #expect(after.states.last?.record?.phase == .done)
        #expect(after.states.last?.record?.event.isEmpty == true, "done markers drop the event bytes")
        // The done marker is purged (tombstoned) after the retention.
        let purge = core.fireDue(now: t0.adding(milliseconds: 40 + 60_000))
        #expect(purge.states.count == 1 && purge.states[0].record == nil)
        #expect(core.pendingCount == 0)
    }

    @Test("pn-timeout delays the first push from the event time, not from when it was read")
    func delayFromEventTime() throws {
        var core = try makeCore { o, _ in o.timeout = 5 }
        let read = t0.adding(seconds: 2)
        #expect(core.apply(unanswered("e1", uri: Contacts.android), now: read).sends.isEmpty)
        #expect(core.nextDeadline == t0.adding(seconds: 5))
        #expect(core.fireDue(now: t0.adding(milliseconds: 4999)).sends.isEmpty)
        let due = core.fireDue(now: t0.adding(seconds: 5))
        #expect(due.sends.first?.request.pushType == .background, "Android calls get a background push")
    }

    @Test("remote-only iOS call rings every interval, then answered elsewhere → final 'Accepted elsewhere'")
    func ringingThenAnsweredElsewhere() throws {
        var core = try makeCore { o, r in o.callRemotePushInterval = 5; r.callForkTimeout = 60 }
        var send = try #require(core.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0).sends.first)
        #expect(send.request.pushType == .ringing)
        #expect(send.request.collapseId == "call-1")
        var sentAt: [EventTime] = [t0]
        for tick in 1...3 {
            _ = core.answer(send, at: sentAt.last!.adding(milliseconds: 30))
            #expect(core.nextDeadline == t0.adding(seconds: 5 * tick))
            send = try #require(core.fireDue(now: t0.adding(seconds: 5 * tick)).sends.first)
            #expect(send.attempt == tick + 1)
            sentAt.append(t0.adding(seconds: 5 * tick))
        }
        _ = core.answer(send, at: t0.adding(seconds: 15).adding(milliseconds: 30))
        let end = core.apply(ended("e9", reason: .answeredElsewhere, at: t0.adding(seconds: 17)), now: t0.adding(seconds: 17))
        let final = try #require(end.sends.first)
        #expect(final.request.pushType == .final)
        #expect(final.request.payload.locKey == "Accepted elsewhere")
        let done = core.answer(final, at: t0.adding(seconds: 17))
        #expect(done.outcomes.first?.pushType == .final)
        #expect(done.states.last?.record?.phase == .done)
        #expect(core.fireDue(now: t0.adding(seconds: 30)).sends.isEmpty, "no ringing after the call ended")
    }

    @Test("a call that ends while its first ringing alert is in flight gets its final push once that alert is answered")
    func endedWhileFirstAlertInFlight() throws {
        // pushfleet-chaos seed 16: the alert, retried through RST_STREAMs, reached the phone after
        // call.ended, and with no final push the phone kept showing the call.
        var core = try makeCore { o, r in o.callRemotePushInterval = 5; r.callForkTimeout = 60 }
        let alert = try #require(core.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0).sends.first)
        let end = core.apply(ended("e2", reason: .declinedElsewhere, at: t0.adding(seconds: 1)), now: t0.adding(seconds: 1))
        #expect(end.sends.isEmpty, "the final push waits for the alert in flight")
        #expect(end.states.last?.record?.phase == .final, "a new owner restoring now sends the final push too")
        _ = core.answer(alert, at: t0.adding(seconds: 6))
        let final = try #require(core.fireDue(now: t0.adding(seconds: 6)).sends.first)
        #expect(final.request.pushType == .final && final.request.payload.locKey == "Declined elsewhere")
        let done = core.answer(final, at: t0.adding(seconds: 6))
        #expect(done.states.last?.record?.phase == .done)
        #expect(core.fireDue(now: t0.adding(seconds: 30)).sends.isEmpty, "no ringing after the final push")
    }

    @Test("a ringing schedule restored due but unrecorded counts as rung when the call ends: its former owner may have sent the alert")
    func restoredDueCountsAsRung() throws {
        // pushfleet-chaos seed 16: a worker frozen mid-send delivered the first alert when it woke;
        // its successor had restored the schedule at attempt 0 and sent no final push.
        var first = try makeCore { o, r in o.callRemotePushInterval = 5; r.callForkTimeout = 60 }
        let record = try #require(first.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0).states.first?.record)
        #expect(record.attempt == 0 && record.nextAt == t0)
        let value = RecordEncoder.encode(record)

        var due = try makeCore { o, r in o.callRemotePushInterval = 5; r.callForkTimeout = 60 }
        #expect(due.restore(latest: [record.key: value], now: t0.adding(seconds: 2)).isEmpty)
        let end = due.apply(ended("e2", reason: .cancelled, at: t0.adding(seconds: 3)), now: t0.adding(seconds: 3))
        let final = try #require(end.sends.first, "\(end)")
        #expect(final.request.pushType == .final && final.request.payload.locKey == "Missing call")

        // Restored before its first alert was due: nobody can have sent it, no final push.
        var early = try makeCore { o, r in o.callRemotePushInterval = 5; r.callForkTimeout = 60 }
        #expect(early.restore(latest: [record.key: value], now: t0.adding(milliseconds: -500)).isEmpty)
        let quiet = early.handle(ended("e2", reason: .cancelled, at: t0.adding(milliseconds: -400)).0,
                                 bytes: ended("e2", reason: .cancelled, at: t0.adding(milliseconds: -400)).1, now: t0.adding(milliseconds: -400))
        #expect(quiet.sends.isEmpty)
        #expect(quiet.states.last?.record?.phase == .done)
    }

    @Test("a response or call end read after the branch's pushes ended still leaves a trace (contract §2.6)")
    func lateAnswersAreTraced() throws {
        var core = try makeCore { o, _ in o.retransmissionCount = 0 }
        let send = try #require(core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0).sends.first)
        #expect(core.answer(send, at: t0).states.last?.record?.phase == .done)
        // The device answers, then the call ends, both after the only push: before, neither
        // wrote anything (the done marker matched, then was skipped).
        let answered = core.apply(response("r1", status: 200, at: t0.adding(seconds: 3)), now: t0.adding(seconds: 3))
        #expect(answered.outcomes.map(\.eventId) == ["r1"] && answered.outcomes.first?.result == .skipped)
        let end = core.apply(ended("e9", reason: .answered, at: t0.adding(seconds: 4)), now: t0.adding(seconds: 4))
        #expect(end.outcomes.map(\.eventId) == ["e9"] && end.outcomes.first?.result == .skipped)
        #expect(end.sends.isEmpty && end.states.isEmpty)
        // Counted as what they are in pushfleet_skips_total, not as needs_push.
        #expect(EngineMetrics.skipClass(answered.outcomes.first?.reasonCode) == "no_schedule")
        #expect(EngineMetrics.skipClass(end.outcomes.first?.reasonCode) == "no_schedule")
    }

    @Test("final push strings per end reason", arguments: [
        (CallEndReason.declinedElsewhere, "Declined elsewhere"), (.cancelled, "Missing call"), (.timeout, "Missing call"),
    ])
    func finalStrings(reason: CallEndReason, locKey: String) throws {
        var core = try makeCore { o, _ in o.callRemotePushInterval = 5 }
        let send = try #require(core.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0).sends.first)
        _ = core.answer(send, at: t0)
        let final = try #require(core.apply(ended("e2", reason: reason, at: t0.adding(seconds: 1)), now: t0.adding(seconds: 1)).sends.first)
        #expect(final.request.payload.locKey == locKey)
    }

    @Test("ringing stops at call-fork-timeout with a 'Missing call' push, not at a hard-coded 45 s")
    func ringingUntilForkTimeout() throws {
        var core = try makeCore { o, r in o.callRemotePushInterval = 10; r.callForkTimeout = 120 }
        var send = try #require(core.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0).sends.first)
        var pushes = 1
        var now = t0
        while true {
            _ = core.answer(send, at: now)
            guard let next = core.nextDeadline else { break }
            now = next
            guard let s = core.fireDue(now: now).sends.first else { continue }
            send = s
            if s.request.pushType == .final { break }
            pushes += 1
        }
        #expect(pushes == 12, "t0, t0+10 … t0+110 (Flexisip would stop at 45 s)")
        #expect(send.request.pushType == .final && send.request.payload.locKey == "Missing call")
        #expect(now == t0.adding(seconds: 120))
    }

    @Test("a stall collapses missed ringing ticks into one push (no catch-up burst)")
    func missedTicksCollapse() throws {
        var core = try makeCore { o, r in o.callRemotePushInterval = 5; r.callForkTimeout = 90 }
        let first = try #require(core.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0).sends.first)
        _ = core.answer(first, at: t0)
        // The worker stalls until t0+23: the ticks at 5, 10, 15, 20 were missed.
        let late = core.fireDue(now: t0.adding(seconds: 23))
        #expect(late.sends.count == 1)
        _ = core.answer(try #require(late.sends.first), at: t0.adding(seconds: 23))
        #expect(core.nextDeadline == t0.adding(seconds: 25), "the next tick on the original grid after now")
    }

    @Test("message with retransmissions; a 180 from the device stops them (unlike Flexisip)")
    func retransmissionsStoppedBy180() throws {
        var core = try makeCore { o, _ in o.retransmissionCount = 3; o.retransmissionInterval = 5 }
        let send = try #require(core.apply(unanswered("e1", method: "MESSAGE", uri: Contacts.android, body: "hi"), now: t0).sends.first)
        #expect(send.request.pushType == .background)
        _ = core.answer(send, at: t0)
        let retry = try #require(core.fireDue(now: t0.adding(seconds: 5)).sends.first)
        #expect(retry.attempt == 2)
        _ = core.answer(retry, at: t0.adding(seconds: 5))
        let stop = core.apply(response("r1", status: 180, at: t0.adding(seconds: 6)), now: t0.adding(seconds: 6))
        #expect(stop.states.first?.record?.phase == .awake)
        #expect(core.fireDue(now: t0.adding(seconds: 30)).sends.isEmpty)
    }

    @Test("all retransmissions are sent when the device stays silent")
    func retransmissionsSent() throws {
        var core = try makeCore { o, _ in o.retransmissionCount = 2; o.retransmissionInterval = 3 }
        var send = try #require(core.apply(unanswered("e1", method: "MESSAGE", uri: Contacts.iosRemote, body: "hi"), now: t0).sends.first)
        var attempts = [send.attempt]
        var now = t0
        while true {
            let after = core.answer(send, at: now)
            if after.states.last?.record?.phase == .done { break }
            now = core.nextDeadline!
            send = try #require(core.fireDue(now: now).sends.first)
            attempts.append(send.attempt)
        }
        #expect(attempts == [1, 2, 3])
        #expect(now == t0.adding(seconds: 6))
    }

    @Test("a push whose TTL passes while the worker holds it is dropped, not sent")
    func ttlExpiry() throws {
        // IM TTL 10 s, a 5 s delay, and the worker stalls past the TTL: expired when due.
        var core = try makeCore { o, _ in o.messageTimeToLive = 10; o.timeout = 5; o.retransmissionCount = 0 }
        _ = core.apply(unanswered("e1", method: "MESSAGE", uri: Contacts.android, body: "x"), now: t0)
        let due = core.fireDue(now: t0.adding(seconds: 11))
        #expect(due.sends.isEmpty)
        #expect(due.outcomes.first?.result == .dropped)
        #expect(due.outcomes.first?.reason?.contains("expired") == true)
        // An event *read* after its TTL passed counts from its read time (CONTRACT §2 `time`):
        // see EventTimeTests.
    }

    @Test("one context per call and device; a re-delivered event has no second effect")
    func deduplication() throws {
        var core = try makeCore()
        let first = core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0)
        #expect(first.sends.count == 1)
        let again = core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0)
        #expect(again.sends.isEmpty && again.states.isEmpty)
        #expect(again.outcomes.first?.reason?.contains("already processed") == true)
        let other = core.apply(unanswered("e2", branch: "b2", uri: Contacts.iosVoip), now: t0)
        #expect(other.sends.isEmpty)
        #expect(other.outcomes.first?.reason?.contains("already scheduled") == true)
        let android = core.apply(unanswered("e3", branch: "b3", uri: Contacts.android), now: t0)
        #expect(android.sends.count == 1, "another device (provider) of the same call does get a push")
        // Even after the push completed, a re-delivery of e1 is recognised (done marker).
        _ = core.answer(first.sends[0], at: t0)
        #expect(core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0.adding(seconds: 1)).sends.isEmpty)
    }

    @Test("filter and needsPush give skipped outcomes with the reason")
    func skips() throws {
        var core = try makeCore { o, _ in o.filter = "from.uri.domain == 'example.org'" }
        let toTag = core.apply(unanswered("e1", uri: Contacts.iosVoip, toTag: "abc"), now: t0)
        #expect(toTag.outcomes.first?.result == .skipped)
        #expect(toTag.outcomes.first?.reason?.contains("To has a tag") == true)
        var filtered = try makeCore { o, _ in o.filter = "from.uri.domain == 'other.org'" }
        let f = filtered.apply(unanswered("e2", uri: Contacts.iosVoip), now: t0)
        #expect(f.sends.isEmpty)
        #expect(f.outcomes.first?.reason == "filter is false: from.uri.domain == 'other.org'")
        // enabled=false is Flexisip's switch for its in-proxy module, not the workers' (contract 1.1 §3).
        var disabled = try makeCore { o, _ in o.enabled = false }
        #expect(disabled.apply(unanswered("e3", uri: Contacts.iosVoip), now: t0).sends.first?.request.pushType == .voip)
    }

    @Test("invalid token ends the schedule without retransmissions")
    func invalidToken() throws {
        var core = try makeCore { o, _ in o.retransmissionCount = 5 }
        let send = try #require(core.apply(unanswered("e1", method: "MESSAGE", uri: Contacts.android, body: "x"), now: t0).sends.first)
        let after = core.answer(send, .invalidToken, at: t0, status: 404)
        #expect(after.outcomes.first?.result == .invalidToken)
        #expect(after.states.last?.record?.phase == .done)
        #expect(core.fireDue(now: t0.adding(seconds: 100)).sends.isEmpty)
    }

    @Test("a final answer ends the branch; after it a new fork to the device gets a push again")
    func finalResponses() throws {
        var core = try makeCore { o, _ in o.timeout = 10 }
        _ = core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0)
        let r = core.apply(response("r1", status: 480, at: t0.adding(seconds: 1)), now: t0.adding(seconds: 1))
        #expect(r.states.first?.record?.phase == .done)
        #expect(core.fireDue(now: t0.adding(seconds: 10)).sends.isEmpty)
        let again = core.apply(unanswered("e2", uri: Contacts.iosVoip, at: t0.adding(seconds: 2)), now: t0.adding(seconds: 2))
        #expect(again.states.first?.record?.phase == .pending)
        #expect(core.fireDue(now: t0.adding(seconds: 12)).sends.count == 1)
    }

    @Test("a 503 leaves the branch's pending push, retransmissions and ringing repetitions alone (contract 1.1 §2.2)")
    func serviceUnavailableDoesNotCancel() throws {
        // Pending: the delayed first push is still sent.
        var pending = try makeCore { o, _ in o.timeout = 10 }
        _ = pending.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0)
        let r = pending.apply(response("r1", status: 503, at: t0.adding(seconds: 1)), now: t0.adding(seconds: 1))
        #expect(r.states.isEmpty, "no state change")
        #expect(r.outcomes.first?.result == .skipped && r.outcomes.first?.reason?.contains("503") == true, "a trace, not silence")
        #expect(pending.fireDue(now: t0.adding(seconds: 10)).sends.count == 1)
        // Retransmissions continue.
        var message = try makeCore { o, _ in o.retransmissionCount = 2; o.retransmissionInterval = 5 }
        let first = try #require(message.apply(unanswered("m1", method: "MESSAGE", uri: Contacts.android, body: "hi"), now: t0).sends.first)
        _ = message.answer(first, at: t0)
        _ = message.apply(response("r2", status: 503, at: t0.adding(seconds: 1)), now: t0.adding(seconds: 1))
        #expect(message.fireDue(now: t0.adding(seconds: 5)).sends.first?.attempt == 2)
        // Ringing repetitions continue, and the call's end still gets its final push.
        var ringing = try makeCore { o, r in o.callRemotePushInterval = 5; r.callForkTimeout = 60 }
        let ring = try #require(ringing.apply(unanswered("c1", uri: Contacts.iosRemote), now: t0).sends.first)
        _ = ringing.answer(ring, at: t0)
        _ = ringing.apply(response("r3", status: 503, at: t0.adding(seconds: 2)), now: t0.adding(seconds: 2))
        let again = try #require(ringing.fireDue(now: t0.adding(seconds: 5)).sends.first)
        #expect(again.request.pushType == .ringing && again.attempt == 2)
        _ = ringing.answer(again, at: t0.adding(seconds: 5))
        let end = ringing.apply(ended("c9", reason: .cancelled, at: t0.adding(seconds: 6)), now: t0.adding(seconds: 6))
        #expect(end.sends.first?.request.pushType == .final)
    }

    @Test("every outcome that concerns a device names it: pn triple as the contact carried it, AOR, instance (contract 1.1 §2.5)")
    func outcomesNameTheDevice() throws {
        let device = PushDevice(provider: "apns", param: "ABCD1234.org.linphone.phone.voip", prid: Contacts.voipToken + ":voip",
                                aor: "sip:alice@example.org", instanceId: "<urn:uuid:1>")
        var core = try makeCore { o, _ in o.filter = "request.method != 'MESSAGE'" }
        let event = RouterEvent.branchUnanswered(BranchUnanswered(
            header: RecordHeader(id: "e1", time: t0), callId: "call-1", branch: "b1", method: "INVITE", requestUri: Contacts.iosVoip,
            from: SIPAddress(uri: "sip:bob@example.org"), to: SIPAddress(uri: "sip:alice@example.org"), instanceId: "\"<urn:uuid:1>\""))
        let send = try #require(core.apply((event, RecordEncoder.encode(event)), now: t0).sends.first)
        // A dedup skip knows the device; a filter skip was decided before any device was known.
        let again = core.apply(unanswered("e2", uri: Contacts.iosVoip), now: t0)
        #expect(again.outcomes.first?.result == .skipped)
        #expect(again.outcomes.first?.device?.prid == Contacts.voipToken + ":voip")
        #expect(core.answer(send, .invalidToken, at: t0, status: 410).outcomes.first?.device == device, "the binding to drop")
        #expect(core.apply(unanswered("m1", call: "call-2", method: "MESSAGE", uri: Contacts.android), now: t0).outcomes.first?.device == nil)
        // Dropped (delayed past its TTL of 604800 s): named too; legacy parameters are mapped.
        var late = try makeCore()
        let legacy = "sip:alice@10.0.0.1;pn-type=apple;app-id=org.linphone.phone.prod;pn-tok=\(Contacts.remoteToken);pn-timeout=700000"
        let dropped = late.apply(unanswered("e3", method: "MESSAGE", uri: legacy, body: "hi"), now: t0)
        #expect(dropped.outcomes.first?.result == .dropped)
        #expect(dropped.outcomes.first?.device == PushDevice(provider: "apns", param: "ABCD1234.org.linphone.phone",
                                                            prid: Contacts.remoteToken, aor: "sip:alice@example.org"))
    }

    @Test("responses and ends for unknown calls leave a trace (skipped outcome)")
    func unknowns() throws {
        var core = try makeCore()
        #expect(core.apply(response("r1", call: "nope", status: 200, at: t0), now: t0).outcomes.first?.result == .skipped)
        #expect(core.apply(ended("c1", call: "nope", reason: .cancelled, at: t0), now: t0).outcomes.first?.result == .skipped)
    }

    @Test("state written by one core restores in another, which fires at the same absolute instants")
    func restoreTakeover() throws {
        var a = try makeCore { o, r in o.callRemotePushInterval = 7; r.callForkTimeout = 90 }
        let send = try #require(a.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0).sends.first)
        var log: [(String, [UInt8]?)] = []
        for state in a.answer(send, at: t0.adding(milliseconds: 50)).states {
            log.append((state.key, state.record.map { RecordEncoder.encode($0) }))
        }
        var b = try makeCore { o, r in o.callRemotePushInterval = 7; r.callForkTimeout = 90 }
        for (key, value) in log { try b.restore(key: key, value: value) }
        #expect(b.nextDeadline == t0.adding(seconds: 7))
        let next = try #require(b.fireDue(now: t0.adding(seconds: 7)).sends.first)
        #expect(next.attempt == 2)
        #expect(next.request == send.request)
        // A tombstone deletes.
        try b.restore(key: send.key, value: nil)
        #expect(b.pendingCount == 0)
    }

    @Test("a push that found its destination full is held and tried again, not dropped; the core says it is congested meanwhile")
    func heldForCapacity() throws {
        var core = try makeCore()
        let send = try #require(core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0).sends.first)
        var full = SendOutcome(result: .dropped, reason: "queue full for apns:x", provider: send.request.destination.provider.rawValue)
        full.noCapacity = true
        let held = core.completed(send, outcome: full, now: t0.adding(milliseconds: 10))
        #expect(held.isEmpty, "no outcome and no state write for a push not attempted")
        #expect(core.isCongested)
        #expect(core.nextDeadline == t0.adding(milliseconds: 10 + PartitionCore.capacityRetryMs))
        let again = try #require(core.fireDue(now: t0.adding(milliseconds: 260)).sends.first)
        #expect(again.attempt == send.attempt && again.request == send.request)
        #expect(core.isCongested, "still held until it gets through")
        let sent = core.answer(again, at: t0.adding(milliseconds: 300))
        #expect(sent.outcomes.map(\.result) == [.sent])
        #expect(!core.isCongested)
    }

    @Test("the outcome of an attempt says how many HTTP requests it made (an ambiguous retry may have delivered twice)")
    func outcomeCarriesRequests() throws {
        var core = try makeCore()
        let send = try #require(core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0).sends.first)
        let actions = core.completed(send, outcome: SendOutcome(result: .sent, status: 200, attempts: 2, requests: 2,
                                                                provider: send.request.destination.provider.rawValue), now: t0)
        #expect(actions.outcomes.first?.requests == 2)
    }

    @Test("a held push whose TTL passes is dropped as expired, and no longer holds the partition")
    func heldUntilExpiry() throws {
        var core = try makeCore { o, _ in o.timeout = 0 }
        let send = try #require(core.apply(unanswered("e1", uri: Contacts.iosVoip), now: t0).sends.first)
        var full = SendOutcome(result: .dropped, provider: send.request.destination.provider.rawValue)
        full.noCapacity = true
        _ = core.completed(send, outcome: full, now: t0)
        let late = t0.adding(seconds: 3_600)
        let expired = core.fireDue(now: late)
        #expect(expired.outcomes.map(\.result) == [.dropped])
        #expect(expired.sends.isEmpty && !core.isCongested)
    }

    @Test("a ringing schedule restored under call-remote-push-interval 0 waits for the call's end instead of trapping, then ends")
    func restoredRingingWithIntervalZero() throws {
        var a = try makeCore { o, r in o.callRemotePushInterval = 7; r.callForkTimeout = 90 }
        let send = try #require(a.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0).sends.first)
        var b = try makeCore { o, r in o.callRemotePushInterval = 0; r.callForkTimeout = 90 }
        for state in a.answer(send, at: t0.adding(milliseconds: 50)).states {
            try b.restore(key: state.key, value: state.record.map { RecordEncoder.encode($0) })
        }
        // The tick at t0+7 is sent late (t0+8) and answered: the interval under b's policy is 0.
        let late = try #require(b.fireDue(now: t0.adding(seconds: 8)).sends.first)
        let after = b.answer(late, at: t0.adding(seconds: 8))
        #expect(after.states.first?.record?.phase == .pending)
        #expect(b.nextDeadline == t0.adding(seconds: 90), "no more ticks: the next step is the call's fork timeout")
        // Under b's policy the push is a single alert, which gets no final push (as Flexisip).
        let end = b.fireDue(now: t0.adding(seconds: 90))
        #expect(end.sends.isEmpty)
        #expect(end.states.first?.record?.phase == .done)
    }
}

@Suite("Partition core: TTL 0")
struct TTLZeroTests {
    @Test("a single remote alert (no repetition, TTL 0) lives for the call's fork timeout")
    func singleRemoteAlert() throws {
        var core = try makeCore { o, r in o.callRemotePushInterval = 0; r.callForkTimeout = 30 }
        let actions = core.apply(unanswered("e1", uri: Contacts.iosRemote), now: t0.adding(seconds: 2))
        #expect(actions.sends.first?.request.pushType == .ringing)
        #expect(actions.sends.first?.request.ttl == 0)
        #expect(actions.sends.first?.deadline == t0.adding(seconds: 30), "its deadline is the fork timeout")
        // Read later than the fork timeout: counted from its read time (CONTRACT §2 `time`), so
        // still sent, with the fork timeout as its TTL.
        var late = try makeCore { o, r in o.callRemotePushInterval = 0; r.callForkTimeout = 30 }
        let read = t0.adding(seconds: 31)
        let send = try #require(late.apply(unanswered("e2", uri: Contacts.iosRemote), now: read).sends.first)
        #expect(send.deadline == read.adding(seconds: 30))
        #expect(late.answer(send, at: read).outcomes.first?.reason?.contains("more than the push's TTL of 30 s") == true)
    }

    @Test("a single remote alert expires at the event's forkTimeout when it has one, not at call-fork-timeout")
    func singleRemoteAlertEventForkTimeout() throws {
        func core() throws -> PartitionCore { try makeCore { o, r in o.callRemotePushInterval = 0; r.callForkTimeout = 30 } }
        // The router said this call rings 10 s: the alert is worth sending until t0+10, not t0+30.
        var short = try core()
        let shortSend = try #require(short.apply(unanswered("e1", uri: Contacts.iosRemote, forkTimeout: 10), now: t0.adding(seconds: 9)).sends.first)
        #expect(shortSend.deadline == t0.adding(seconds: 10))
        // Delayed past those 10 s (pn-timeout=12), it can never be sent: not scheduled.
        var delayed = try core()
        let never = delayed.apply(unanswered("e2", uri: Contacts.iosRemote + ";pn-timeout=12", forkTimeout: 10), now: t0)
        #expect(never.sends.isEmpty && never.outcomes.first?.result == .dropped)
        // It said 120 s: read at t0+31 (past call-fork-timeout), the call still rings.
        var long = try core()
        let longLate = long.apply(unanswered("e3", uri: Contacts.iosRemote, forkTimeout: 120), now: t0.adding(seconds: 31))
        #expect(longLate.sends.first?.request.pushType == .ringing)
    }
}
