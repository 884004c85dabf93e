import Foundation
import Kafka
import PushContract
import PushSandbox

/// Everything the checker reads once the run is over.
struct ChaosObservations: Sendable {
    struct Outcome: Sendable {
        var record: PushOutcome
        /// When it was written (its Kafka timestamp), seconds since the run's start.
        var at: Double
    }

    var inputs: [SimulatedInput]
    var outcomes: [Outcome]
    var deadLetters: [DeadLetter]
    /// One record of the state topic: when, and what it said (nil phase: a tombstone).
    struct StateWrite: Sendable {
        var at: Double
        var phase: String?
        var attempt: Int
    }

    /// The state topic's records by Call-ID, in order.
    var stateWrites: [String: [StateWrite]]
    var apns: [SandboxAnswer]
    var fcm: [SandboxAnswer]
    var timeline: [TimelineEntry]
    var exits: [WorkerFleet.Exit]
    var stopDurations: [(slot: Int, seconds: Double)]
    var rss: [WorkerFleet.RSSSample]
    /// Topics whose oldest records the embedded broker dropped (its ~5 MiB per partition).
    var truncatedTopics: [String]
    /// Seconds since the start: when traffic stopped, and when the drain ended.
    var trafficEnd: Double
    var drainEnd: Double
    var startedAt: Date
    /// Broker partitions of one worker (nil: no network namespaces), and why not if nil.
    var partitions: [WorkerNetworks.Cut]?
    var partitionNote: String
}

struct Violation: Sendable, Codable {
    var invariant: String
    var at: Double?
    var detail: String
}

struct InvariantResult: Sendable, Codable {
    var name: String
    /// `passed`, `failed` or `not checked`.
    var status: String
    var detail: String
}

/// The invariants of issue #16, checked from the outside: the outcome and dead-letter topics,
/// the state topic, the sandbox servers' logs, the simulator's own log and the fleet's record of
/// process exits and memory. Each bound is a constant below, documented in docs/chaos.md.
struct ChaosChecker {
    /// A ringing call may keep ringing this long after its `call.ended` was acknowledged: the
    /// longest broker outage (20 s) + the session timeout (6 s) + a restore, with room for a
    /// loaded 2-core machine; a message may be retransmitted this long after its 180.
    static let stopAfterEndBound = 60.0
    /// An events partition whose inputs wait longer than this for their first trace had no owner
    /// making progress: the worker's own stall bound (`/health` fails after 120 s without progress).
    static let progressBound = 120.0
    /// `pushfleet worker`'s SIGTERM bound (30 s) plus process start/exit slack.
    static let stopBound = 35.0
    /// Resident memory a debug-build worker may reach; and growth over its life that counts as
    /// unbounded (the last quarter's peak above twice the second quarter's, and by 150 MiB).
    static let rssCeilingMiB = 1024.0
    static let rssGrowthMiB = 150.0
    /// Time attributed to a fault when classifying a duplicate: the fault was active within this
    /// many seconds before the duplicate (session timeout + restore + a send's 30 s bound).
    static let faultReach = 45.0

    var o: ChaosObservations
    var violations: [Violation] = []
    var invariants: [InvariantResult] = []
    var figures: [String: Double] = [:]
    var duplicatesByCause: [String: Int] = [:]
    var counts: [String: Int] = [:]
    /// Things seen that are no violation but worth reading.
    var notes: [String] = []

    init(_ observations: ChaosObservations) { o = observations }

    private func seconds(_ date: Date) -> Double { date.timeIntervalSince(o.startedAt) }

    private mutating func fail(_ invariant: String, at: Double?, _ detail: String) {
        violations.append(Violation(invariant: invariant, at: at, detail: detail))
    }

    private mutating func result(_ name: String, since: Int, detail: String) {
        let failed = violations.dropFirst(since).count
        invariants.append(InvariantResult(name: name, status: failed == 0 ? "passed" : "failed",
                                          detail: failed == 0 ? detail : "\(failed) violation(s); \(detail)"))
    }

