public import PushContract
public import PushPolicy
public import PushSenders

/// Timing knobs of the engine that are not Flexisip options.
public struct EngineTiming: Sendable, Hashable {
    /// How long a finished schedule is kept (as a `done` marker, in memory and in the state
    /// topic) so that re-deliveries of its events after a failover have no second effect.
    public var doneRetentionMs: Int64 = 60_000
    /// Upper bound of one send, retries included (a message's TTL can be days; later attempts
    /// are the retransmissions' job, not one request's).
    public var sendTimeoutMs: Int64 = 30_000
    /// CONTRACT §2 `time` (1.1): a router time far from `now` is replaced by `now`
    /// (`EventTimeRule`). `pushfleet replay` turns it off: it re-runs a past range on purpose, and
    /// there the router's times are what tells a still useful push from a call long over.
    public var boundEventTimes = true

    public init() {}
}

/// One push to perform, handed by the core to the shell.
public struct SendOrder: Sendable, Hashable {
    public var key: String
    /// 1-based attempt number of this push.
    public var attempt: Int
    public var request: PushRequest
    public var deadline: EventTime
    /// When the schedule wanted this push (for collapsing missed ticks).
    public var dueAt: EventTime
    public var eventId: String
    public var callId: String
    public var branch: String
    public var eventTime: EventTime
    public var requestIndex: Int
    /// Appended to the reason of this push's outcome: why its time counts from when the event
    /// was read (`EventTimeRule.note`), nil when it counts from the router's time.
    public var timeNote: EventTimeNote? = nil
}

/// What the shell must do after a core step, in order.
public enum CoreAction: Sendable, Hashable {
    /// Produce the schedule (nil = tombstone) to the state partition of this partition.
    case state(key: String, ScheduleRecord?)
    case outcome(PushOutcome)
    case deadLetter(DeadLetter)
    case send(SendOrder)
}

/// The functional core of one events partition: Flexisip's schedule logic with no I/O.
///
/// `handle`, `fireDue` and `completed` take the current time and return the actions to perform
/// (state writes, outcomes, sends); the shell (`PartitionLane`) performs them. Timers are
/// absolute wall-clock deadlines kept in a min-heap (O(log n) insert and pop), so a worker that
/// restores this partition fires them at the same instants.
///
/// Unlike Flexisip there is no hard-coded lifetime (30 s contexts, 45 s ringing): schedules
/// live as long as their TTL / call-fork-timeout says; and a late timer collapses the ticks it
/// missed into one push instead of a burst.
public struct PartitionCore: Sendable {
    public let partition: Int32
    let policy: BranchPolicy
    let timing: EngineTiming

    /// Schedules by state key (`callId:provider:param:prid`), by call, and their timers.
    private var table = ScheduleTable()
    /// Keys with a send under way: their timers wait for the outcome.
    private var inFlight: Set<String> = []
    /// Ringing schedules restored before their first alert was recorded although it was due:
    /// the former owner may have sent it and lost the partition before writing so (a send in
    /// flight when it froze). They count as rung when the call ends, so the device that may
    /// have rung is told (chaos seed 16: a worker frozen mid-send delivered the alert on waking,
    /// and its successor, which knew of no alert, sent no final push). A "Missing call" for a
    /// call that was indeed missed is the cheaper mistake.
    private var inheritedDue: Set<String> = []
    /// Schedules whose last send found its destination full (`SendOutcome.noCapacity`): held
    /// for another try instead of dropped. While any is held, the lane pauses its partition.
    private var heldForCapacity: Set<String> = []
    /// Requests decided by `handle` for schedules whose first push is already due, for the
    /// `fireDue` of the same step: it would otherwise decode the event and run the policy a
    /// second time, which was an eighth of a worker's CPU per push with `timeout=0`. Emptied by
    /// every `fireDue`, so it never outlives a step (memory stays per schedule, not per request).
    private var decidedNow: [String: (eventId: String, derived: Derived)] = [:]

    /// A push request re-derived from a stored event, with the router's time of that event.
    private struct Derived {
        var request: PushRequest
        var routerTime: EventTime
    }

    public init(partition: Int32, policy: BranchPolicy, timing: EngineTiming = EngineTiming()) {
        self.partition = partition
        self.policy = policy
        self.timing = timing
    }

    // MARK: - Queries

