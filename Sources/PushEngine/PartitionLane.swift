import DequeModule
import Foundation
import Kafka
import Logging
import Metrics
import PushContract
import PushPolicy
import PushSenders

/// Topic names the engine reads and writes.
public struct EngineTopics: Sendable, Hashable {
    public var events: String
    public var registrations: String
    public var state: String
    public var outcomes: String
    public var deadLetter: String

    public init(events: String = ContractTopic.defaultName(.events), registrations: String = ContractTopic.defaultName(.registrations),
                state: String = ContractTopic.defaultName(.state), outcomes: String = ContractTopic.defaultName(.outcomes),
                deadLetter: String = ContractTopic.defaultName(.deadLetter)) {
        self.events = events
        self.registrations = registrations
        self.state = state
        self.outcomes = outcomes
        self.deadLetter = deadLetter
    }
}

/// The imperative shell of one events partition: the serial lane in which its records, timers
/// and send results are applied to its `PartitionCore`, one at a time.
///
/// - Important: every schedule change is produced to the state partition (same number) before
///   the offset of the input that caused it is stored; offsets advance only over inputs whose
///   writes (state, outcomes, dead letters) were all acknowledged, in input order (`WriteLedger`).
/// - Important: once `drain` returns the lane is closed: it writes no state, stores no offset
///   and fires no timer, whatever is still in flight, so that it never writes state next to the
///   partition's new owner. The one thing it still writes is the `push.outcome` of an attempt
///   that ends later (the outcomes topic is a log, and every attempt gets one).
actor PartitionLane<Core: LaneCore> {
    let partition: KafkaTopicPartition
    /// Where this lane's state records go: the events partition's number for schedules, the
    /// registrations partition's number modulo the state partition count for wake-up markers.
    private let statePartition: Int32
    private var core: Core
    private let clock: any PushClock
    private let senders: any PushSending
    private let producer: KafkaProducer
    private let topics: EngineTopics
    private let storeOffset: @Sendable (Int64) -> Void
    /// Told when the lane starts (true) or stops (false) needing its partition paused.
    private let onPressure: @Sendable (Bool) -> Void
    private var pressured = false
    private let logger: Logger
    /// This partition's gauges, looked up once: `perform` sets them after every step.
    private let pendingGauge: Gauge
    private let inFlightGauge: Gauge
    private let gaugeLabels: [(String, String)]
    /// Read by `/health` without awaiting the lane.
    nonisolated let progress = LaneProgress()

    private var ledger = WriteLedger()
    private var sendsInFlight = 0
    /// Draining: no new input or timer; sends in flight still complete and are recorded.
    private var stopped = false
    /// Drained (or given up on): nothing more is written or stored.
    private var closed = false
    private var timerLoop: Task<Void, Never>?
    private var sleeper: (deadline: EventTime, task: Task<Void, any Error>)?
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var retryTasks: [Int: Task<Void, Never>] = [:]
    /// The `OwnerEpoch` header on every state record this lane writes (none in benchmarks).
    private let ownerHeaders: [KafkaHeader]
    /// Says when the worker may have lost its partitions (nil: never, as in benchmarks).
    private let ownership: OwnershipGuard?
    /// Inputs and send results held while ownership is in doubt, applied in order once it is
    /// confirmed, dropped when the lane closes.
    private var held: [HeldStep] = []
    private var release: Task<Void, Never>?
    /// A write stall was logged and not yet its end; when it began.
    private var stallNoted = false
    private var stallBegan: ContinuousClock.Instant?
    /// After a stall longer than the session timeout: hold until then (or the revoke).
    private var suspectUntil: ContinuousClock.Instant?

    private enum HeldStep {
        case input([KafkaMessage])
        case completion(SendOrder, SendOutcome)
    }

    init(partition: KafkaTopicPartition, statePartition: Int32, core: Core, clock: any PushClock, senders: any PushSending,
         producer: KafkaProducer, ownerEpoch: Int64? = nil, topics: EngineTopics, logger: Logger, ownership: OwnershipGuard? = nil,
         onPressure: @escaping @Sendable (Bool) -> Void = { _ in }, storeOffset: @escaping @Sendable (Int64) -> Void) {
        self.ownership = ownership
        ownerHeaders = ownerEpoch.map { [OwnerEpoch.header($0)] } ?? []
        self.partition = partition
        self.statePartition = statePartition
        self.core = core
        self.clock = clock
        self.senders = senders
        self.producer = producer
        self.topics = topics
        self.logger = logger
        self.storeOffset = storeOffset
        self.onPressure = onPressure
        let labels = [("partition", String(partition.partition))]
        gaugeLabels = labels
        pendingGauge = EngineMetrics.gauge(Core.pendingMetric, labels)
        inFlightGauge = EngineMetrics.gauge(Core.inFlightMetric, labels)
    }

    var pendingSchedules: Int { core.pendingCount }

    /// Starts the timer loop (after restore).
    func start() {
        timerLoop = Task { await self.runTimers() }
    }

    /// Applies a batch of records of this partition, in offset order (held first while the
    /// worker may have lost the partition).
    func handle(_ messages: [KafkaMessage]) {
        guard !stopped, !messages.isEmpty else { return }
        if mustHold() { return hold(.input(messages)) }
        apply(messages)
    }

    /// `fireDue: false` while applying held steps: timers that came due during the hold fire
    /// once after all of them, or a ring due at the hold's start would go out before a held
    /// `call.ended` that came after it.
    private func apply(_ messages: [KafkaMessage], fireDue: Bool = true) {
        guard !stopped, let last = messages.last else { return }
        let now = clock.now()
        var actions: [CoreAction] = []
        for message in messages {
            actions.append(contentsOf: core.handle(message, now: now))
        }
        if fireDue { actions.append(contentsOf: core.fireDue(now: now)) }
        perform(actions, offset: last.offset)
        rearm()
    }

    /// Stops timers and new input, waits at most `timeout` for sends in flight and for every
    /// write to be acknowledged (so the final offsets can be committed by the revoke), then
    /// closes the lane. Past the timeout, what was not recorded may be repeated by the next
    /// owner (the documented duplicate window); it is never written by this lane any more.
    func drain(timeout: Duration) async {
        guard !closed else { return }  // closed by a fatal error: nothing left to wait for
        stopped = true
        timerLoop?.cancel()
        sleeper?.task.cancel()
        if !isIdle {
            let timer = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                await self?.wakeIdleWaiters(force: true)
            }
            await withCheckedContinuation { idleWaiters.append($0) }
            timer.cancel()
        }
        if !isIdle {
            logger.warning("partition drain timed out", metadata: [
                "partition": "\(partition)", "sendsInFlight": "\(sendsInFlight)", "writesPending": "\(ledger.outstanding)",
                "timeout": "\(timeout)"])
        }
        close()
    }

    /// Closes at once (the worker is failing): nothing more is written or stored.
    func close() {
        stopped = true
        closed = true
        timerLoop?.cancel()
        sleeper?.task.cancel()
        retryTasks.values.forEach { $0.cancel() }
        retryTasks = [:]
        // Held inputs are the next owner's to read again; held attempts were made, and keep
        // their outcome.
        for case .completion(let order, let outcome) in held { recordOutcomeOnly(order, outcome) }
        held = []
        release?.cancel()
        release = nil
        progress.update(busy: false, progressed: false)
        wakeIdleWaiters(force: true)
        // The partition's series go with it (its new owner exports them).
        EngineMetrics.destroyGauge(Core.pendingMetric, gaugeLabels)
        EngineMetrics.destroyGauge(Core.inFlightMetric, gaugeLabels)
    }

    private var isIdle: Bool { sendsInFlight == 0 && ledger.isEmpty && held.isEmpty }

    // MARK: - Ownership in doubt

    /// Whether this step must wait: something is held already (order is kept), or the worker
    /// may have lost its partitions (`OwnershipGuard`).
    private func mustHold() -> Bool {
        if !held.isEmpty { return true }
        // Released by the acknowledgement that ends the stall (`written`). Asked first: the
        // end of a stall longer than the session timeout starts a suspicion.
        if writesStalled() { return true }
        if let until = ownership?.holdUntil() ?? suspicion() {
            scheduleRelease(at: until)
            return true
        }
        return false
    }

    /// Until when the lane holds after a write stall longer than the session timeout (nil: it
    /// need not). The worker was cut off or the broker down long enough for the group to have
    /// moved the partition; if librdkafka still says nothing, its coordinator connection may be
    /// silent rather than refused, and it learns the truth only at `socket.timeout.ms`
    /// (chaos seed 2026: a cut-off worker whose writes were acknowledged again rang a call its
    /// successor had ended, for 34 s). The revoke, if it comes, closes the lane first.
    private func suspicion(now: ContinuousClock.Instant = .now) -> ContinuousClock.Instant? {
        guard let until = suspectUntil else { return nil }
        if now < until { return until }
        suspectUntil = nil
        return nil
    }

    /// Whether the broker has left a write of this lane unacknowledged past the bound
    /// (`OwnershipGuard.writeStallBound`): an outage, or this worker cut off from it. Nothing
    /// more is done for the partition (no send, no timer, no input) until it answers; past the
    /// session timeout the partition may have a new owner. Logged once per stall.
    private func writesStalled(now: ContinuousClock.Instant = .now) -> Bool {
        guard let bound = ownership?.writeStallBound, let since = ledger.oldestUnacknowledged, now - since > bound else {
            if stallNoted, let ownership, let began = stallBegan {
                stallNoted = false
                stallBegan = nil
                if now - began > ownership.sessionTimeout {
                    let until = began + ownership.lossDetectionBound
                    suspectUntil = until
                    logger.warning("broker acknowledged the lane's writes again after longer than the session timeout; the lane holds until the group confirms the partition or revokes it", metadata: [
                        "partition": "\(partition)", "stalled": "\(now - began)", "holdsFor": "\(until - now)"])
                } else {
                    // The broker was silent for longer than the stall shows (it began before
                    // this lane's first unanswered write), maybe past the session timeout: a
                    // heartbeat round trip first, so a revoke on its way closes the lane before
                    // it fires what fell due (chaos seed 16: rings sent a second before the
                    // partition moved, whose calls then got no final push).
                    suspectUntil = now + ownership.confirmWindow
                    logger.info("broker acknowledged the lane's writes again; held work is applied after a heartbeat round trip", metadata: [
                        "partition": "\(partition)", "stalled": "\(now - began)"])
                }
            }
            return false
        }
        if !stallNoted {
            stallNoted = true
            stallBegan = since
            EngineMetrics.counter(EngineMetrics.writeStalls).increment()
            logger.warning("a write has waited past the bound for the broker's acknowledgement; the lane holds its work until it comes", metadata: [
                "partition": "\(partition)", "waited": "\(now - since)", "bound": "\(bound)"])
        }
        return true
    }

    private func hold(_ step: HeldStep) {
        held.append(step)
        EngineMetrics.counter(EngineMetrics.heldSteps).increment()
        progress.update(busy: true, progressed: false)
    }

    private func scheduleRelease(at until: ContinuousClock.Instant) {
        guard release == nil else { return }
        release = Task {
            try? await Task.sleep(until: until, clock: .continuous)
            guard !Task.isCancelled else { return }
            self.releaseHeld()
        }
    }

    /// Applies what was held once ownership is no longer in doubt; holds on while it is. A lane
    /// closed meanwhile (the partition was lost) has dropped it: the new owner does that work.
    private func releaseHeld() {
        release = nil
        guard !closed, !held.isEmpty else { return }
        if let until = ownership?.holdUntil() ?? suspicion() { return scheduleRelease(at: until) }
        if writesStalled() { return }  // the acknowledgement that ends it releases them
        if let until = suspicion() { return scheduleRelease(at: until) }  // the stall just ended, too long
        let steps = held
        held = []
        logger.info("ownership confirmed; applying held work", metadata: ["partition": "\(partition)", "steps": "\(steps.count)"])
        for step in steps {
            switch step {
            case .input(let messages): apply(messages, fireDue: false)
            case .completion(let order, let outcome): apply(order, outcome, fireDue: false)
            }
        }
        if !stopped {
            let due = core.fireDue(now: clock.now())
            if !due.isEmpty { perform(due, offset: nil) }
        }
        rearm()
        wakeIdleWaiters()
    }

    // MARK: - Actions

    private func perform(_ actions: [CoreAction], offset: Int64?) {
        guard !closed else { return }
        EngineMetrics.record(actions)
        defer {
            pendingGauge.record(core.pendingCount)
            inFlightGauge.record(sendsInFlight)
            progress.update(busy: !isIdle, progressed: false)
            checkPressure()
        }
        var records: [KafkaProducerRecord] = []
        records.reserveCapacity(actions.count)
        for action in actions {
            switch action {
            case .state(let key, let record):
                records.append(stateRecord(key: key, record))
            case .outcome(let outcome):
                records.append(outcomeRecord(outcome))
            case .deadLetter(let letter):
                records.append(KafkaProducerRecord(topic: topics.deadLetter, key: letter.key, value: RecordEncoder.encode(letter)))
            case .send(let order):
                // A draining lane starts no send: the partition's next owner makes it (from the
                // schedule), and a send started now would outlive the lane.
                if !stopped { launch(order) }
            }
        }
        write(records, offset: offset)
    }

    private func outcomeRecord(_ outcome: PushOutcome) -> KafkaProducerRecord {
        KafkaProducerRecord(topic: topics.outcomes, key: Array((outcome.callId ?? outcome.registration ?? "").utf8),
                            value: RecordEncoder.encode(outcome))
    }

    private func stateRecord(key: String, _ record: ScheduleRecord?) -> KafkaProducerRecord {
        KafkaProducerRecord(topic: topics.state, partition: statePartition, key: Array(key.utf8),
                            value: record.map { RecordEncoder.encode($0) }, headers: ownerHeaders)
    }

    private func write(_ records: [KafkaProducerRecord], offset: Int64?) {
        let (sequence, store) = ledger.begin(offset: offset, empty: records.isEmpty)
        if let store { storeOffset(store) }
        guard !records.isEmpty else {
            wakeIdleWaiters()
            return
        }
        enqueue(records, sequence: sequence, attempt: 0)
    }

    private func enqueue(_ records: [KafkaProducerRecord], sequence: Int, attempt: Int) {
        producer.enqueue(records) { results in
            Task { await self.written(sequence: sequence, records: records, results: results, attempt: attempt) }
        }
    }

    /// Applies the delivery reports of one step's writes. Transient failures are re-sent after
    /// a capped exponential backoff (the step's offset waits); a record the broker refuses for
    /// good is replaced by a dead letter naming it, so the lane moves on; a fatal error is the
    /// worker's to handle (the producer is unusable: it exits, and nothing here is stored).
    private func written(sequence: Int, records: [KafkaProducerRecord], results: [Result<KafkaDeliveryReport, KafkaError>], attempt: Int) {
        retryTasks[sequence] = nil
        guard !closed else { return }
        var retry: [KafkaProducerRecord] = []
        var transient = false
        for (record, result) in zip(records, results) {
            guard case .failure(let error) = result else { continue }
            if error.isFatal {
                // The producer's fatal handler stops the worker; this step is never acknowledged.
                return
            }
            if error.isPermanentForRecord {
                EngineMetrics.counter(EngineMetrics.writesRefused, [("topic", metricTopic(record.topic))]).increment()
                logger.error("write refused for good; dead-lettered", metadata: [
                    "topic": "\(record.topic)", "partition": "\(partition)", "error": "\(error)"])
                if record.topic != topics.deadLetter {
                    retry.append(refusedWriteLetter(record, error: error))
                }
                continue
            }
            transient = true
            if attempt == 0 {
                logger.warning("write failed, retrying with backoff", metadata: [
                    "topic": "\(record.topic)", "partition": "\(partition)", "error": "\(error)"])
            }
            EngineMetrics.counter(EngineMetrics.writeRetries).increment()
            if record.topic == topics.state, let key = record.key.map({ String(decoding: $0, as: UTF8.self) }) {
                // Re-send the *current* state of the key: an older value must never land after
                // a newer one that may have been acknowledged meanwhile.
                retry.append(stateRecord(key: key, core.currentState(key: key)))
            } else {
                retry.append(record)
            }
        }
        if !retry.isEmpty {
            let again = retry
            guard transient else { return enqueue(again, sequence: sequence, attempt: attempt) }
            let delay = WriteBackoff.delay(attempt: attempt)
            retryTasks[sequence] = Task {
                try? await Task.sleep(for: delay)
                guard !Task.isCancelled else { return }
                self.retryWrite(again, sequence: sequence, attempt: attempt + 1)
            }
            return
        }
        if attempt > 0 {
            logger.info("write succeeded after retries", metadata: ["partition": "\(partition)", "retries": "\(attempt)"])
        }
        if let store = ledger.complete(sequence) { storeOffset(store) }
        if !held.isEmpty && release == nil { releaseHeld() }
        // Busy only if work remains: a lane left "busy" after its last write looked stalled
        // to /health once it had been idle for the bound.
        progress.update(busy: !isIdle, progressed: true)
        checkPressure()
        wakeIdleWaiters()
    }

    /// Most steps whose writes may wait unacknowledged, and sends in flight, before the lane
    /// asks for its partition to be paused: what a backlog costs in memory stays bounded
    /// (a step holds its records until acknowledged; a send, its request and task).
    static var maxOutstandingWrites: Int { 2_000 }
    static var maxSendsInFlight: Int { 5_000 }

    /// Back-pressure instead of drops: while pushes wait for room at their destination, or the
    /// lane holds too many unacknowledged writes or sends, its partition is paused (nothing new
    /// is read, nothing blocks a thread); it resumes when they drain.
    private func checkPressure() {
        let now = !closed && (core.isCongested || ledger.outstanding > Self.maxOutstandingWrites || sendsInFlight > Self.maxSendsInFlight)
        guard now != pressured else { return }
        pressured = now
        onPressure(now)
    }

    private func retryWrite(_ records: [KafkaProducerRecord], sequence: Int, attempt: Int) {
        guard !closed else { return }
        if let until = ownership?.holdUntil() {
            // A retry due while the worker was paused re-sends this lane's view of the keys:
            // not before the group has confirmed the partition is still this lane's.
            retryTasks[sequence] = Task {
                try? await Task.sleep(until: until, clock: .continuous)
                guard !Task.isCancelled else { return }
                self.retryWrite(records, sequence: sequence, attempt: attempt)
            }
            return
        }
        enqueue(records, sequence: sequence, attempt: attempt)
    }

    /// A dead letter standing for a record the broker will never take (too large, invalid): it
    /// names the lane's input position, the topic refused and why, and carries the record.
    private func refusedWriteLetter(_ record: KafkaProducerRecord, error: KafkaError) -> KafkaProducerRecord {
        let offset = ledger.lastInputOffset ?? 0
        let letter = DeadLetter.capturing(
            header: RecordHeader(id: RecordHeader.derivedId("dl.write", "\(partition.topic.prefix(80)).\(partition.partition).\(offset)"), time: clock.now()),
            source: RecordSource(topic: partition.topic, partition: partition.partition, offset: offset),
            error: "$: the write to \(record.topic) that this input caused was refused: \(error)",
            key: record.key, value: record.value)
        return KafkaProducerRecord(topic: topics.deadLetter, key: record.key, value: RecordEncoder.encode(letter))
    }

    private func metricTopic(_ topic: String) -> String {
        switch topic {
        case topics.state: "state"
        case topics.outcomes: "outcomes"
        case topics.deadLetter: "dead-letter"
        default: "other"
        }
    }

    private func launch(_ order: SendOrder) {
        sendsInFlight += 1
        let senders = self.senders
        Task {
            let started = ContinuousClock.now
            let outcome = await senders.send(order.request, deadline: order.deadline)
            EngineMetrics.timer(EngineMetrics.sendLatency, [("provider", outcome.provider)]).recordNanoseconds(
                (ContinuousClock.now - started).nanoseconds)
            self.completed(order, outcome)
        }
    }

    private func completed(_ order: SendOrder, _ outcome: SendOutcome) {
        sendsInFlight -= 1
        guard !closed else {
            // The partition has a new owner, which repeats this push if its schedule still
            // wants it (the duplicate window). The attempt was made all the same: its outcome
            // is recorded, as every attempt's is.
            return recordOutcomeOnly(order, outcome)
        }
        if mustHold() { return hold(.completion(order, outcome)) }
        apply(order, outcome)
    }

    private func apply(_ order: SendOrder, _ outcome: SendOutcome, fireDue: Bool = true) {
        progress.update(busy: true, progressed: true)
        let now = clock.now()
        var actions = core.completed(order, outcome: outcome, now: now)
        if fireDue && !stopped { actions.append(contentsOf: core.fireDue(now: now)) }
        perform(actions, offset: nil)
        rearm()
    }

    /// The `push.outcome` of an attempt that ended after the lane closed (a send that outlived
    /// the drain timeout, or held while the partition was being lost), and nothing else: no
    /// state, no offset, no timer. The outcomes topic is a log, not state, so a former owner's
    /// record there misleads nobody; without it that attempt would have no outcome at all when
    /// the next owner has no reason to repeat it (the device answered meanwhile).
    private func recordOutcomeOnly(_ order: SendOrder, _ outcome: SendOutcome) {
        let outcomes = core.completed(order, outcome: outcome, now: clock.now()).filter {
            if case .outcome = $0 { true } else { false }
        }
        guard !outcomes.isEmpty else { return }
        EngineMetrics.record(outcomes)
        producer.enqueue(outcomes.compactMap { if case .outcome(let o) = $0 { outcomeRecord(o) } else { nil } }) { _ in }
    }

    /// Resumes `drain` when the lane is idle, or at once with `force` (its timeout, or close).
    private func wakeIdleWaiters(force: Bool = false) {
        guard force || isIdle, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters = []
        waiters.forEach { $0.resume() }
    }

    // MARK: - Timers

    private func runTimers() async {
        while !stopped && !Task.isCancelled {
            if let until = ownership?.holdUntil() {
                // No timer fires while the worker may have lost the partition.
                scheduleRelease(at: until)
                try? await Task.sleep(until: until, clock: .continuous)
                continue
            }
            if writesStalled() {
                // No timer fires while the broker leaves this lane's writes unacknowledged;
                // checked again shortly (its acknowledgement may come at any moment).
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            if let until = suspicion() {
                try? await Task.sleep(until: until, clock: .continuous)
                continue
            }
            if !held.isEmpty {
                // The hold ended but its release has not run yet: held steps go first.
                release?.cancel()
                release = nil
                releaseHeld()
                continue
            }
            let now = clock.now()
            let actions = core.fireDue(now: now)
            if !actions.isEmpty { perform(actions, offset: nil) }
            let deadline = core.nextDeadline ?? now.adding(milliseconds: 3_600_000)
            let clock = self.clock
            let task = Task { try await clock.sleep(until: deadline) }
            sleeper = (deadline, task)
            _ = try? await task.value
            sleeper = nil
        }
    }

    /// Wakes the timer loop early when a new deadline is earlier than the one it sleeps until.
    private func rearm() {
        guard let sleeper, let next = core.nextDeadline, next < sleeper.deadline else { return }
        sleeper.task.cancel()
    }
}

/// How long a lane waits before re-sending a write that failed transiently: 100 ms doubling to
/// 5 s, so a broker outage costs one retry per lane every few seconds, not a busy loop.
enum WriteBackoff {
    static func delay(attempt: Int) -> Duration {
        .milliseconds(min(5_000, 100 << min(attempt, 6)))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
