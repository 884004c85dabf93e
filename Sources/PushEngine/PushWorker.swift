import Foundation
public import Kafka
public import Logging
public import PushContract
public import PushPolicy
public import PushSenders
public import ServiceLifecycle
import Synchronization

/// Why a worker could not start: names the setting.
public struct WorkerStartError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One worker of the fleet: a member of the consumer group that owns some events partitions.
///
/// For each partition it is assigned it first restores the schedules of the state partition of
/// the same number (latest value per key, tombstones delete), then takes the partition's records;
/// on revoke it finishes in-flight sends, waits for every write, and lets the offsets commit.
/// Stateless otherwise: losing a worker loses nothing, the new owner restores and fires the
/// timers at their absolute deadlines.
public final class PushWorker: Service, KafkaRebalanceHandler {
    public let topics: EngineTopics
    private let kafka: KafkaConfiguration
    private let groupId: String
    private let policy: BranchPolicy
    private let timing: EngineTiming
    private let senders: any PushSending
    private let clock: any PushClock
    private let logger: Logger
    private let producer: KafkaProducer
    /// Lanes of the owned partitions, and assigned partitions whose restore failed (retried):
    /// one lock, so a retry that succeeds and a revoke never both decide about a partition.
    private let owned = Mutex(Ownership())
    /// Partition count of the state topic (wake-up markers of registrations partition N live in
    /// state partition N modulo it).
    private let statePartitionCount = Mutex<Int32>(1)
    private let consumer = ConsumerSlot()
    /// Partitions being restored right now (the worker is not ready while any is).
    private let restoring = Mutex<Int>(0)
    /// How long a revoke waits for sends in flight and writes (all revoked partitions drain
    /// together); past it the new owner may repeat a push whose result was not recorded (the
    /// documented duplicate window).
    public let drainTimeout: Duration
    /// When `/health` reports the worker wedged.
    public let health: WorkerHealthBounds
    /// The first fatal error (Kafka client unusable): the worker stops and `run` throws it.
    private let fatal = Mutex<WorkerFatalError?>(nil)
    /// Told once about a fatal error, as the worker starts stopping (e.g. to bound the exit).
    private let onFatal: @Sendable (WorkerFatalError) -> Void
    /// Holds every lane's work after a pause of this process, or while librdkafka says the
    /// assignment is lost, so a worker evicted by its group does not write next to the new owner.
    private let ownership: OwnershipGuard

    public init(
        config: PushFleetConfig, senders: any PushSending, clock: any PushClock = SystemClock(),
        timing: EngineTiming = EngineTiming(), drainTimeout: Duration = .seconds(10),
        health: WorkerHealthBounds = WorkerHealthBounds(),
        logger: Logger = Logger(label: "pushfleet.worker"),
        onFatal: @escaping @Sendable (WorkerFatalError) -> Void = { _ in }
    ) throws {
        self.drainTimeout = drainTimeout
        self.health = health
        self.onFatal = onFatal
        guard let bootstrap = config.kafka.bootstrapServers else {
            throw WorkerStartError("[kafka] bootstrap-servers is not set")
        }
        do {
            policy = try BranchPolicy(options: config.pushNotification, router: config.router)
        } catch {
            throw WorkerStartError("[module::PushNotification] filter: \(error)")
        }
        kafka = KafkaConfiguration(bootstrapServers: bootstrap, clientId: "pushfleet-worker", properties: config.kafka.rdkafka.map { ($0.0, $0.1) })
        groupId = config.kafka.groupId
        topics = EngineTopics(
            events: config.kafka.eventsTopic, registrations: config.kafka.registrationsTopic, state: config.kafka.stateTopic,
            outcomes: config.kafka.outcomesTopic, deadLetter: config.kafka.deadLetterTopic)
        self.senders = senders
        self.clock = clock
        self.timing = timing
        self.logger = logger
        if let notice = policy.startupNotice { logger.notice("\(notice)") }
        let consumer = self.consumer
        ownership = OwnershipGuard(
            sessionTimeout: .milliseconds(kafka.property("session.timeout.ms").flatMap(Int.init) ?? 45_000),
            heartbeatInterval: .milliseconds(kafka.property("heartbeat.interval.ms").flatMap(Int.init) ?? 3_000),
            socketTimeout: .milliseconds(kafka.property("socket.timeout.ms").flatMap(Int.init) ?? 60_000),
            logger: logger, assignmentLost: { consumer.withLock { $0 }?.isAssignmentLost ?? false })
        producer = try KafkaProducer(configuration: kafka.filtered(for: .producer))
        producer.onFatalError { [weak self] error in self?.fail(error) }
        // Counters that alert rules read exist from the start (0, not absent).
        for direction in EventTimeRule.Direction.allCases {
            _ = EngineMetrics.counter(EngineMetrics.eventTimeReplaced, [("direction", direction.rawValue)])
        }
        _ = EngineMetrics.counter(EngineMetrics.deadLetters)
        _ = EngineMetrics.counter(EngineMetrics.writeRetries)
        for cause in EngineMetrics.dropCauses { _ = EngineMetrics.counter(EngineMetrics.dropped, [("cause", cause)]) }
    }