    /// The earliest instant at which `fireDue` has something to do.
    public var nextDeadline: EventTime? {
        // Stale heap entries (rescheduled or removed keys) are skipped lazily by `fireDue`.
        table.nextDeadline
    }

    public var pendingCount: Int { table.count }
    public var inFlightCount: Int { inFlight.count }
    /// Pushes waiting for room at their destination: the partition should stop reading input.
    public var isCongested: Bool { !heldForCapacity.isEmpty }

    /// How long a push that found its destination full waits before trying again.
    static let capacityRetryMs: Int64 = 250

    public func schedules(ofCall callId: String) -> [ScheduleRecord] {
        table.keys(ofCall: callId).compactMap { table[$0] }
    }

    /// The schedule held for a state key.
    public func schedule(_ key: String) -> ScheduleRecord? { table[key] }

    /// How many schedules are in `phase`.
    public func count(in phase: ScheduleRecord.Phase) -> Int { table.count(in: phase) }

    // MARK: - Restore

    /// Applies one record of the state partition (latest value per key wins; nil deletes).
    /// Register wake-up markers share the state topic and are left to `RegistrationCore`.
    public mutating func restore(key: String, value: [UInt8]?, now: EventTime? = nil) throws(ContractError) {
        guard let value else {
            remove(key)
            return
        }
        let record = try RecordDecoder.decodeSchedule(value)
        guard record.key == key else {
            throw ContractError(field: "key", problem: "state record key \(record.key) does not match the Kafka key \(key)")
        }
        // Decided by the record, not by its key's `wakeup|` prefix: a Call-ID may start with
        // that too (the router does not forbid it), and its schedules were skipped, so lost on
        // failover.
        guard record.pushType != .wakeup else { return }
        put(record)
        if let now, record.phase == .pending, record.attempt == 0, record.ringingUntil != nil, let next = record.nextAt, next <= now {
            inheritedDue.insert(key)
        } else {
            inheritedDue.remove(key)
        }
    }

    /// Applies the latest value of every key of the state partition; returns the records that
    /// could not be used, by key, for the shell to log and count.
    public mutating func restore(latest: [String: [UInt8]], now: EventTime? = nil) -> [String: ContractError] {
        var unusable: [String: ContractError] = [:]
        for (key, value) in latest {
            do throws(ContractError) {
                try restore(key: key, value: value, now: now)
            } catch {
                unusable[key] = error
            }
        }
        return unusable
    }

    // MARK: - Events

    /// Applies one router event read from this partition. `bytes` is the record value as read
    /// (kept in new schedules so that any worker can re-derive the push request).
    public mutating func handle(_ event: RouterEvent, bytes: [UInt8], now: EventTime) -> [CoreAction] {
        switch event {
        case .branchUnanswered(let e): return branchUnanswered(e, bytes: bytes, now: now)
        case .branchResponse(let r): return branchResponse(r, now: now)
        case .callEnded(let c): return callEnded(c, now: now)
        case .registrationUpdated(let r):
            return [.outcome(PushOutcome(
                header: outcomeHeader(eventId: r.header.id, suffix: "skip", now: now), eventId: r.header.id,
                registration: "\(r.aor)|\(r.instanceId ?? r.contact)", result: .skipped,
                reason: "registration.updated belongs on the registrations topic, not the events topic", reasonCode: .misrouted))]
        }
    }

