import HeapModule
import Kafka
import PushContract
import PushPolicy
import PushSenders

/// Register wake-up for one partition of the registrations topic, with no I/O.
///
/// The partition is a table (compacted, key per binding, tombstone removes): every binding is
/// indexed by its wake-up time `updatedAt + threshold% × expires` in a min-heap, so a tick costs
/// time proportional to the bindings due, not to all bindings (Flexisip scans every Redis key on
/// every tick). Ticks come every `register-wakeup-interval` minutes, on wall-clock multiples of
/// it (so every owner of the partition ticks at the same instants). As Flexisip (contract 1.1
/// §2.4), a binding past its threshold gets one Background push at every tick until it is
/// refreshed, removed or expired: one push may be lost or ignored, and the binding stays due.
/// Each sent wake-up is recorded as a `push.schedule` record (`pushType` wakeup, phase done, key
/// `wakeup|<partition>|<binding>`, `eventTime` = the registration version, `nextAt` = the next
/// tick) in the state topic: a worker that takes the partition over at the same tick does not
/// send it again, and sends the next one at the next tick.
package struct RegistrationCore: Sendable {
    let partition: Int32
    let options: PushNotificationOptions
    private(set) var nextTick: EventTime

    private struct Binding: Sendable {
        var registration: RegistrationUpdated
        var wakeAt: EventTime
        var expiresAt: EventTime
    }

    private struct Due: Comparable, Sendable {
        var at: EventTime
        var key: String
        static func < (a: Due, b: Due) -> Bool { a.at < b.at }
    }

    private var bindings: [String: Binding] = [:]
    /// By binding key: the registration version (`updatedAt`) last woken or skipped, and the
    /// first tick at which that version may be woken again (the tick after the one that woke
    /// it; its expiry for a version skipped by the policy, which is said once, not every tick),
    /// and how many wake-ups that version got (the outcomes' `attempt`).
    private var woken: [String: (version: EventTime, until: EventTime, count: Int)] = [:]
    private var markers: [String: ScheduleRecord] = [:]
    private var due = Heap<Due>()
    private var inFlight: Set<String> = []

    package init(partition: Int32, options: PushNotificationOptions, now: EventTime) {
        self.partition = partition
        self.options = options
        // Ticks fall on wall-clock multiples of the interval, the same instants for every owner:
        // counted from each restore, a partition that moved (a rebalance, autoscaling) waited a
        // whole interval again, and one moving more often than the interval never ticked.
        let interval = Int64(max(1, options.registerWakeupInterval)) * 60_000
        nextTick = EventTime(millisecondsSince1970: (now.millisecondsSince1970 / interval + 1) * interval)
    }

    /// Milliseconds between ticks.
    private var interval: Int64 { Int64(max(1, options.registerWakeupInterval)) * 60_000 }

    var pendingCount: Int { bindings.count }
    var nextDeadline: EventTime? { bindings.isEmpty ? nil : nextTick }

    static func markerKey(partition: Int32, binding: String) -> String { "wakeup|\(partition)|\(binding)" }

    /// Restores a sent wake-up read back from the state topic.
    mutating func restoreMarker(_ record: ScheduleRecord) {
        woken[record.callId] = (record.eventTime, record.nextAt ?? record.eventTime, record.attempt)
        markers[record.key] = record
    }

    /// Restores the wake-ups already sent from the latest values of the state partition that
    /// holds this partition's markers. A record is a marker of this partition by its key *and*
    /// its content: a call's schedule whose Call-ID starts with `wakeup|` shares the prefix.
    /// Returns the markers that could not be decoded, by key (their wake-up may be sent again).
    mutating func restoreMarkers(latest: [String: [UInt8]]) -> [String: ContractError] {
        let prefix = Self.markerKey(partition: partition, binding: "")
        var unusable: [String: ContractError] = [:]
        for (key, value) in latest where key.hasPrefix(prefix) {
            do throws(ContractError) {
                let record = try RecordDecoder.decodeSchedule(value)
                if record.pushType == .wakeup && record.key == key { restoreMarker(record) }
            } catch {
                unusable[key] = error
            }
        }
        return unusable
    }

    package mutating func handle(_ message: KafkaMessage, now: EventTime) -> [CoreAction] {
        apply(message, now: now, isRead: true)
    }

    /// Rebuilds the table from a record read back on assignment: not an event read, so it is
    /// not counted in `pushfleet_events_total` (every rebalance would inflate it by the
    /// partition's whole table otherwise).
    ///
    /// Returns why the record cannot be used, if so. It is not dead-lettered again here (every
    /// restore would dead-letter it once more): its live read did that, and the shell logs and
    /// counts it.
    @discardableResult
    mutating func restore(_ message: KafkaMessage, now: EventTime) -> String? {
        for case .deadLetter(let letter) in apply(message, now: now, isRead: false) { return letter.error }
        return nil
    }

    private mutating func apply(_ message: KafkaMessage, now: EventTime, isRead: Bool) -> [CoreAction] {
        let key = String(decoding: message.key ?? [], as: UTF8.self)
        guard let value = message.value else {
            // Tombstone: the binding is gone, and so is its wake-up marker.
            bindings[key] = nil
            woken[key] = nil
            let markerKey = Self.markerKey(partition: partition, binding: key)
            guard markers.removeValue(forKey: markerKey) != nil else { return [] }
            return [.state(key: markerKey, nil)]
        }
        let event: RouterEvent
        do {
            event = try RouterEventDecoder.decode(value)
        } catch {
            return [deadLetter(message, error: error.description, now: now)]
        }
        guard case .registrationUpdated(let registration) = event else {
            return [deadLetter(message, error: "type: \"\(event.type)\" does not belong on the registrations topic (send it to the events topic)", now: now)]
        }
        if isRead { EngineMetrics.counter(EngineMetrics.events, [("type", event.type)]).increment() }
        let binding = Binding(registration: registration, wakeAt: WakeUpPolicy.wakeAt(registration, options: options),
                              expiresAt: WakeUpPolicy.expiresAt(registration))
        bindings[key] = binding
        due.insert(Due(at: binding.wakeAt, key: key))
        return []
    }

    /// At each tick, wakes every binding past its threshold that has not expired, unless this
    /// tick already woke it (a marker restored from the previous owner) or a send is in flight.
    package mutating func fireDue(now: EventTime) -> [CoreAction] {
        guard now >= nextTick else { return [] }
        let interval = self.interval
        // Missed ticks (a stalled worker) collapse into this one: the last grid instant ≤ now.
        let behind = now.millisecondsSince1970 - nextTick.millisecondsSince1970
        let tick = nextTick.adding(milliseconds: behind / interval * interval)
        nextTick = tick.adding(milliseconds: interval)
        var actions: [CoreAction] = []
        var stillDue: [Due] = []
        while let top = due.min, top.at <= now {
            _ = due.popMin()
            guard let binding = bindings[top.key], binding.wakeAt == top.at else { continue }  // stale entry
            guard now < binding.expiresAt else { continue }  // expired: no longer a registration to keep
            // Past its threshold and not expired: due again at every tick until it changes.
            stillDue.append(top)
            let version = binding.registration.updatedAt
            let last = woken[top.key].flatMap { $0.version == version ? $0 : nil }
            if let last, last.until > tick { continue }
            if inFlight.contains(top.key) { continue }
            switch WakeUpPolicy.decide(binding.registration, options: options) {
            case .skipped(let reason):
                woken[top.key] = (version, binding.expiresAt, last?.count ?? 0)
                actions.append(.outcome(outcome(top.key, binding.registration, result: .skipped, reason: reason, now: now)))
            case .push(let requests):
                inFlight.insert(top.key)
                actions.append(.send(SendOrder(
                    key: top.key, attempt: (last?.count ?? 0) + 1, request: requests[0], deadline: min(binding.expiresAt, now.adding(seconds: 30)),
                    dueAt: tick, eventId: binding.registration.header.id, callId: binding.registration.callId, branch: "",
                    eventTime: version, requestIndex: 0)))
            }
        }
        for entry in stillDue { due.insert(entry) }
        return actions
    }

    mutating func completed(_ order: SendOrder, outcome sent: SendOutcome, now: EventTime) -> [CoreAction] {
        inFlight.remove(order.key)
        var actions: [CoreAction] = []
        let registration = bindings[order.key]?.registration
        var o = PushOutcome(
            // One id per wake-up of a registration version: a new owner repeating the same one
            // (the duplicate window) gives the same id, the next tick's a new one.
            header: RecordHeader(id: RecordHeader.derivedId(order.eventId, "wakeup.\(order.attempt)"), time: now), eventId: order.eventId,
            registration: order.key, provider: sent.provider, pushType: .wakeup, attempt: order.attempt, result: sent.result,
            status: sent.status, reason: sent.reason, invalidSince: sent.invalidSince,
            latencyMs: max(0, now.millisecondsSince1970 - order.dueAt.millisecondsSince1970), requests: sent.requests,
            device: order.request.device, reasonCode: sent.reasonCode)
        if o.registration == nil { o.registration = order.key }
        actions.append(.outcome(o))
        guard let registration, registration.updatedAt == order.eventTime else { return actions }
        // Woken at the tick `dueAt`: due again at the next one (`nextAt`), by whichever worker
        // owns the partition then.
        let next = order.dueAt.adding(milliseconds: interval)
        woken[order.key] = (registration.updatedAt, next, order.attempt)
        let markerKey = Self.markerKey(partition: partition, binding: order.key)
        let marker = ScheduleRecord(
            header: RecordHeader(id: registration.header.id, time: now), key: markerKey, callId: order.key, branch: "register",
            eventTime: registration.updatedAt, requestIndex: 0, provider: sent.provider, pushType: .wakeup, phase: .done,
            attempt: order.attempt, nextAt: next, retransmissionsLeft: 0, ringingUntil: nil,
            finalReason: nil, event: [])
        markers[markerKey] = marker
        actions.append(.state(key: markerKey, marker))
        return actions
    }

    func currentState(key: String) -> ScheduleRecord? { markers[key] }

    private func outcome(_ key: String, _ r: RegistrationUpdated, result: PushResult, reason: OutcomeReason, now: EventTime) -> PushOutcome {
        PushOutcome(header: RecordHeader(id: RecordHeader.derivedId(r.header.id, "wakeup"), time: now), eventId: r.header.id,
                    registration: key, pushType: .wakeup, attempt: 1, result: result, reason: reason.text,
                    device: (try? PushParameters(requestUri: r.contact))?.device(aor: r.aor, instanceId: r.instanceId),
                    reasonCode: reason.code)
    }
}

extension RegistrationCore: LaneCore {
    /// A wake-up that found its destination full is recorded `dropped` (wake-ups are best
    /// effort, as in Flexisip): it never holds the registrations partition.
    var isCongested: Bool { false }

    static var pendingMetric: String { EngineMetrics.wakeupBindings }
    static var inFlightMetric: String { EngineMetrics.wakeupInFlight }
}
