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
    private let eventLanes = Mutex<[Int32: PartitionLane<PartitionCore>]>([:])
    private let registrationLanes = Mutex<[Int32: PartitionLane<RegistrationCore>]>([:])
    /// Partition count of the state topic (wake-up markers of registrations partition N live in
    /// state partition N modulo it).
    private let statePartitionCount = Mutex<Int32>(1)
    private let consumer = Mutex<KafkaConsumer?>(nil)
    /// Partitions being restored right now (the worker is not ready while any is).
    private let restoring = Mutex<Int>(0)
    /// How long a revoke waits for sends in flight and writes; past it the new owner may repeat
    /// a push whose result was not recorded (the documented duplicate window).
    public let drainTimeout: Duration

    public init(
        config: PushFleetConfig, senders: any PushSending, clock: any PushClock = SystemClock(),
        timing: EngineTiming = EngineTiming(), drainTimeout: Duration = .seconds(10),
        logger: Logger = Logger(label: "pushfleet.worker")
    ) throws {
        self.drainTimeout = drainTimeout
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
        producer = try KafkaProducer(configuration: kafka.filtered(for: .producer))
    }

    /// Partitions whose schedules are restored and which take records (for `/ready`).
    public var assignedPartitions: [Int32] { eventLanes.withLock { $0.keys.sorted() } }

    /// Register wake-up is on (`register-wakeup-interval` > 0): the worker also owns partitions
    /// of the registrations topic.
    private var wakeUpEnabled: Bool { policy.options.registerWakeupInterval > 0 }

    /// Consuming, and every assigned partition's state restored (`/ready`).
    public var isReady: Bool {
        consumer.withLock { $0 != nil } && restoring.withLock { $0 == 0 }
    }

    /// Schedules held in memory across the owned partitions.
    public func pendingSchedules() async -> Int {
        var total = 0
        for lane in eventLanes.withLock({ Array($0.values) }) { total += await lane.pendingSchedules }
        return total
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
        logger.info("worker started", metadata: ["group": "\(groupId)", "events": "\(topics.events)"])
        await withGracefulShutdownHandler {
            for await event in consumer {
                switch event {
                case .messages(let batch):
                    await dispatch(batch)
                    recordLag(consumer, batch)
                case .assigned(let partitions):
                    EngineMetrics.counter(EngineMetrics.rebalances, [("kind", "assigned")]).increment()
                    EngineMetrics.gauge(EngineMetrics.assigned).record(eventLanes.withLock { $0.count })
                    logger.info("partitions assigned", metadata: partitionMetadata(partitions))
                case .revoked(let partitions):
                    EngineMetrics.counter(EngineMetrics.rebalances, [("kind", "revoked")]).increment()
                    EngineMetrics.gauge(EngineMetrics.assigned).record(eventLanes.withLock { $0.count })
                    logger.info("partitions revoked", metadata: partitionMetadata(partitions))
                case .error(let error):
                    logger.warning("consumer error", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: {
            Task { await consumer.close() }
        }
        await consumer.close()
        try? await producer.flush(timeout: .seconds(10))
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
        var last: [Int32: KafkaMessage] = [:]
        for message in batch { last[message.partition] = message }
        for (partition, message) in last {
            if let lag = consumer.cachedLag(message.topicPartition, position: message.offset + 1) {
                EngineMetrics.gauge(EngineMetrics.lag, [("partition", String(partition))]).record(lag)
            }
        }
    }

    private func dispatch(_ batch: [KafkaMessage]) async {
        // A batch mixes partitions; each partition's records keep their order.
        var byPartition: [KafkaTopicPartition: [KafkaMessage]] = [:]
        for message in batch { byPartition[message.topicPartition, default: []].append(message) }
        for (tp, messages) in byPartition {
            if tp.topic == topics.events {
                guard let lane = eventLanes.withLock({ $0[tp.partition] }) else { continue }
                await lane.handle(messages)
            } else if let lane = registrationLanes.withLock({ $0[tp.partition] }) {
                await lane.handle(messages)
            }
        }
    }

    // MARK: - KafkaRebalanceHandler

    public func prepare(assigned: [KafkaTopicPartition]) async {
        restoring.withLock { $0 += assigned.count }
        for tp in assigned {
            defer { restoring.withLock { $0 -= 1 } }
            let started = ContinuousClock.now
            do {
                let count: Int
                if tp.topic == topics.events {
                    let core = try await restore(partition: tp.partition)
                    count = core.pendingCount
                    let lane = makeLane(tp, statePartition: tp.partition, core: core)
                    await lane.start()
                    eventLanes.withLock { $0[tp.partition] = lane }
                } else {
                    let core = try await restoreRegistrations(partition: tp.partition)
                    count = core.pendingCount
                    let lane = makeLane(tp, statePartition: tp.partition % statePartitionCount.withLock { $0 }, core: core)
                    await lane.start()
                    registrationLanes.withLock { $0[tp.partition] = lane }
                }
                EngineMetrics.timer(EngineMetrics.restoreDuration).recordNanoseconds((ContinuousClock.now - started).nanoseconds)
                EngineMetrics.counter(EngineMetrics.restoredSchedules).increment(by: count)
                logger.info(tp.topic == topics.events ? "partition restored" : "registrations partition restored", metadata: [
                    "partition": "\(tp.partition)", "schedules": "\(count)", "seconds": "\(ContinuousClock.now - started)"])
            } catch {
                // Without its state the partition must not be processed: leave it to the group.
                logger.error("restore failed; partition not taken", metadata: ["partition": "\(tp)", "error": "\(error)"])
            }
        }
    }

    private func makeLane<Core: LaneCore>(_ tp: KafkaTopicPartition, statePartition: Int32, core: Core) -> PartitionLane<Core> {
        PartitionLane(
            partition: tp, statePartition: statePartition, core: core, clock: clock, senders: senders, producer: producer,
            topics: topics, logger: logger
        ) { [weak self] offset in
            // Looked up at each store: the first assignment can run before `run()` has
            // published the consumer it is creating.
            do { try self?.consumer.withLock({ $0 })?.storeOffsets([tp: offset]) } catch {
                Logger(label: "pushfleet.worker").warning("offset store failed", metadata: ["partition": "\(tp)", "error": "\(error)"])
            }
        }
    }

    public func finish(revoked: [KafkaTopicPartition]) async {
        for tp in revoked {
            if tp.topic == topics.events {
                guard let lane = eventLanes.withLock({ $0.removeValue(forKey: tp.partition) }) else { continue }
                await lane.drain(timeout: drainTimeout)
            } else if let lane = registrationLanes.withLock({ $0.removeValue(forKey: tp.partition) }) {
                await lane.drain(timeout: drainTimeout)
            }
        }
    }

    /// Rebuilds a registrations partition: the whole table (latest binding per key), then the
    /// wake-ups already sent, from the state partition that holds its markers.
    private func restoreRegistrations(partition: Int32) async throws -> RegistrationCore {
        let reader = KafkaPartitionReader(configuration: kafka.filtered(for: .consumer))
        let table = LatestValues()
        try await reader.read(KafkaTopicPartition(topic: topics.registrations, partition: partition)) { table.apply($0) }
        var core = RegistrationCore(partition: partition, options: policy.options, now: clock.now())
        let now = clock.now()
        for (key, value) in table.values {
            core.restore(KafkaMessage(topic: topics.registrations, partition: partition, offset: 0, key: Array(key.utf8), value: value), now: now)
        }
        let state = LatestValues()
        let statePartition = partition % statePartitionCount.withLock { $0 }
        try await reader.read(KafkaTopicPartition(topic: topics.state, partition: statePartition)) { state.apply($0) }
        let prefix = RegistrationCore.markerKey(partition: partition, binding: "")
        for (key, value) in state.values where key.hasPrefix(prefix) {
            if let marker = try? RecordDecoder.decodeSchedule(value) { core.restoreMarker(marker) }
        }
        return core
    }

    /// Rebuilds a partition's schedules from its state partition.
    private func restore(partition: Int32) async throws -> PartitionCore {
        let latest = LatestValues()
        try await KafkaPartitionReader(configuration: kafka.filtered(for: .consumer))
            .read(KafkaTopicPartition(topic: topics.state, partition: partition)) { batch in latest.apply(batch) }
        var core = PartitionCore(partition: partition, policy: policy, timing: timing)
        for (key, value) in latest.values where !key.hasPrefix("wakeup|") {
            do {
                try core.restore(key: key, value: value)
            } catch {
                logger.warning("unreadable state record skipped", metadata: ["partition": "\(partition)", "key": "\(key)", "error": "\(error)"])
            }
        }
        return core
    }
}

/// Latest value per key of a compacted partition being read (tombstones delete).
private final class LatestValues: @unchecked Sendable {
    // @unchecked: `apply` runs on the partition reader's single thread; `values` is read after
    // the read has returned.
    private(set) var values: [String: [UInt8]] = [:]

    func apply(_ batch: [KafkaMessage]) {
        for message in batch {
            let key = String(decoding: message.key ?? [], as: UTF8.self)
            values[key] = message.value
        }
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