    private mutating func branchUnanswered(_ e: BranchUnanswered, bytes: [UInt8], now: EventTime) -> [CoreAction] {
        let requests: [PushRequest]
        switch policy.decide(e) {
        case .skipped(let reason):
            return [.outcome(skipped(e, reason: reason, now: now))]
        case .push(let r):
            requests = r
        }
        var actions: [CoreAction] = []
        for (index, request) in requests.enumerated() {
            let key = request.dedupKey
            // One push context per call and device, as Flexisip. A finished context is replaced
            // by a new event (the router forked to the device again after a final answer), but
            // never by a re-delivery of the event that created it.
            if let existing = table[key], existing.header.id == e.header.id || existing.phase != .done {
                let reason = OutcomeReason(.duplicate, existing.header.id == e.header.id
                    ? "event already processed (re-delivery has no second effect)"
                    : "a push for this call and device is already scheduled (event \(existing.header.id))")
                actions.append(.outcome(skipped(e, reason: reason, provider: request.destination.provider, pushType: request.pushType, now: now)))
                continue
            }
            let ringing = request.pushType == .ringing && request.ringingInterval > 0
            let forkTimeout = max(0, e.forkTimeout ?? policy.router.callForkTimeout)
            let lifetime = lifetime(of: request, ringing: ringing, forkTimeout: forkTimeout)
            let start = timing.boundEventTimes
                ? EventTimeRule.counted(from: e.header.time, lifetimeSeconds: lifetime, now: now) : e.header.time
            let first = start.adding(seconds: request.delay)
            var record = ScheduleRecord(
                header: RecordHeader(id: e.header.id, time: now), key: key, callId: e.callId, branch: e.branch,
                eventTime: start, requestIndex: index, provider: request.destination.provider.rawValue,
                pushType: request.pushType, phase: .pending, attempt: 0, nextAt: first,
                retransmissionsLeft: ringing ? 0 : max(0, policy.options.retransmissionCount),
                ringingUntil: ringing ? start.adding(seconds: forkTimeout) : nil,
                finalReason: nil, event: bytes)
            let derived = Derived(request: request, routerTime: e.header.time)
            if let reason = unschedulable(record, derived, first: first, now: now) {
                // Never sendable: no schedule is kept (a SIP user's `pn-timeout` must not park
                // records for longer than the push could live), only the `done` marker that
                // makes a re-delivery of this event a no-op.
                actions.append(.outcome(outcome(record, request: request, attempt: 1, result: .dropped,
                                                reason: reason, now: now)))
                record.phase = .done
                record.nextAt = now.adding(milliseconds: timing.doneRetentionMs)
                record.event = []
            }
            put(record)
            if record.phase == .pending && first <= now { decidedNow[key] = (e.header.id, derived) }
            actions.append(.state(key: key, record))
        }
        return actions
    }

    private mutating func branchResponse(_ r: BranchResponse, now: EventTime) -> [CoreAction] {
        let keys = table.keys(ofCall: r.callId).filter { table[$0]?.branch == r.branch }
        guard !keys.isEmpty else {
            return [.outcome(PushOutcome(
                header: outcomeHeader(eventId: r.header.id, suffix: "skip", now: now), eventId: r.header.id,
                callId: r.callId, branch: r.branch, result: .skipped, reason: "no push schedule for this branch", reasonCode: .noSchedule))]
        }
        guard r.status >= 180 else {
            return [.outcome(PushOutcome(
                header: outcomeHeader(eventId: r.header.id, suffix: "skip", now: now), eventId: r.header.id,
                callId: r.callId, branch: r.branch, result: .skipped, reason: "status \(r.status) < 180 does not stop pushes",
                reasonCode: .noSchedule))]
        }
        // A 503 is what a proxy answers itself when the device's transport is broken, which is
        // exactly when the device needs its push: it leaves pending, retransmitted and repeated
        // pushes alone, as Flexisip (contract 1.1 §2.2). A trace, not silence.
        guard r.status != 503 else {
            return [.outcome(PushOutcome(
                header: outcomeHeader(eventId: r.header.id, suffix: "skip", now: now), eventId: r.header.id,
                callId: r.callId, branch: r.branch, result: .skipped,
                reason: "status 503 does not stop pushes (a proxy's answer for a broken transport: the device still needs its push)",
                reasonCode: .noSchedule))]
        }
        var actions: [CoreAction] = []
        for key in keys {
            guard var s = table[key], s.phase == .pending || s.phase == .awake || s.phase == .final else { continue }
            s.header.time = now
            if r.status >= 200 {
                // A final answer ends the branch: nothing more, not even a final push. After it
                // the router may fork to the device again (a 408, a 480): a new branch.unanswered
                // then replaces this finished context.
                finish(&s, now: now)
            } else {
                // The device is awake (unlike Flexisip, 180 counts): no more pushes; the context
                // stays (de-duplicating further forks to the awake device) until the call's end.
                s.phase = .awake
                s.nextAt = max(s.ringingUntil ?? now, now).adding(milliseconds: timing.doneRetentionMs)
            }
            put(s)
            actions.append(.state(key: key, s))
        }
        // Every schedule of the branch had already ended (a VoIP call answered after its last
        // retransmission): a trace, not silence (contract §2.6; found by pushfleet-chaos).
        if actions.isEmpty {
            actions.append(.outcome(PushOutcome(
                header: outcomeHeader(eventId: r.header.id, suffix: "skip", now: now), eventId: r.header.id,
                callId: r.callId, branch: r.branch, result: .skipped, reason: "no push schedule left for this branch: its pushes had already ended",
                reasonCode: .noSchedule)))
        }
        return actions
    }

