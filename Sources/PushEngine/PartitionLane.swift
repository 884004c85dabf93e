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

    public init(events: String = "pushfleet.events", registrations: String = "pushfleet.registrations", state: String = "pushfleet.state",
                outcomes: String = "pushfleet.outcomes", deadLetter: String = "pushfleet.dead-letter") {
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
///   writes (state, outcomes, dead letters) were all acknowledged, in input order.
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
    private let logger: Logger
    /// This partition's gauges, looked up once: `perform` sets them after every step.
    private let pendingGauge: Gauge
    private let inFlightGauge: Gauge

    /// Writes not yet acknowledged, in order; `offset` is the input offset they complete.
    private var pending = Deque<PendingWrite>()
    private var nextSequence = 0
    private var sendsInFlight = 0
    private var stopped = false
    private var timerLoop: Task<Void, Never>?
    private var sleeper: (deadline: EventTime, task: Task<Void, any Error>)?
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []

    private struct PendingWrite {
        var sequence: Int
        var offset: Int64?
        var done: Bool
    }

    init(partition: KafkaTopicPartition, statePartition: Int32, core: Core, clock: any PushClock, senders: any PushSending,
         producer: KafkaProducer, topics: EngineTopics, logger: Logger, storeOffset: @escaping @Sendable (Int64) -> Void) {
        self.partition = partition
        self.statePartition = statePartition
        self.core = core
        self.clock = clock
        self.senders = senders
        self.producer = producer
        self.topics = topics
        self.logger = logger
        self.storeOffset = storeOffset
        let labels = [("partition", String(partition.partition))]
        pendingGauge = EngineMetrics.gauge(Core.pendingMetric, labels)
        inFlightGauge = EngineMetrics.gauge(Core.inFlightMetric, labels)
    }

    var pendingSchedules: Int { core.pendingCount }

    /// Starts the timer loop (after restore).
    func start() {
        timerLoop = Task { await self.runTimers() }
    }

    /// Applies a batch of records of this partition, in offset order.
    func handle(_ messages: [KafkaMessage]) {
        guard !stopped, let last = messages.last else { return }
        let now = clock.now()
        var actions: [CoreAction] = []
        for message in messages {
            actions.append(contentsOf: core.handle(message, now: now))
        }
        actions.append(contentsOf: core.fireDue(now: now))
        perform(actions, offset: last.offset)
        rearm()
    }

    /// Stops timers, waits (up to `timeout`) for sends in flight and for every write to be
    /// acknowledged, so the final offsets can be committed by the revoke.
    func drain(timeout: Duration) async {
        stopped = true
        timerLoop?.cancel()
        sleeper?.task.cancel()
        let deadline = ContinuousClock.now + timeout
        while !isIdle, ContinuousClock.now < deadline {
            await withCheckedContinuation { idleWaiters.append($0) }
        }
        if !isIdle {
            logger.warning("partition drain timed out", metadata: [
                "partition": "\(partition)", "sendsInFlight": "\(sendsInFlight)", "writesPending": "\(pending.count)"])
        }
    }

    private var isIdle: Bool { sendsInFlight == 0 && pending.isEmpty }

    // MARK: - Actions

    private func perform(_ actions: [CoreAction], offset: Int64?) {
        EngineMetrics.record(actions)
        defer {
            pendingGauge.record(core.pendingCount)
            inFlightGauge.record(sendsInFlight)
        }
        var records: [KafkaProducerRecord] = []
        records.reserveCapacity(actions.count)
        for action in actions {
            switch action {
            case .state(let key, let record):
                records.append(stateRecord(key: key, record))
            case .outcome(let outcome):
                records.append(KafkaProducerRecord(
                    topic: topics.outcomes, key: Array((outcome.callId ?? outcome.registration ?? "").utf8),
                    value: RecordEncoder.encode(outcome)))
            case .deadLetter(let letter):
                records.append(KafkaProducerRecord(topic: topics.deadLetter, key: letter.key, value: RecordEncoder.encode(letter)))
            case .send(let order):
                launch(order)
            }
        }
        write(records, offset: offset)
    }

    private func stateRecord(key: String, _ record: ScheduleRecord?) -> KafkaProducerRecord {
        KafkaProducerRecord(topic: topics.state, partition: statePartition, key: Array(key.utf8),
                            value: record.map { RecordEncoder.encode($0) })
    }

    private func write(_ records: [KafkaProducerRecord], offset: Int64?) {
        let sequence = nextSequence
        nextSequence += 1
        pending.append(PendingWrite(sequence: sequence, offset: offset, done: records.isEmpty))
        if records.isEmpty {
            advance()
            return
        }
        producer.enqueue(records) { results in
            Task { await self.written(sequence: sequence, records: records, results: results) }
        }
    }

    private func written(sequence: Int, records: [KafkaProducerRecord], results: [Result<KafkaDeliveryReport, KafkaError>]) {
        var retry: [KafkaProducerRecord] = []
        for (record, result) in zip(records, results) {
            guard case .failure(let error) = result else { continue }
            logger.warning("write failed, retrying", metadata: ["topic": "\(record.topic)", "error": "\(error)"])
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
            producer.enqueue(again) { results in
                Task { await self.written(sequence: sequence, records: again, results: results) }
            }
            return
        }
        if let index = pending.firstIndex(where: { $0.sequence == sequence }) {
            pending[index].done = true
        }
        advance()
    }

    /// Stores the offset after the last input whose writes, and all writes before them, are done.
    private func advance() {
        var offset: Int64?
        while let first = pending.first, first.done {
            if let o = first.offset { offset = o }
            pending.removeFirst()
        }
        if let offset { storeOffset(offset + 1) }
        wakeIdleWaiters()
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
        let now = clock.now()
        var actions = core.completed(order, outcome: outcome, now: now)
        if !stopped { actions.append(contentsOf: core.fireDue(now: now)) }
        perform(actions, offset: nil)
        rearm()
    }

    private func wakeIdleWaiters() {
        guard isIdle, !idleWaiters.isEmpty else { return }
        let waiters = idleWaiters
        idleWaiters = []
        waiters.forEach { $0.resume() }
    }

    // MARK: - Timers

    private func runTimers() async {
        while !stopped && !Task.isCancelled {
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

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