    /// Partitions whose schedules are restored and which take records.
    public var assignedPartitions: [Int32] { owned.withLock { $0.events.keys.sorted() } }

    /// Assigned partitions not processed because their restore failed (retried with backoff).
    public var unrestoredPartitions: [KafkaTopicPartition] { owned.withLock { $0.unrestored.keys.sorted() } }

    /// Register wake-up is on (`register-wakeup-interval` > 0): the worker also owns partitions
    /// of the registrations topic.
    private var wakeUpEnabled: Bool { policy.options.registerWakeupInterval > 0 }

    /// Consuming, and every assigned partition restored and processed (`/ready`).
    public var isReady: Bool { status().ready }

    /// What `/health` and `/ready` answer, with the reasons when not ok (also exported as the
    /// `pushfleet_worker_live` and `pushfleet_worker_ready` gauges).
    public func status(now: ContinuousClock.Instant = .now) -> WorkerStatus {
        var problems: [String] = []
        if let fatal = fatal.withLock({ $0 }) { problems.append("fatal: \(fatal)") }
        let consumer = self.consumer.withLock { $0 }
        if let consumer, consumer.sinceLastPoll > health.pollStall {
            problems.append("Kafka poll thread stuck for \(consumer.sinceLastPoll) (bound \(health.pollStall))")
        }
        let (lanes, unrestored) = owned.withLock { o in
            (o.events.map { ("events", $0.key, $0.value.progress) } + o.registrations.map { ("registrations", $0.key, $0.value.progress) },
             o.unrestored.keys.sorted())
        }
        for (topic, partition, progress) in lanes {
            if let stalled = progress.stalled(now: now), stalled > health.laneStall {
                problems.append("\(topic) partition \(partition) has had work and no progress for \(stalled) (bound \(health.laneStall))")
            }
        }
        let live = problems.isEmpty
        var notReady = problems
        if consumer == nil { notReady.append("not consuming yet") }
        if restoring.withLock({ $0 }) > 0 { notReady.append("restoring partitions") }
        if !unrestored.isEmpty { notReady.append("not restored (retrying): \(unrestored.map(\.description).joined(separator: ", "))") }
        let status = WorkerStatus(live: live, ready: notReady.isEmpty, problems: notReady)
        EngineMetrics.gauge(EngineMetrics.live).record(status.live ? 1 : 0)
        EngineMetrics.gauge(EngineMetrics.ready).record(status.ready ? 1 : 0)
        return status
    }

    /// Schedules held in memory across the owned partitions.
    public func pendingSchedules() async -> Int {
        var total = 0
        for lane in owned.withLock({ Array($0.events.values) }) { total += await lane.pendingSchedules }
        return total
    }

    /// A fatal Kafka error: every lane closes at once (nothing more is written or stored: the
    /// producer cannot deliver), the consumer leaves the group, and `run` throws.
    private func fail(_ error: KafkaError) {
        let first: Bool = fatal.withLock {
            guard $0 == nil else { return false }
            $0 = WorkerFatalError(error: error)
            return true
        }
        guard first else { return }
        logger.critical("fatal Kafka error: the worker stops (restart it)", metadata: ["error": "\(error)"])
        onFatal(WorkerFatalError(error: error))
        let lanes = owned.withLock { o in
            o.unrestored.values.forEach { $0.cancel() }
            return o.events.values.map { lane in { await lane.close() } as @Sendable () async -> Void }
                + o.registrations.values.map { lane in { await lane.close() } as @Sendable () async -> Void }
        }
        let consumer = self.consumer.withLock { $0 }
        Task {
            for close in lanes { await close() }
            if let consumer { await consumer.close() }
        }
    }