    private mutating func callEnded(_ c: CallEnded, now: EventTime) -> [CoreAction] {
        let keys = table.keys(ofCall: c.callId)
        guard !keys.isEmpty else {
            return [.outcome(PushOutcome(
                header: outcomeHeader(eventId: c.header.id, suffix: "skip", now: now), eventId: c.header.id,
                callId: c.callId, result: .skipped, reason: "no push schedule for this call", reasonCode: .noSchedule))]
        }
        var actions: [CoreAction] = []
        for key in keys {
            guard var s = table[key], s.phase != .done else { continue }
            s.header.time = now
            // Only a branch that was really rung by repeated alerts gets the final alert. A first
            // alert still in flight counts: it reaches the device after the end, which must then
            // be told (found by pushfleet-chaos, seed 16: an alert retried through an RST_STREAM
            // window arrived 5 s after call.ended and the phone rang with no final push).
            // `completed` makes the final push due once that alert is answered.
            let rung = s.pushType == .ringing && s.ringingUntil != nil
                && (s.attempt > 0 || inFlight.contains(key) || inheritedDue.contains(key))
            if rung && s.phase == .pending {
                s.phase = .final
                s.finalReason = c.reason
                s.nextAt = now
            } else if s.phase == .final {
                continue  // the final push is already due
            } else {
                finish(&s, now: now)
            }
            put(s)
            actions.append(.state(key: key, s))
        }
        // Every schedule had already ended, or its final push is already due: a trace, not
        // silence (contract §2.6; found by pushfleet-chaos).
        if actions.isEmpty {
            actions.append(.outcome(PushOutcome(
                header: outcomeHeader(eventId: c.header.id, suffix: "skip", now: now), eventId: c.header.id,
                callId: c.callId, result: .skipped, reason: "no push schedule left for this call: its pushes had already ended or their final push is due",
                reasonCode: .noSchedule)))
        }
        return actions
    }

    // MARK: - Timers

    /// Pops every timer due at `now` and returns what to do: sends, expiries, purges.
    public mutating func fireDue(now: EventTime) -> [CoreAction] {
        var actions: [CoreAction] = []
        defer { decidedNow.removeAll(keepingCapacity: true) }
        while let top = table.popDue(now: now) {
            guard var s = table[top.key], s.nextAt == top.at, !inFlight.contains(top.key) else { continue }
            switch s.phase {
            case .done:
                remove(top.key)
                actions.append(.state(key: top.key, nil))
            case .awake:
                finish(&s, now: now)
                put(s)
                actions.append(.state(key: top.key, s))
            case .final:
                guard let derived = derive(s, &actions, now: now),
                      let final = derived.request.finalPush(for: s.finalReason ?? .timeout) else {
                    finishAndRecord(&s, &actions, now: now)
                    continue
                }
                actions.append(.send(order(s, request: final, note: timeNote(s, derived), dueAt: top.at,
                                           deadline: now.adding(milliseconds: timing.sendTimeoutMs))))
                inFlight.insert(top.key)
            case .pending:
                // Only the request decided for this very schedule (same event, first push).
                let decided = decidedNow.removeValue(forKey: top.key).flatMap { s.attempt == 0 && $0.eventId == s.header.id ? $0.derived : nil }
                guard let derived = decided ?? derive(s, &actions, now: now) else {
                    finishAndRecord(&s, &actions, now: now)
                    continue
                }
                let request = derived.request
                let note = timeNote(s, derived)
                if let until = s.ringingUntil, now >= until {
                    // call-fork-timeout passed while ringing: the final "Missing call" push,
                    // sent now (a branch never rung gets none).
                    guard s.attempt > 0, let final = request.finalPush(for: .timeout) else {
                        if s.attempt == 0 {
                            // Held past the call's end before its first alert (a worker outage):
                            // say so rather than end it silently.
                            actions.append(.outcome(outcome(s, request: request, attempt: 1, result: .dropped,
                                                            reason: OutcomeReason(.expired, "call-fork-timeout passed before the first push was sent").appending(note), now: now)))
                        }
                        finishAndRecord(&s, &actions, now: now)
                        continue
                    }
                    s.phase = .final
                    s.finalReason = .timeout
                    put(s)
                    actions.append(.state(key: top.key, s))
                    actions.append(.send(order(s, request: final, note: note, dueAt: top.at, deadline: now.adding(milliseconds: timing.sendTimeoutMs))))
                    inFlight.insert(top.key)
                    continue
                }
                let expiry = expiry(of: s, request: request)
                if now > expiry {
                    actions.append(.outcome(outcome(s, request: request, attempt: s.attempt + 1, result: .dropped,
                                                    reason: OutcomeReason(.expired, "expired before sending (TTL \(lifetime(of: s, request: request)) s)").appending(note), now: now)))
                    finishAndRecord(&s, &actions, now: now)
                    continue
                }
                let deadline = min(expiry, now.adding(milliseconds: timing.sendTimeoutMs))
                actions.append(.send(order(s, request: request, note: note, dueAt: top.at, deadline: deadline)))
                inFlight.insert(top.key)
            }
        }
        return actions
    }