    mutating func check() {
        let outcomesByEvent = Dictionary(grouping: o.outcomes) { $0.record.eventId }
        let answers = Dictionary(grouping: o.apns + o.fcm) { $0.key }
        let pushes = o.inputs.filter { [.voip, .ringing, .message].contains($0.kind) }
        let endOf = Dictionary(o.inputs.filter { $0.kind == .ended }.compactMap { i in i.callId.map { ($0, i) } }) { a, _ in a }
        func responses(_ status: String) -> [String: SimulatedInput] {
            Dictionary(o.inputs.filter { $0.kind == .response && $0.detail == status }.compactMap { i in i.callId.map { ($0, i) } }) { a, _ in a }
        }
        let ringingOf = responses("180"), answeredOf = responses("200")

        // 1. Every input record has a trace.
        var mark = violations.count
        var traced = 0
        for input in o.inputs {
            guard let partition = input.partition, let offset = input.offset else {
                fail("trace", at: input.eventTime, "\(input.kind.rawValue) \(input.eventId ?? "") was never acknowledged by the broker")
                continue
            }
            let hasTrace: Bool = switch input.kind {
            case .garbage:
                o.deadLetters.contains { $0.source.topic == input.topic && $0.source.partition == partition && $0.source.offset == offset }
            case .registration:
                true  // a registration is indexed, not answered: its trace is its wake-up, checked below
            case .response, .ended:
                // An outcome of its own, or a state write of its call, once it was in Kafka, of the
                // kind it causes: a 180 makes the branch awake, a 200 or the call's end finishes it.
                outcomesByEvent[input.eventId ?? ""] != nil
                    || (input.callId.flatMap { o.stateWrites[$0] } ?? []).contains { write in
                        write.at >= (input.acknowledged ?? 0) - 1
                            && (input.detail == "180" ? write.phase == "awake" : write.phase == "done" || write.phase == "final")
                    }
            default:
                outcomesByEvent[input.eventId ?? ""] != nil || input.callId.flatMap { o.stateWrites[$0] } != nil
            }
            if hasTrace { traced += 1 } else {
                fail("trace", at: input.eventTime, "\(input.kind.rawValue) \(input.eventId ?? "garbage") at \(input.topic)[\(partition)]@\(offset): no outcome, state change or dead letter")
            }
        }
        // A valid record must never be dead-lettered; other dead letters (refused writes) are listed.
        var validAt: [String: SimulatedInput] = [:]
        for input in o.inputs where input.kind != .garbage {
            if let p = input.partition, let off = input.offset { validAt["\(input.topic)[\(p)]@\(off)"] = input }
        }
        var otherLetters: [String] = []
        for letter in o.deadLetters {
            let source = "\(letter.source.topic)[\(letter.source.partition)]@\(letter.source.offset)"
            if let input = validAt[source] {
                fail("trace", at: input.eventTime, "valid \(input.kind.rawValue) \(input.eventId ?? "") at \(source) was dead-lettered: \(letter.error)")
            } else if !o.inputs.contains(where: { $0.kind == .garbage && "\($0.topic)[\($0.partition ?? -1)]@\($0.offset ?? -1)" == source }) {
                otherLetters.append("\(source): \(letter.error)")
            }
        }
        notes += otherLetters.prefix(20).map { "dead letter not from the simulator's garbage: \($0)" }
        counts["inputs"] = o.inputs.count
        counts["inputs_traced"] = traced
        result("every input record has a trace (outcome, state change or dead letter)", since: mark,
               detail: "\(traced) of \(o.inputs.count) inputs traced" + (o.truncatedTopics.isEmpty ? "" : "; the embedded broker dropped old records of \(o.truncatedTopics.joined(separator: ", "))"))

        // 2. A due push is delivered at least once or has an outcome naming why it was not.
        mark = violations.count
        var delivered = 0, failedWithReason = 0, answeredFirst = 0, lost = 0
        var latencies: [Double] = []
        for push in pushes {
            let got = (answers[push.token ?? ""] ?? []).filter(\.delivered)
            if let first = got.map({ seconds($0.at) }).min() {
                delivered += 1
                latencies.append((first - push.eventTime) * 1000)
                continue
            }
            let explained = (outcomesByEvent[push.eventId ?? ""] ?? []).contains { outcome in
                [.failed, .dropped, .invalidToken, .skipped].contains(outcome.record.result) && !(outcome.record.reason ?? "").isEmpty
            }
            if explained {
                failedWithReason += 1
            } else if answeredBeforeRead(push) {
                answeredFirst += 1
            } else {
                lost += 1
                let seen = (outcomesByEvent[push.eventId ?? ""] ?? []).map { "\($0.record.result.rawValue) \($0.record.reason ?? "")" }
                fail("delivery", at: push.eventTime, "\(push.kind.rawValue) push of \(push.callId ?? "") neither delivered nor failed with a reason (outcomes: \(seen)); \(history(push))")
            }
        }
        counts["pushes_due"] = pushes.count
        counts["pushes_delivered"] = delivered
        counts["pushes_failed_with_reason"] = failedWithReason
        counts["pushes_lost"] = lost
        counts["pushes_answered_before_read"] = answeredFirst
        latencies.sort()
        figures["latency_p50_ms"] = percentile(latencies, 50) ?? 0
        figures["latency_p99_ms"] = percentile(latencies, 99) ?? 0
        result("every push due before its expiry delivered at least once, or failed with a reason", since: mark,
               detail: "\(delivered) delivered, \(failedWithReason) failed with a reason, \(answeredFirst) answered by the device before a worker read the call, \(lost) lost")

        // 3. Ringing calls: a final push after call.ended, no ringing long after it.
        mark = violations.count
        var longestGap = 0.0
        var finals = 0, neverRung = 0
        for call in pushes where call.kind == .ringing {
            let got = (answers[call.token ?? ""] ?? []).filter(\.delivered).sorted { $0.at < $1.at }
            let ringing = got.filter { !Self.isFinal($0) }.map { seconds($0.at) }
            guard let end = endOf[call.callId ?? ""], let endedAt = end.acknowledged else { continue }
            var last = call.eventTime
            for t in ringing where t <= endedAt {
                longestGap = max(longestGap, t - last)
                last = t
            }
            longestGap = max(longestGap, min(endedAt, o.drainEnd) - last)
            if let late = ringing.first(where: { $0 > endedAt + Self.stopAfterEndBound }) {
                fail("ringing", at: late, "\(call.callId ?? "") still rang \(f1(late - endedAt)) s after its call.ended; \(history(call))")
            }
            if got.contains(where: Self.isFinal) {
                finals += 1
            } else if ringing.isEmpty && (outcomesByEvent[call.eventId ?? ""] ?? []).allSatisfy({ $0.record.result != .sent }) {
                // Never rung (its end was read with it, or before its first alert got through):
                // no final push is due (contract §2.3: only a branch rung gets one).
                neverRung += 1
            } else {
                let explained = (outcomesByEvent[call.eventId ?? ""] ?? []).contains {
                    $0.record.pushType == .final && $0.record.result != .sent && !($0.record.reason ?? "").isEmpty
                }
                if explained { finals += 1 } else if endedAt < o.trafficEnd {
                    fail("ringing", at: endedAt, "\(call.callId ?? "") got no final push after its call.ended (\(end.detail ?? "") at \(f1(endedAt)) s); \(history(call))")
                }
            }
        }
        figures["longest_ringing_gap_s"] = longestGap
        result("a ringing call gets its final push and stops ringing within \(Int(Self.stopAfterEndBound)) s of call.ended", since: mark,
               detail: "\(finals) final pushes, \(neverRung) calls ended before their first alert; longest time without ringing \(String(format: "%.1f", longestGap)) s")

        // 4. Retransmissions stop once the device answers: a message at its 180, a VoIP call at its 200.
        mark = violations.count
        var retransmitted = 0
        for push in pushes where push.kind == .message || push.kind == .voip {
            let stop = push.kind == .message ? ringingOf : answeredOf
            guard let answeredAt = stop[push.callId ?? ""]?.acknowledged else { continue }
            retransmitted += 1
            let late = (answers[push.token ?? ""] ?? []).filter(\.delivered).map { seconds($0.at) }.filter { $0 > answeredAt + Self.stopAfterEndBound }
            if let first = late.first {
                fail("retransmission", at: first, "\(push.callId ?? "") retransmitted \(f1(first - answeredAt)) s after the device answered; \(history(push))")
            }
        }
        result("a message (VoIP call) stops being retransmitted within \(Int(Self.stopAfterEndBound)) s of its 180 (200)", since: mark,
               detail: "\(retransmitted) messages and calls checked")

        // 5. Duplicates, by cause.
        mark = violations.count
        var duplicates = 0
        for push in pushes {
            let got = (answers[push.token ?? ""] ?? []).filter(\.delivered).sorted { $0.at < $1.at }
            // A duplicate is a delivery beyond one per distinct attempt the schedule made (its
            // `sent` outcomes: voip#1, ringing#4, final#7…). Ringing ticks and retransmissions
            // are attempts of their own, even when a late push is followed closely by the next
            // tick on the schedule's cadence.
            let outcomes = outcomesByEvent[push.eventId ?? ""] ?? []
            let attempts = Dictionary(grouping: outcomes.filter { $0.record.result == .sent }) {
                "\($0.record.pushType?.rawValue ?? "")#\($0.record.attempt)"
            }
            let extraCount = max(0, got.count - attempts.count)
            // When they happened, for their cause: the repeated attempts' later outcomes first,
            // then the deliveries closest to the one before them.
            let repeated = attempts.values.flatMap { $0.sorted { $0.at < $1.at }.dropFirst().map(\.at) }.sorted()
            let closest = zip(got.dropFirst(), got).sorted { $0.0.at.timeIntervalSince($0.1.at) < $1.0.at.timeIntervalSince($1.1.at) }
                .map { seconds($0.0.at) }
            let extra = Array((repeated + closest).prefix(extraCount))
            for t in extra {
                duplicates += 1
                let cause: String
                if outcomes.contains(where: { ($0.record.requests ?? 1) > 1 }) {
                    cause = "ambiguous-retry (window 4)"
                } else if timelineHas(FaultScheduler.workerFaults, from: t - Self.faultReach, to: t) {
                    cause = "worker killed, frozen or stopped (windows 1-2)"
                } else if timelineHas(FaultScheduler.brokerFaults, from: t - Self.faultReach, to: t) {
                    cause = "broker fault: session lost, partitions moved (windows 1-2)"
                } else if timelineHas(["rebalance"], from: t - Self.faultReach, to: t) {
                    cause = "partitions moved with no fault injected, e.g. a worker starved past its session timeout (windows 1-2)"
                } else {
                    cause = "unexplained"
                }
                duplicatesByCause[cause, default: 0] += 1
                if cause == "unexplained" {
                    fail("duplicates", at: t, "\(push.kind.rawValue) push of \(push.callId ?? "") delivered again with no fault or ambiguous retry to explain it; \(history(push))")
                }
            }
        }
        counts["duplicates"] = duplicates
        figures["duplicate_rate"] = delivered == 0 ? 0 : Double(duplicates) / Double(max(1, (o.apns + o.fcm).filter(\.delivered).count))
        result("duplicate deliveries only within the documented windows", since: mark,
               detail: "\(duplicates) duplicates: \(duplicatesByCause.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")

        // 6. Processes: no exit unasked, stops within the bound, memory bounded.
        mark = violations.count
        for exit in o.exits where !exit.expected {
            fail("processes", at: exit.at, "worker \(exit.slot) (generation \(exit.generation)) exited with status \(exit.status) without being told to: …\(exit.logTail.suffix(600))")
        }
        for stop in o.stopDurations where stop.seconds > Self.stopBound {
            fail("processes", at: nil, String(format: "worker %d took %.1f s to stop after SIGTERM (bound %.0f s)", stop.slot, stop.seconds, Self.stopBound))
        }
        let lives = Dictionary(grouping: o.rss) { "\($0.slot)-\($0.generation)" }
        var peak = 0.0
        for (life, samples) in lives {
            let mib = samples.map { Double($0.kilobytes) / 1024 }
            peak = max(peak, mib.max() ?? 0)
            if let worst = mib.max(), worst > Self.rssCeilingMiB {
                fail("processes", at: samples.last?.at, "worker \(life) reached \(Int(worst)) MiB resident")
            }
            guard samples.count >= 40 else { continue }
            let q = samples.count / 4
            let second = mib[q..<(2 * q)].max() ?? 0, last = mib[(3 * q)...].max() ?? 0
            if last > 2 * second && last - second > Self.rssGrowthMiB {
                fail("processes", at: samples.last?.at, "worker \(life) grew from \(Int(second)) to \(Int(last)) MiB resident")
            }
        }
        figures["worker_rss_peak_mib"] = peak
        figures["slowest_stop_s"] = o.stopDurations.map(\.seconds).max() ?? 0
        result("workers exit only when told, stop within \(Int(Self.stopBound)) s of SIGTERM, memory bounded", since: mark,
               detail: String(format: "%d stops, slowest %.1f s; peak RSS %.0f MiB over %d worker lives", o.stopDurations.count,
                              figures["slowest_stop_s"] ?? 0, peak, lives.count))

        // 7. Every events partition makes progress.
        mark = violations.count
        var worstWait = 0.0
        var byPartition: [Int32: (wait: Double, push: SimulatedInput, acknowledged: Double)] = [:]
        for push in pushes {
            guard let acknowledged = push.acknowledged, let partition = push.partition else { continue }
            // Its first trace: an outcome of its own, or the first state write of its call once
            // it was in Kafka (a message whose push was in flight when its lane closed, answered
            // by its 180 before the next owner restored it, has no outcome of its own, yet was
            // acted on). An input with neither waited until the drain ended (and fails the trace
            // check too).
            let firstWrite = (push.callId.flatMap { o.stateWrites[$0] } ?? []).map(\.at).filter { $0 >= acknowledged - 1 }.min()
            let first = ((outcomesByEvent[push.eventId ?? ""] ?? []).map(\.at) + (firstWrite.map { [$0] } ?? [])).min() ?? o.drainEnd
            let wait = first - acknowledged
            if wait > byPartition[partition]?.wait ?? -1 { byPartition[partition] = (wait, push, acknowledged) }
            worstWait = max(worstWait, wait)
        }
        for (partition, worst) in byPartition.sorted(by: { $0.key < $1.key }) where worst.wait > Self.progressBound {
            fail("progress", at: worst.acknowledged, String(
                format: "events partition %d: an input waited %.1f s for its first outcome or state write (%@ acknowledged at %.1f s, offset %lld); %@",
                partition, worst.wait, worst.push.eventId ?? "?", worst.acknowledged, worst.push.offset ?? -1, history(worst.push)))
        }
        figures["longest_wait_for_first_outcome_s"] = worstWait
        result("every events partition has an owner making progress within \(Int(Self.progressBound)) s", since: mark,
               detail: String(format: "longest wait of an input for its first outcome or state write %.1f s", worstWait))

        // 8. Register wake-up: a binding due for three ticks before the drain ended was woken. Not
        // two: with a worker fault every few seconds, the owner of a registrations partition can
        // be frozen or dead at two ticks in a row (its new owner's first tick is the one after it
        // began restoring); three in a row, 60 s apart, would take a fault much longer than any.
        mark = violations.count
        var woken = 0, due = 0
        let wakeups = Set(o.outcomes.filter { $0.record.pushType == .wakeup }.compactMap(\.record.registration))
        for registration in o.inputs where registration.kind == .registration {
            guard let dueAt = registration.acknowledged.map({ $0 + ChaosRun.wakeupDueAfter }) else { continue }
            guard let expiry = registration.acknowledged.map({ $0 + Double(ChaosRun.registrationExpires) }),
                  ticks(from: dueAt, to: min(expiry, o.drainEnd)) >= 3 else { continue }
            due += 1
            if wakeups.contains(registration.registration ?? "") { woken += 1 } else {
                fail("wake-up", at: dueAt, "\(registration.registration ?? "") was due for three ticks and got no wake-up outcome")
            }
        }
        result("a registration due for three wake-up ticks gets a wake-up", since: mark, detail: "\(woken) of \(due) due registrations woken")

        // 9. A worker cut off the broker stops sending within its session timeout.
        let partitionName = "a worker cut off from the broker stops sending within its session timeout (6 s) + 4 s"
        if let cuts = o.partitions {
            mark = violations.count
            var latest = 0.0
            for cut in cuts {
                guard let after = cut.lastRequestAfter else { continue }
                latest = max(latest, after)
                if after > WorkerNetworks.stopBound {
                    fail("partition", at: cut.start + after, "worker \(cut.slot), cut off the broker at \(f1(cut.start)) s, still sent a provider request \(f1(after)) s later")
                }
            }
            figures["partitioned_worker_last_request_s"] = latest
            result(partitionName, since: mark,
                   detail: "\(cuts.count) partitions; the latest request of a cut-off worker came \(f1(latest).trimmingCharacters(in: .whitespaces)) s after its cut")
        } else {
            invariants.append(InvariantResult(name: partitionName, status: "not checked",
                                              detail: "\(o.partitionNote); broker partitions were played as SIGSTOPs"))
        }
        invariants.append(InvariantResult(
            name: "generic gateway under faults", status: "not checked",
            detail: "external-push-uri replaces every sender, so one fleet cannot push through APNs/FCM and the generic gateway at once; the generic sandbox is started but gets no traffic"))
    }

