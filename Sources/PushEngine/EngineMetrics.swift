import Metrics
import PushContract
import Synchronization

/// Every metric the engine exports, in one place (names are what dashboards and alert rules
/// use: keep `ops/` in step). Handles are created once per label set and cached, so the hot path
/// pays a dictionary lookup, not a factory call.
package enum EngineMetrics {
    static let events = "pushfleet_events_total"                 // type
    static let skips = "pushfleet_skips_total"                   // reason (class)
    static let pushes = "pushfleet_pushes_total"                 // provider, push_type, result
    static let sendLatency = "pushfleet_send_latency_seconds"    // provider
    static let eventToPush = "pushfleet_event_to_push_latency_seconds"  // push_type, attempt
    static let pending = "pushfleet_pending_schedules"           // partition
    static let inFlight = "pushfleet_sends_in_flight"            // partition
    static let wakeupBindings = "pushfleet_wakeup_bindings"      // partition (of the registrations topic)
    static let wakeupInFlight = "pushfleet_wakeup_sends_in_flight"  // partition (of the registrations topic)
    static let restoreDuration = "pushfleet_restore_duration_seconds"
    static let restoredSchedules = "pushfleet_restored_schedules_total"
    static let rebalances = "pushfleet_rebalances_total"         // kind
    static let assigned = "pushfleet_assigned_partitions"
    static let deadLetters = "pushfleet_dead_letters_total"
    static let lag = "pushfleet_consumer_lag"                    // topic (events, registrations), partition
    static let writeRetries = "pushfleet_state_write_retries_total"
    static let writesRefused = "pushfleet_writes_refused_total"   // topic
    static let restoreFailures = "pushfleet_restore_failures_total"
    static let unrestored = "pushfleet_unrestored_partitions"
    static let recordsWithoutLane = "pushfleet_records_without_lane_total"
    static let eventTimeReplaced = "pushfleet_event_time_replaced_total"  // direction
    static let restoreUnusable = "pushfleet_restore_unusable_records_total"  // topic
    static let restoreStale = "pushfleet_restore_stale_records_total"
    static let writeStalls = "pushfleet_lane_write_stalls_total"
    static let live = "pushfleet_worker_live"
    static let pausedPartitions = "pushfleet_backpressure_paused_partitions"
    static let backPressure = "pushfleet_backpressure_total"      // action
    static let ready = "pushfleet_worker_ready"
    static let dropped = "pushfleet_dropped_total"               // cause
    static let freezes = "pushfleet_process_pauses_total"
    static let heldSteps = "pushfleet_lane_held_steps_total"

    /// `# HELP` text per metric name (the Prometheus factory of `pushfleet worker` looks names
    /// up here; a name missing from it is exported without help, which the deploy test rejects).
    package static let help: [String: String] = [
        events: "Events read from the events and registrations topics, by contract type.",
        skips: "Decisions not to push, by reason class.",
        pushes: "Push attempts and decisions by provider, push type and result.",
        sendLatency: "Time from handing a push to the senders to the provider's final answer (retries included).",
        eventToPush: "Time from the router's event time to the provider's answer, for sent pushes.",
        pending: "Push schedules held in memory, by events partition.",
        inFlight: "Sends awaiting a provider answer, by events partition.",
        wakeupBindings: "Registration bindings indexed for register wake-up, by registrations partition.",
        wakeupInFlight: "Wake-up sends awaiting a provider answer, by registrations partition.",
        restoreDuration: "Time to restore one assigned partition from the state topic.",
        restoredSchedules: "Schedules (and wake-up bindings) restored on assignment.",
        rebalances: "Consumer group rebalances seen, by kind (assigned, revoked).",
        assigned: "Events partitions this worker owns.",
        deadLetters: "Input records written to the dead-letter topic.",
        lag: "Records behind the high watermark, by topic (events, registrations) and partition owned by this worker.",
        writeRetries: "State and outcome writes re-sent after a failed delivery.",
        writesRefused: "Writes the broker refused for good (too large, invalid), by topic; their input is dead-lettered.",
        restoreFailures: "Failed attempts to restore an assigned partition (it stays paused and is retried with backoff).",
        unrestored: "Assigned partitions not processed because their state could not be restored yet.",
        recordsWithoutLane: "Records read for a partition this worker has no lane for (dropped unstored: the owner reads them again).",
        freezes: "Pauses of this process long enough to have cost its group session (SIGSTOP, a paused VM, starvation); lanes held their work until the group confirmed the assignment.",
        heldSteps: "Inputs and send results a lane held because the worker may have lost its partitions (after a pause, or librdkafka found the assignment lost).",
        pausedPartitions: "Partitions paused because their pushes wait for room at a destination or too much is unacknowledged.",
        backPressure: "Back-pressure transitions of partitions, by action (pause, resume).",
        eventTimeReplaced: "Pushes whose branch.unanswered time was too far ahead of (over 5 s) or behind (over the push's TTL) the worker's clock, and so counted from when the worker read it; by direction.",
        restoreUnusable: "Records that could not be decoded when restoring a partition, by topic (skipped; the live read dead-lettered them).",
        writeStalls: "Times a lane held its work because one of its writes waited past half the session timeout for the broker's acknowledgement (a broker outage, or this worker cut off from it).",
        restoreStale: "State records a restore ignored because a later owner of the partition had already written their key (writes of a worker that froze or was cut off, landed late).",
        live: "1 while /health answers ok: no fatal Kafka error, the poll thread and every lane make progress.",
        ready: "1 while /ready answers ok: consuming, and every assigned partition restored and processed.",
        dropped: "Pushes given up unsent, by cause: expired (past their TTL or the call's fork timeout before they could be sent), not_scheduled (a delay longer than the TTL), queue_full (a register wake-up that found its destination full).",
    ]

    private static let counters = Mutex<[String: Counter]>([:])
    private static let timers = Mutex<[String: Timer]>([:])
    private static let gauges = Mutex<[String: Gauge]>([:])

    static func counter(_ label: String, _ dimensions: [(String, String)] = []) -> Counter {
        let key = cacheKey(label, dimensions)
        return counters.withLock { cache in
            if let c = cache[key] { return c }
            let c = Counter(label: label, dimensions: dimensions)
            cache[key] = c
            return c
        }
    }

    static func timer(_ label: String, _ dimensions: [(String, String)] = []) -> Timer {
        let key = cacheKey(label, dimensions)
        return timers.withLock { cache in
            if let t = cache[key] { return t }
            let t = Timer(label: label, dimensions: dimensions, preferredDisplayUnit: .seconds)
            cache[key] = t
            return t
        }
    }

    static func gauge(_ label: String, _ dimensions: [(String, String)] = []) -> Gauge {
        let key = cacheKey(label, dimensions)
        return gauges.withLock { cache in
            if let g = cache[key] { return g }
            let g = Gauge(label: label, dimensions: dimensions)
            cache[key] = g
            return g
        }
    }

    /// Removes a gauge series (a partition this worker no longer owns): left behind, it kept its
    /// last value and a dashboard's `sum` counted the partition twice after every rebalance.
    static func destroyGauge(_ label: String, _ dimensions: [(String, String)]) {
        let key = cacheKey(label, dimensions)
        gauges.withLock { $0.removeValue(forKey: key) }?.destroy()
    }

    /// One string per lookup, built in place (chained `+` made a new string per piece: 2% of a
    /// worker's CPU per push).
    private static func cacheKey(_ label: String, _ dimensions: [(String, String)]) -> String {
        var key = label
        key.reserveCapacity(dimensions.reduce(label.utf8.count) { $0 + $1.0.utf8.count + $1.1.utf8.count + 2 })
        for (name, value) in dimensions {
            key += "|"
            key += name
            key += "="
            key += value
        }
        return key
    }

    /// The bounded class a skip counts under: decided by the code the core set, never by the
    /// text (which names the rule and quotes values, and may be reworded). The label values are
    /// what dashboards key on: a new code gets its own class here, or counts as `other`.
    static func skipClass(_ code: OutcomeReason.Code?) -> String {
        switch code {
        case .filter?: "filter"
        case .pushParams?: "push_params"
        case .duplicate?: "duplicate"
        case .disabled?: "disabled"
        case .noSchedule?: "no_schedule"
        case .misrouted?: "misrouted"
        case .needsPush?: "needs_push"
        default: "other"
        }
    }

    /// Causes of `dropped`, the label values `pushfleet_dropped_total` exports from start.
    static let dropCauses = [OutcomeReason.Code.expired, .notScheduled, .queueFull].map(dropCause)

    /// The cause of a `dropped` outcome, from the code PartitionCore, RegistrationCore or the
    /// senders' Delivery set; a drop without one (none is made today) counts as `expired`,
    /// what every other drop is.
    static func dropCause(_ code: OutcomeReason.Code?) -> String {
        switch code {
        case .notScheduled?: "not_scheduled"
        case .queueFull?: "queue_full"
        default: "expired"
        }
    }

    /// Whether `o` is the outcome that counts a push in `pushfleet_event_time_replaced_total`:
    /// every outcome of such a push carries the note, so only its first one (attempt 1) counts.
    static func replacedTime(_ o: PushOutcome) -> EventTimeRule.Direction? {
        o.attempt == 1 ? o.timeReplaced : nil
    }

    /// Records what one batch of core actions says (outcomes, dead letters).
    static func record(_ actions: [CoreAction]) {
        for action in actions {
            switch action {
            case .outcome(let o):
                if let direction = replacedTime(o) {
                    counter(eventTimeReplaced, [("direction", direction.rawValue)]).increment()
                }
                if o.result == .skipped {
                    counter(skips, [("reason", skipClass(o.reasonCode))]).increment()
                } else {
                    counter(pushes, [("provider", o.provider ?? "none"), ("push_type", o.pushType?.rawValue ?? "none"), ("result", o.result.rawValue)]).increment()
                    if o.result == .dropped { counter(dropped, [("cause", dropCause(o.reasonCode))]).increment() }
                    if let latency = o.latencyMs, o.result == .sent {
                        // `attempt`: a first push measures the path; a retransmission or a
                        // ringing repeat is late by design (its interval), which an SLO must not count.
                        timer(eventToPush, [("push_type", o.pushType?.rawValue ?? "none"), ("attempt", o.attempt == 1 ? "first" : "repeat")])
                            .recordMilliseconds(latency)
                    }
                }
            case .deadLetter:
                counter(deadLetters).increment()
            case .state, .send:
                break
            }
        }
    }
}