    /// Applies a provider's answer to the schedule that asked for it.
    public mutating func completed(_ order: SendOrder, outcome sent: SendOutcome, now: EventTime) -> [CoreAction] {
        inFlight.remove(order.key)
        if sent.noCapacity, var s = table[order.key], s.phase == .pending || s.phase == .final {
            // Not attempted: the same attempt again shortly, no outcome and no state write (the
            // state topic already says it is due). Its expiry still drops it in `fireDue`.
            heldForCapacity.insert(order.key)
            s.nextAt = now.adding(milliseconds: Self.capacityRetryMs)
            put(s)
            return []
        }
        heldForCapacity.remove(order.key)
        let latency = max(0, now.millisecondsSince1970 - order.eventTime.millisecondsSince1970)
        var actions: [CoreAction] = [.outcome(PushOutcome(
            header: outcomeHeader(eventId: order.eventId, suffix: "\(order.requestIndex).\(order.request.pushType.rawValue).\(order.attempt)", now: now),
            eventId: order.eventId, callId: order.callId, branch: order.branch, provider: sent.provider,
            pushType: order.request.pushType, attempt: order.attempt, result: sent.result, status: sent.status,
            reason: EventTimeRule.joined(sent.reason, order.timeNote), invalidSince: sent.invalidSince, latencyMs: latency, requests: sent.requests,
            device: order.request.device, reasonCode: sent.reasonCode, timeReplaced: order.timeNote?.direction))]
        guard var s = table[order.key] else { return actions }
        s.header.time = now
        if order.request.pushType == .final {
            finishAndRecord(&s, &actions, now: now)
            return actions
        }
        s.attempt = max(s.attempt, order.attempt)
        switch s.phase {
        case .pending:
            if sent.result == .invalidToken {
                finishAndRecord(&s, &actions, now: now)
                return actions
            }
            if let until = s.ringingUntil {
                let interval = Int64(order.request.ringingInterval) * 1000
                var next = order.dueAt.adding(milliseconds: interval)
                if interval <= 0 {
                    // No repetition under this worker's policy (e.g. a rolling change of
                    // call-remote-push-interval to 0 while the call rang): wait for the call's
                    // end, which still gets its final push. Dividing by the interval below
                    // would trap, and every worker taking the partition would crash in turn.
                    next = until
                } else if next <= now {
                    // Missed ticks collapse into one: the next tick after now, not a burst.
                    let behind = now.millisecondsSince1970 - next.millisecondsSince1970
                    next = next.adding(milliseconds: (behind / interval + 1) * interval)
                }
                if next >= until {
                    s.nextAt = until
                } else {
                    s.nextAt = next
                }
            } else if s.retransmissionsLeft > 0 {
                s.retransmissionsLeft -= 1
                s.nextAt = now.adding(seconds: max(1, policy.options.retransmissionInterval))
            } else {
                finishAndRecord(&s, &actions, now: now)
                return actions
            }
            put(s)
            actions.append(.state(key: s.key, s))
        case .final:
            // The call ended while this push was in flight: its final push is due now.
            s.nextAt = now
            put(s)
            actions.append(.state(key: s.key, s))
        case .awake, .done:
            put(s)
            actions.append(.state(key: s.key, s))
        }
        return actions
    }