    /// True when the device answered (or the call ended) in the same moment a worker first read
    /// the call, before its push could be sent: the call's first state write (pending) and the one
    /// that stopped it (awake, done, final) are less than 2 s apart and no attempt was ever made.
    /// Happens when a call's events wait, unread, while its partition has no owner.
    private func answeredBeforeRead(_ push: SimulatedInput) -> Bool {
        guard let writes = push.callId.flatMap({ o.stateWrites[$0] }), let first = writes.first, first.phase == "pending",
              writes.allSatisfy({ $0.attempt == 0 }),
              let stop = writes.first(where: { $0.phase != "pending" }) else { return false }
        return stop.at - first.at < 2
    }

    /// What happened to one call, for a violation's detail: deliveries, outcomes, state writes.
    private func history(_ push: SimulatedInput) -> String {
        let got = (o.apns + o.fcm).filter { $0.key == push.token }.sorted { $0.at < $1.at }
            .map { "\(f1(seconds($0.at)).trimmingCharacters(in: .whitespaces))\($0.delivered ? "" : "(\($0.reply))")" }
        let outcomes = o.outcomes.filter { $0.record.callId == push.callId }.sorted { $0.at < $1.at }
            .map { "\(f1($0.at).trimmingCharacters(in: .whitespaces)) \($0.record.pushType?.rawValue ?? "-")#\($0.record.attempt) \($0.record.result.rawValue)\($0.record.requests.map { " requests=\($0)" } ?? "")\($0.record.result == .sent ? "" : " (\(($0.record.reason ?? "").prefix(80)))")" }
        let writes = (push.callId.flatMap { o.stateWrites[$0] } ?? [])
            .map { "\(f1($0.at).trimmingCharacters(in: .whitespaces)) \($0.phase ?? "tombstone")#\($0.attempt)" }
        return "event at \(f1(push.eventTime).trimmingCharacters(in: .whitespaces)) s; provider requests at \(got); outcomes \(outcomes); state \(writes)"
    }