    /// Consumes until graceful shutdown (SIGTERM via ServiceGroup) or `stop()`: then stops
    /// fetching, drains every partition, commits, leaves the group and flushes the producer.
    public func run() async throws {
        try await checkTopics()
        let consumer = try KafkaConsumer(
            configuration: kafka.filtered(for: .consumer),
            options: KafkaConsumerOptions(groupId: groupId, topics: [topics.events] + (wakeUpEnabled ? [topics.registrations] : [])),
            rebalanceHandler: self)
        self.consumer.withLock { $0 = consumer }
        if fatal.withLock({ $0 }) != nil { await consumer.close() }
        ownership.start()
        defer { ownership.stop() }
        logger.info("worker started", metadata: ["group": "\(groupId)", "events": "\(topics.events)"])
        await withGracefulShutdownHandler {
            for await event in consumer {
                switch event {
                case .messages(let batch):
                    await dispatch(batch)
                    recordLag(consumer, batch)
                case .assigned(let partitions):
                    EngineMetrics.counter(EngineMetrics.rebalances, [("kind", "assigned")]).increment()
                    EngineMetrics.gauge(EngineMetrics.assigned).record(owned.withLock { $0.events.count })
                    logger.info("partitions assigned", metadata: partitionMetadata(partitions))
                case .revoked(let partitions):
                    EngineMetrics.counter(EngineMetrics.rebalances, [("kind", "revoked")]).increment()
                    EngineMetrics.gauge(EngineMetrics.assigned).record(owned.withLock { $0.events.count })
                    logger.info("partitions revoked", metadata: partitionMetadata(partitions))
                case .error(let error) where error.isFatal:
                    fail(error)
                case .error(let error):
                    logger.warning("consumer error", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: {
            Task { await consumer.close() }
        }
        await consumer.close()
        // The consumer holds this worker as its rebalance handler: let go of it, so that a
        // stopped worker (embedded, or in tests) and its Kafka clients are freed.
        self.consumer.withLock { $0 = nil }
        if let fatal = fatal.withLock({ $0 }) { throw fatal }
        try? await producer.flush(timeout: .seconds(5))
        logger.info("worker stopped")
    }

    /// Events and registrations partitions under their own keys: the numbers overlap, and an
    /// operator (or a test) reading "partitions revoked" must know which topic lost them.
    private func partitionMetadata(_ partitions: [KafkaTopicPartition]) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["partitions": "\(partitions.filter { $0.topic == topics.events }.map(\.partition))"]
        let registrations = partitions.filter { $0.topic == topics.registrations }.map(\.partition)
        if !registrations.isEmpty { metadata["registrations"] = "\(registrations)" }
        return metadata
    }

    /// Makes the worker's producer raise a fatal error, as librdkafka does when an idempotent
    /// producer cannot go on (tests of what the worker does then).
    package func raiseProducerFatalErrorForTesting() {
        producer.raiseFatalErrorForTesting("raised by a test")
    }

    /// Stops as on SIGTERM (for embedding and tests).
    public func stop() async {
        if let consumer = consumer.withLock({ $0 }) { await consumer.close() }
    }

    /// Fails early, naming the topic, when the topics are missing or not co-partitioned.
    private func checkTopics() async throws {
        let events = try await producer.partitionCount(topic: topics.events)
        let state = try await producer.partitionCount(topic: topics.state)
        statePartitionCount.withLock { $0 = Int32(state) }
        if wakeUpEnabled { _ = try await producer.partitionCount(topic: topics.registrations) }
        guard events == state else {
            throw WorkerStartError("\(topics.state) has \(state) partitions but \(topics.events) has \(events): they must be equal (state of events partition N lives in state partition N)")
        }
        _ = try await producer.partitionCount(topic: topics.outcomes)
        _ = try await producer.partitionCount(topic: topics.deadLetter)
    }

    /// Consumer lag per partition of the batch, from librdkafka's cached watermarks (no request).
    private func recordLag(_ consumer: KafkaConsumer, _ batch: [KafkaMessage]) {
        var last: [KafkaTopicPartition: KafkaMessage] = [:]
        for message in batch { last[message.topicPartition] = message }
        for (tp, message) in last {
            if let lag = consumer.cachedLag(tp, position: message.offset + 1) {
                EngineMetrics.gauge(EngineMetrics.lag, lagLabels(tp)).record(lag)
            }
        }
    }

    /// Events and registrations partitions have the same numbers: their lag series are apart.
    private func lagLabels(_ tp: KafkaTopicPartition) -> [(String, String)] {
        [("topic", tp.topic == topics.events ? "events" : "registrations"), ("partition", String(tp.partition))]
    }

    private func dispatch(_ batch: [KafkaMessage]) async {
        // A batch mixes partitions; each partition's records keep their order.
        var byPartition: [KafkaTopicPartition: [KafkaMessage]] = [:]
        for message in batch { byPartition[message.topicPartition, default: []].append(message) }
        for (tp, messages) in byPartition {
            if tp.topic == topics.events, let lane = owned.withLock({ $0.events[tp.partition] }) {
                await lane.handle(messages)
            } else if tp.topic != topics.events, let lane = owned.withLock({ $0.registrations[tp.partition] }) {
                await lane.handle(messages)
            } else {
                // Unrestored partitions are paused before their first fetch, so this is a batch
                // of a partition revoked meanwhile. Nothing is stored: its owner reads it again.
                EngineMetrics.counter(EngineMetrics.recordsWithoutLane).increment(by: messages.count)
                logger.warning("records for a partition without a lane left unprocessed", metadata: [
                    "partition": "\(tp)", "records": "\(messages.count)", "first": "\(messages[0].offset)"])
            }
        }
    }

    // MARK: - KafkaRebalanceHandler

    public func prepare(assigned: [KafkaTopicPartition]) async -> Set<KafkaTopicPartition> {
        // A partition assigned again while its lane still runs (a revoke this worker never saw):
        // the old lane stops first, or every timer would fire twice.
        let stale = owned.withLock { o in assigned.compactMap { o.removeLane(of: $0, eventsTopic: topics.events) } }
        await drainAll(stale)
        restoring.withLock { $0 += assigned.count }
        var paused = Set<KafkaTopicPartition>()
        for tp in assigned {
            defer { restoring.withLock { $0 -= 1 } }
            do {
                try await take(tp)
            } catch {
                // Without its state the partition must not be processed: it is assigned paused,
                // `/ready` says so, and the restore is retried until it works or is revoked.
                EngineMetrics.counter(EngineMetrics.restoreFailures).increment()
                logger.error("restore failed; partition paused, retrying", metadata: ["partition": "\(tp)", "error": "\(error)"])
                paused.insert(tp)
                let retry = Task { [weak self] in _ = await self?.retryRestore(tp) }
                owned.withLock { $0.unrestored[tp] = retry }
            }
        }
        EngineMetrics.gauge(EngineMetrics.unrestored).record(owned.withLock { $0.unrestored.count })
        return paused
    }

    /// Restores a partition and starts its lane.
    private func take(_ tp: KafkaTopicPartition, onlyIfUnrestored: Bool = false) async throws {
        let started = ContinuousClock.now
        let count: Int
        let installed: Bool
        if tp.topic == topics.events {
            let (core, epoch) = try await restore(partition: tp.partition)
            count = core.pendingCount
            let lane = makeLane(tp, statePartition: tp.partition, core: core, epoch: epoch)
            installed = owned.withLock { $0.install(events: lane, for: tp, onlyIfUnrestored: onlyIfUnrestored) }
            if installed { await lane.start() }
        } else {
            let (core, epoch) = try await restoreRegistrations(partition: tp.partition)
            count = core.pendingCount
            let lane = makeLane(tp, statePartition: tp.partition % statePartitionCount.withLock { $0 }, core: core, epoch: epoch)
            installed = owned.withLock { $0.install(registrations: lane, for: tp, onlyIfUnrestored: onlyIfUnrestored) }
            if installed { await lane.start() }
        }
        guard installed else { return }
        EngineMetrics.timer(EngineMetrics.restoreDuration).recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        EngineMetrics.counter(EngineMetrics.restoredSchedules).increment(by: count)
        logger.info(tp.topic == topics.events ? "partition restored" : "registrations partition restored", metadata: [
            "partition": "\(tp.partition)", "schedules": "\(count)", "seconds": "\(ContinuousClock.now - started)"])
    }

    /// Retries a failed restore with capped exponential backoff (1 s doubling to 30 s) while the
    /// partition stays assigned; on success its lane starts and the partition is resumed.
    private func retryRestore(_ tp: KafkaTopicPartition) async {
        var attempt = 0
        while !Task.isCancelled {
            try? await Task.sleep(for: health.restoreRetry(attempt: attempt))
            attempt += 1
            guard !Task.isCancelled, owned.withLock({ $0.unrestored[tp] != nil }) else { return }
            do {
                try await take(tp, onlyIfUnrestored: true)
            } catch {
                EngineMetrics.counter(EngineMetrics.restoreFailures).increment()
                logger.error("restore failed again; partition stays paused", metadata: [
                    "partition": "\(tp)", "attempt": "\(attempt + 1)", "error": "\(error)"])
                continue
            }
            EngineMetrics.gauge(EngineMetrics.unrestored).record(owned.withLock { $0.unrestored.count })
            do {
                try consumer.withLock({ $0 })?.resume([tp])
                logger.info("partition restored after retry; resumed", metadata: ["partition": "\(tp)", "attempts": "\(attempt + 1)"])
            } catch {
                logger.warning("resume failed (revoked meanwhile?)", metadata: ["partition": "\(tp)", "error": "\(error)"])
            }
            return
        }
    }

    private func makeLane<Core: LaneCore>(_ tp: KafkaTopicPartition, statePartition: Int32, core: Core, epoch: Int64) -> PartitionLane<Core> {
        PartitionLane(
            partition: tp, statePartition: statePartition, core: core, clock: clock, senders: senders, producer: producer, ownerEpoch: epoch,
            topics: topics, logger: logger, ownership: ownership, onPressure: { [weak self] pressed in self?.backPressure(tp, pressed) }
        ) { [weak self] offset in
            // Looked up at each store: the first assignment can run before `run()` has
            // published the consumer it is creating.
            do { try self?.consumer.withLock({ $0 })?.storeOffsets([tp: offset]) } catch {
                Logger(label: "pushfleet.worker").warning("offset store failed", metadata: ["partition": "\(tp)", "error": "\(error)"])
            }
        }
    }

    /// Pauses a partition whose lane cannot take more (its pushes wait for room at their
    /// destination, or too much is unacknowledged), and resumes it when the lane has drained.
    private func backPressure(_ tp: KafkaTopicPartition, _ pressed: Bool) {
        let count = owned.withLock { o in
            if pressed { o.pressured.insert(tp) } else { o.pressured.remove(tp) }
            return o.pressured.count
        }
        EngineMetrics.gauge(EngineMetrics.pausedPartitions).record(count)
        guard let consumer = consumer.withLock({ $0 }) else { return }
        do {
            if pressed { try consumer.pause([tp]) } else { try consumer.resume([tp]) }
            EngineMetrics.counter(EngineMetrics.backPressure, [("action", pressed ? "pause" : "resume")]).increment()
            logger.info(pressed ? "partition paused: its pushes wait for room (back-pressure)" : "partition resumed", metadata: ["partition": "\(tp)"])
        } catch {
            // Revoked meanwhile: the next owner starts unpaused.
            logger.debug("pause/resume of a partition no longer assigned", metadata: ["partition": "\(tp)", "error": "\(error)"])
        }
    }

    public func finish(revoked: [KafkaTopicPartition]) async {
        await finish(revoked: revoked, lost: false)
    }

    /// A lost assignment's lanes close at once: their partitions already have new owners, any
    /// write they made now could land after the new owner's, and their offsets cannot be
    /// committed. A revoke in a rebalance drains them (bounded by `drainTimeout`).
    public func finish(revoked: [KafkaTopicPartition], lost: Bool) async {
        if lost {
            logger.warning("assignment lost (session timed out or fenced): lanes closed without draining; the new owners repeat what was in flight", metadata: partitionMetadata(revoked))
        }
        for tp in revoked { EngineMetrics.destroyGauge(EngineMetrics.lag, lagLabels(tp)) }
        let lanes = owned.withLock { o in
            revoked.compactMap { tp in
                o.unrestored.removeValue(forKey: tp)?.cancel()
                o.pressured.remove(tp)
                return o.removeLane(of: tp, eventsTopic: topics.events)
            }
        }
        EngineMetrics.gauge(EngineMetrics.unrestored).record(owned.withLock { $0.unrestored.count })
        if lost {
            for lane in lanes { await lane.close() }
        } else {
            await drainAll(lanes)
        }
    }

    /// Drains lanes side by side, so a revoke of many partitions during a provider or broker
    /// fault takes one `drainTimeout`, not one per partition (which could outlast
    /// `max.poll.interval.ms` and leave two owners writing one partition's state).
    private func drainAll(_ lanes: [any DrainableLane]) async {
        guard !lanes.isEmpty else { return }
        let timeout = drainTimeout
        await withTaskGroup(of: Void.self) { group in
            for lane in lanes { group.addTask { await lane.drain(timeout: timeout) } }
        }
    }

    /// Rebuilds a registrations partition: the whole table (latest binding per key), then the
    /// wake-ups already sent, from the state partition that holds its markers.
    private func restoreRegistrations(partition: Int32) async throws -> (RegistrationCore, epoch: Int64) {
        let reader = KafkaPartitionReader(configuration: kafka.filtered(for: .consumer))
        let table = LatestValues()
        try await reader.read(KafkaTopicPartition(topic: topics.registrations, partition: partition)) { table.apply($0) }
        var core = RegistrationCore(partition: partition, options: policy.options, now: clock.now())
        let now = clock.now()
        var unusable: [String: String] = [:]
        for (key, value) in table.values {
            let message = KafkaMessage(topic: topics.registrations, partition: partition, offset: 0, key: Array(key.utf8), value: value)
            if let error = core.restore(message, now: now) { unusable[key] = error }
        }
        reportUnusable(unusable, topic: topics.registrations, partition: partition)
        let state = LatestValues()
        let statePartition = partition % statePartitionCount.withLock { $0 }
        try await reader.read(KafkaTopicPartition(topic: topics.state, partition: statePartition)) { state.apply($0) }
        reportUnusable(core.restoreMarkers(latest: state.values).mapValues(\.description), topic: topics.state, partition: statePartition)
        reportStale(state, partition: statePartition)
        return (core, OwnerEpoch.next(after: state.highestEpoch, now: clock.now()))
    }

    /// Restores skip records they cannot decode. They are not dead-lettered again (each restore
    /// would repeat it; their live read did), but they leave a trace: one warning per restore
    /// naming a few keys, and `pushfleet_restore_unusable_records_total`.
    private func reportUnusable(_ unusable: [String: String], topic: String, partition: Int32) {
        guard !unusable.isEmpty else { return }
        EngineMetrics.counter(EngineMetrics.restoreUnusable, [("topic", topic)]).increment(by: unusable.count)
        let sample = unusable.sorted { $0.key < $1.key }.prefix(3).map { "\($0.key): \($0.value)" }
        logger.warning("undecodable records skipped at restore", metadata: [
            "topic": "\(topic)", "partition": "\(partition)", "count": "\(unusable.count)", "first": "\(sample.joined(separator: "; "))"])
    }

    /// Rebuilds a partition's schedules from its state partition; returns them with the owner
    /// epoch the new lane writes under (`OwnerEpoch`).
    private func restore(partition: Int32) async throws -> (PartitionCore, epoch: Int64) {
        let latest = LatestValues()
        try await KafkaPartitionReader(configuration: kafka.filtered(for: .consumer))
            .read(KafkaTopicPartition(topic: topics.state, partition: partition)) { batch in latest.apply(batch) }
        var core = PartitionCore(partition: partition, policy: policy, timing: timing)
        reportUnusable(core.restore(latest: latest.values, now: clock.now()).mapValues(\.description), topic: topics.state, partition: partition)
        reportStale(latest, partition: partition)
        return (core, OwnerEpoch.next(after: latest.highestEpoch, now: clock.now()))
    }

    /// A former owner's writes that landed after a later owner's are news: a worker froze or
    /// was cut off with writes in its producer (they were ignored, as they must be).
    private func reportStale(_ latest: LatestValues, partition: Int32) {
        guard latest.staleIgnored > 0 else { return }
        EngineMetrics.counter(EngineMetrics.restoreStale).increment(by: latest.staleIgnored)
        logger.notice("state records of a former owner ignored at restore: a later owner had written their keys", metadata: [
            "partition": "\(partition)", "count": "\(latest.staleIgnored)"])
    }
}

/// The worker's consumer once `run` has created it, shared with the `OwnershipGuard`.
final class ConsumerSlot: Sendable {
    private let slot = Mutex<KafkaConsumer?>(nil)
    func withLock<R>(_ body: (inout KafkaConsumer?) -> R) -> R { slot.withLock { body(&$0) } }
}

/// A lane of either kind, for draining.
protocol DrainableLane: Sendable {
    func drain(timeout: Duration) async
    func close() async
}

extension PartitionLane: DrainableLane {}

/// The partitions a worker owns: their lanes, and those whose restore is being retried.
struct Ownership {
    var events: [Int32: PartitionLane<PartitionCore>] = [:]
    var registrations: [Int32: PartitionLane<RegistrationCore>] = [:]
    var unrestored: [KafkaTopicPartition: Task<Void, Never>] = [:]
    /// Paused by back-pressure from their lane.
    var pressured: Set<KafkaTopicPartition> = []

    /// Removes and returns a partition's lane, if it has one.
    mutating func removeLane(of tp: KafkaTopicPartition, eventsTopic: String) -> (any DrainableLane)? {
        if tp.topic == eventsTopic { return events.removeValue(forKey: tp.partition) }
        return registrations.removeValue(forKey: tp.partition)
    }

    /// Installs a restored lane. A retry installs only while the partition is still assigned and
    /// waiting (a revoke meanwhile removed it from `unrestored`).
    mutating func install(events lane: PartitionLane<PartitionCore>, for tp: KafkaTopicPartition, onlyIfUnrestored: Bool) -> Bool {
        guard claim(tp, onlyIfUnrestored: onlyIfUnrestored) else { return false }
        events[tp.partition] = lane
        return true
    }

    mutating func install(registrations lane: PartitionLane<RegistrationCore>, for tp: KafkaTopicPartition, onlyIfUnrestored: Bool) -> Bool {
        guard claim(tp, onlyIfUnrestored: onlyIfUnrestored) else { return false }
        registrations[tp.partition] = lane
        return true
    }

    private mutating func claim(_ tp: KafkaTopicPartition, onlyIfUnrestored: Bool) -> Bool {
        if onlyIfUnrestored { return unrestored.removeValue(forKey: tp) != nil }
        return true
    }
}

extension KafkaConfiguration {
    package enum ClientKind { case producer, consumer }

    /// Drops passthrough properties meant for the other kind of client, so that one `[kafka]`
    /// section serves both without librdkafka warning about ignored properties.
    package func filtered(for kind: ClientKind) -> KafkaConfiguration {
        let consumerOnly: Set<String> = [
            "fetch.wait.max.ms", "fetch.min.bytes", "fetch.max.bytes", "session.timeout.ms", "heartbeat.interval.ms",
            "max.poll.interval.ms", "auto.offset.reset", "partition.assignment.strategy", "group.instance.id",
            "queued.min.messages", "queued.max.messages.kbytes", "fetch.message.max.bytes", "isolation.level",
        ]
        let producerOnly: Set<String> = [
            "linger.ms", "queue.buffering.max.ms", "batch.num.messages", "batch.size", "acks", "request.required.acks",
            "message.timeout.ms", "compression.type", "compression.codec", "enable.idempotence", "retries",
            "queue.buffering.max.messages", "queue.buffering.max.kbytes", "partitioner",
        ]
        var copy = self
        let drop = kind == .producer ? consumerOnly : producerOnly
        copy.properties = properties.filter { !drop.contains($0.key) }
        return copy
    }
}