    /// Ends a schedule after its first push, whatever the policy would do next: `pushfleet
    /// replay` sends first pushes only (no retransmissions, no ringing repetitions, no final
    /// pushes), because the live workers own every schedule's later steps. The schedule stays as
    /// a `done` marker for `doneRetentionMs`, so a re-delivered event of the range is still
    /// recognised and not pushed twice.
    package mutating func settle(key: String, now: EventTime) {
        inFlight.remove(key)
        guard var s = table[key], s.phase != .done else { return }
        finish(&s, now: now)
        put(s)
    }

    // MARK: - Helpers

    /// Re-derives the push request from the stored event with this worker's policy.
    private func derive(_ s: ScheduleRecord, _ actions: inout [CoreAction], now: EventTime) -> Derived? {
        let problem: String
        var device: PushDevice?
        do {
            if case .branchUnanswered(let e) = try RouterEventDecoder.decode(s.event) {
                device = Self.device(of: e)
                if case .push(let requests) = policy.decide(e), s.requestIndex < requests.count, requests[s.requestIndex].dedupKey == s.key {
                    return Derived(request: requests[s.requestIndex], routerTime: e.header.time)
                }
                problem = "the policy no longer gives this push (config changed since it was scheduled)"
            } else {
                problem = "stored event is not a branch.unanswered"
            }
        } catch {
            problem = "stored event cannot be decoded: \(error)"
        }
        actions.append(.outcome(PushOutcome(
            header: outcomeHeader(eventId: s.header.id, suffix: "derive.\(s.attempt + 1)", now: now), eventId: s.header.id,
            callId: s.callId, branch: s.branch, provider: s.provider, pushType: s.pushType, attempt: s.attempt + 1,
            result: .failed, reason: problem, device: device)))
        return nil
    }

    /// The device of a branch for outcomes decided without its push request; nil when its push
    /// parameters cannot be read (then no device was ever known).
    private static func device(of e: BranchUnanswered) -> PushDevice? {
        (try? PushParameters(requestUri: e.requestUri))?.device(aor: e.to.uri, instanceId: e.instanceId)
    }

    private func order(_ s: ScheduleRecord, request: PushRequest, note: EventTimeNote?, dueAt: EventTime, deadline: EventTime) -> SendOrder {
        SendOrder(key: s.key, attempt: s.attempt + 1, request: request, deadline: deadline, dueAt: dueAt,
                  eventId: s.header.id, callId: s.callId, branch: s.branch, eventTime: s.eventTime, requestIndex: s.requestIndex,
                  timeNote: note)
    }

    /// What the push's outcomes say about its time, if it counts from its read time.
    private func timeNote(_ s: ScheduleRecord, _ derived: Derived) -> EventTimeNote? {
        EventTimeRule.note(routerTime: derived.routerTime, counted: s.eventTime,
                           lifetimeSeconds: lifetime(of: s, request: derived.request))
    }

    /// How long a push is worth sending, in seconds from the time it counts from: its TTL; for
    /// repeated ringing alerts (TTL 0, "now or never") the call's fork timeout.
    func lifetime(of request: PushRequest, ringing: Bool, forkTimeout: Int) -> Int {
        if ringing { return forkTimeout }
        // TTL 0 tells the provider not to store the push; it is still worth sending while the
        // call rings (a single remote alert with no repetition, a call with fork timeout 0):
        // until the event's `forkTimeout` when it has one, as for repeated alerts.
        return request.ttl > 0 ? request.ttl : request.callLifetime ?? policy.router.callForkTimeout
    }

    private func lifetime(of s: ScheduleRecord, request: PushRequest) -> Int {
        if let until = s.ringingUntil {
            return Int((until.millisecondsSince1970 - s.eventTime.millisecondsSince1970) / 1000)
        }
        return lifetime(of: request, ringing: false, forkTimeout: 0)
    }