    /// A ringing call's final alert, by its text (contract §2.3's default strings).
    static func isFinal(_ answer: SandboxAnswer) -> Bool {
        ["Missing call", "Accepted elsewhere", "Declined elsewhere"].contains { answer.request.bodyText.contains($0) }
    }

    private func timelineHas(_ kinds: Set<String>, from: Double, to: Double) -> Bool {
        o.timeline.contains { kinds.contains($0.kind) && $0.start <= to && ($0.end ?? $0.start) >= from }
    }

    /// Register wake-up ticks (wall-clock multiples of the interval) in [from, to].
    private func ticks(from: Double, to: Double) -> Int {
        let interval = Double(ChaosRun.wakeupIntervalMinutes * 60)
        let start = o.startedAt.timeIntervalSince1970
        let first = ((start + from) / interval).rounded(.up), last = ((start + to) / interval).rounded(.down)
        return max(0, Int(last - first) + 1)
    }
}

/// Reads a whole topic, every partition.
func readTopic(_ bootstrap: String, _ topic: String, partitions: Int) async throws -> (messages: [KafkaMessage], truncated: Bool) {
    let reader = KafkaPartitionReader(configuration: KafkaConfiguration(bootstrapServers: bootstrap, clientId: "chaos-checker"))
    var all: [KafkaMessage] = []
    var truncated = false
    for partition in 0..<Int32(partitions) {
        let part = KafkaTopicPartition(topic: topic, partition: partition)
        let messages = try await reader.readAll(part)
        if let first = messages.first, first.offset > 0 { truncated = true }
        all += messages
    }
    return (all, truncated)
}