    /// The instant after which the push is useless: the time it counts from plus its lifetime.
    /// A delay does not extend it (it did: a `pn-timeout` of 10⁹ s kept a schedule for decades).
    func expiry(of s: ScheduleRecord, request: PushRequest) -> EventTime {
        s.ringingUntil ?? s.eventTime.adding(seconds: lifetime(of: request, ringing: false, forkTimeout: 0))
    }

    /// Why a new schedule could never send its first push, if so.
    ///
    /// A delay (`timeout`, or a contact's `pn-timeout`) longer than the push's lifetime drops
    /// the push rather than clamping the delay: a Flexisip push context ends with its fork, so
    /// there such a push is never sent either, and a clamped one would reach the provider at the
    /// instant it expires (a "sent" that wakes nobody). The outcome says which delay and TTL.
    private func unschedulable(_ s: ScheduleRecord, _ derived: Derived, first: EventTime, now: EventTime) -> OutcomeReason? {
        let request = derived.request
        let expiry = expiry(of: s, request: request)
        let lifetime = lifetime(of: s, request: request)
        if now > expiry {
            // Only where the router's time is trusted as is (replay): otherwise it was replaced.
            return OutcomeReason(.expired, "expired before sending (TTL \(lifetime) s)").appending(timeNote(s, derived))
        }
        let lateForRinging = s.ringingUntil.map { first >= $0 } ?? false
        guard first > expiry || lateForRinging else { return nil }
        let what = s.ringingUntil != nil ? "the call's fork timeout of \(lifetime) s" : "its TTL of \(lifetime) s"
        return OutcomeReason(
            .notScheduled,
            "not scheduled: its delay (timeout/pn-timeout) of \(request.delay) s reaches past \(what), so it would expire before being sent"
        ).appending(timeNote(s, derived))
    }

    /// Turns a schedule into a `done` marker kept for `doneRetentionMs`, without its event.
    private func finish(_ s: inout ScheduleRecord, now: EventTime) {
        s.phase = .done
        s.nextAt = now.adding(milliseconds: timing.doneRetentionMs)
        s.event = []
    }

    private mutating func finishAndRecord(_ s: inout ScheduleRecord, _ actions: inout [CoreAction], now: EventTime) {
        finish(&s, now: now)
        put(s)
        actions.append(.state(key: s.key, s))
    }

    private mutating func put(_ s: ScheduleRecord) {
        // A held push whose schedule ended (answered, awake, expired) no longer waits for room.
        if s.phase == .done || s.phase == .awake, !heldForCapacity.isEmpty { heldForCapacity.remove(s.key) }
        table.put(s)
    }

    private mutating func remove(_ key: String) {
        inFlight.remove(key)
        inheritedDue.remove(key)
        heldForCapacity.remove(key)
        decidedNow[key] = nil
        table.remove(key)
    }

    private func skipped(_ e: BranchUnanswered, reason: OutcomeReason, provider: PushProvider? = nil, pushType: PushType? = nil, now: EventTime) -> PushOutcome {
        // A provider is known only once the policy decided a push: the device is known then too.
        PushOutcome(header: outcomeHeader(eventId: e.header.id, suffix: "skip", now: now), eventId: e.header.id,
                    callId: e.callId, branch: e.branch, provider: provider?.rawValue, pushType: pushType, attempt: 1,
                    result: .skipped, reason: reason.text, device: provider == nil ? nil : Self.device(of: e), reasonCode: reason.code,
                    timeReplaced: reason.timeReplaced)
    }

    private func outcome(_ s: ScheduleRecord, request: PushRequest, attempt: Int, result: PushResult, reason: OutcomeReason, now: EventTime) -> PushOutcome {
        PushOutcome(header: outcomeHeader(eventId: s.header.id, suffix: "\(s.requestIndex).\(request.pushType.rawValue).\(attempt)", now: now),
                    eventId: s.header.id, callId: s.callId, branch: s.branch, provider: s.provider,
                    pushType: request.pushType, attempt: attempt, result: result, reason: reason.text, device: request.device,
                    reasonCode: reason.code, timeReplaced: reason.timeReplaced)
    }

    /// Outcome ids are derived from the event id, so a re-sent outcome keeps its id (consumers
    /// can de-duplicate on it); ≤ 128 characters like every contract id.
    private func outcomeHeader(eventId: String, suffix: String, now: EventTime) -> RecordHeader {
        RecordHeader(id: RecordHeader.derivedId(eventId, suffix), time: now)
    }
}
