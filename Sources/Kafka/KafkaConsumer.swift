import CRdKafka
import Foundation
import Synchronization

/// What the engine must do around a rebalance; both run on the consumer's polling thread,
/// which waits for them, so ordering is strict.
public protocol KafkaRebalanceHandler: Sendable {
    /// Called for newly assigned partitions before any of their messages are handed out
    /// (restore state here). Returns the partitions that must not be fetched yet (e.g. their
    /// state could not be restored): they are assigned paused, and stay so until the handler
    /// calls `KafkaConsumer.resume`.
    func prepare(assigned: [KafkaTopicPartition]) async -> Set<KafkaTopicPartition>
    /// Called for revoked partitions before the revocation completes (and for the whole
    /// assignment when a rebalance fails and the group takes it back): finish in-flight work and
    /// store final offsets here. Stored offsets are committed right after it returns.
    func finish(revoked: [KafkaTopicPartition]) async
    /// As `finish(revoked:)`, saying whether the assignment was lost: the session timed out or
    /// the group fenced this member, so the partitions already have another owner and nothing
    /// this member stores for them can be committed. Defaults to `finish(revoked:)`.
    func finish(revoked: [KafkaTopicPartition], lost: Bool) async
}

extension KafkaRebalanceHandler {
    public func finish(revoked: [KafkaTopicPartition], lost: Bool) async {
        await finish(revoked: revoked)
    }
}

/// What a consumer hands out, in order.
public enum KafkaConsumerEvent: Sendable {
    /// Partitions assigned; their `prepare` step has completed.
    case assigned([KafkaTopicPartition])
    /// Partitions revoked; their `finish` step has completed and offsets are committed.
    case revoked([KafkaTopicPartition])
    /// A batch of messages, possibly from several partitions, in partition order.
    case messages([KafkaMessage])
    /// A consumer error. Non-fatal ones (missing topic, broker unreachable…) are informative
    /// and consumption goes on; after one with `isFatal` the consumer is unusable and no
    /// further events come.
    case error(KafkaError)
}

/// Options of a group consumer beyond the client configuration.
public struct KafkaConsumerOptions: Sendable {
    public var groupId: String
    public var topics: [String]
    /// Largest batch handed out at once.
    public var batchSize: Int = 1000
    /// Batches buffered ahead of the reader before the polling thread waits (back-pressure).
    public var bufferedBatches: Int = 4
    /// Where to start when the group has no committed offset.
    public var autoOffsetReset: String = "earliest"
    /// How often stored offsets are committed in the background.
    public var commitInterval: Duration = .seconds(1)

    public init(groupId: String, topics: [String]) {
        self.groupId = groupId
        self.topics = topics
    }
}

/// A consumer-group member that polls batches on a dedicated thread.
///
/// Offsets are stored explicitly (`enable.auto.offset.store=false`): only what the caller
/// stored after processing is committed, in the background every `commitInterval`, and
/// synchronously on revoke and close. Rebalances run the `KafkaRebalanceHandler` hooks on the
/// polling thread, so no message of a partition is handed out before its `prepare` finished,
/// and none after its `finish` started (buffered messages of revoked partitions are dropped;
/// their offsets were not stored, so the next owner reads them again).
public final class KafkaConsumer: Sendable, AsyncSequence {
    public typealias Element = KafkaConsumerEvent

    private let handle: KafkaHandle
    private let poller: ConsumerPoller
    private let context: ClientContext
    public let options: KafkaConsumerOptions

    public init(configuration: KafkaConfiguration, options: KafkaConsumerOptions, rebalanceHandler: (any KafkaRebalanceHandler)? = nil) throws(KafkaError) {
        self.options = options
        let conf = try configuration.makeConf(
            defaults: [
                ("enable.auto.offset.store", "false"),
                ("enable.auto.commit", "true"),
                ("auto.commit.interval.ms", String(milliseconds(options.commitInterval))),
                ("auto.offset.reset", options.autoOffsetReset),
                ("enable.partition.eof", "false"),
                ("partition.assignment.strategy", "cooperative-sticky"),
            ],
            overrides: [("group.id", options.groupId)])
        let poller = ConsumerPoller(handler: rebalanceHandler, channel: EventChannel(capacity: Swift.max(1, options.bufferedBatches)))
        let context = ClientContext(consumer: poller)
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
        rd_kafka_conf_set_error_cb(conf, clientErrorCallback)
        let rk = try makeHandle(RD_KAFKA_CONSUMER, conf: conf)
        rd_kafka_poll_set_consumer(rk)
        let topics = makePartitionList(options.topics.map { (KafkaTopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA), nil) })
        let err = rd_kafka_subscribe(rk, topics)
        rd_kafka_topic_partition_list_destroy(topics)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_destroy(rk)
            throw KafkaError(err, context: "subscribe to \(options.topics.joined(separator: ","))")
        }
        self.handle = KafkaHandle(pointer: rk)
        self.poller = poller
        self.context = context
        poller.start(handle: handle, context: context, batchSize: Swift.max(1, options.batchSize))
    }

    /// A consumer dropped without `close()` still leaves its group, from a thread of its own
    /// (closing blocks and runs the revoke hook, which must not wait on the cooperative pool).
    deinit {
        let poller = self.poller
        let thread = Thread { poller.stopAndWait() }
        thread.name = "kafka-consumer-teardown"
        thread.start()
    }

    public func makeAsyncIterator() -> Iterator { Iterator(channel: poller.channel) }

    public struct Iterator: AsyncIteratorProtocol {
        let channel: EventChannel
        public mutating func next() async -> KafkaConsumerEvent? { await channel.next() }
    }

    /// Stores "next offset to read" for partitions (last processed offset + 1). Committed later.
    public func storeOffsets(_ offsets: [KafkaTopicPartition: Int64]) throws(KafkaError) {
        guard !offsets.isEmpty else { return }
        let list = makePartitionList(offsets.map { ($0.key, $0.value) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_offsets_store(handle.pointer, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError(err, context: "store offsets")
        }
        for i in 0..<Int(list.pointee.cnt) where list.pointee.elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let e = list.pointee.elems[i]
            throw KafkaError(e.err, context: "store offset of \(String(cString: e.topic))[\(e.partition)]")
        }
    }

    /// Stores the offset after `message` (it has been processed).
    public func store(_ message: KafkaMessage) throws(KafkaError) {
        try storeOffsets([message.topicPartition: message.offset + 1])
    }

    /// Commits stored offsets now and waits for the broker's answer.
    public func commit() async throws(KafkaError) {
        let handle = self.handle
        let err = await offload("kafka-commit") { rd_kafka_commit(handle.pointer, nil, 0) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET {
            throw context.enrich(KafkaError(err, context: "commit"))
        }
    }

    /// The group's committed offsets for these partitions (nil = none committed).
    public func committed(_ partitions: [KafkaTopicPartition], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [KafkaTopicPartition: Int64?] {
        let handle = self.handle
        let ms = milliseconds(timeout)
        let result: Result<[KafkaTopicPartition: Int64?], KafkaError> = await offload("kafka-committed") {
            let list = makePartitionList(partitions.map { ($0, nil) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_committed(handle.pointer, list, ms)
            if err != RD_KAFKA_RESP_ERR_NO_ERROR { return .failure(KafkaError(err, context: "committed offsets")) }
            var out: [KafkaTopicPartition: Int64?] = [:]
            for i in 0..<Int(list.pointee.cnt) {
                let e = list.pointee.elems[i]
                out[KafkaTopicPartition(topic: String(cString: e.topic), partition: e.partition)] = e.offset >= 0 ? e.offset : nil
            }
            return .success(out)
        }
        return try result.get()
    }

    /// Moves an assigned partition's read position.
    public func seek(_ partition: KafkaTopicPartition, to offset: Int64, timeout: Duration = .seconds(10)) async throws(KafkaError) {
        let handle = self.handle
        let ms = milliseconds(timeout)
        let error: KafkaError? = await offload("kafka-seek") {
            let list = makePartitionList([(partition, offset)])
            defer { rd_kafka_topic_partition_list_destroy(list) }
            if let err = rd_kafka_seek_partitions(handle.pointer, list, ms) {
                return KafkaError(consuming: err, context: "seek \(partition) to \(offset)")
            }
            let e = list.pointee.elems[0]
            return e.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(e.err, context: "seek \(partition) to \(offset)")
        }
        if let error { throw error }
    }

    /// Low and high watermarks (first offset, offset after the last record) of a partition.
    public func watermarks(_ partition: KafkaTopicPartition, timeout: Duration = .seconds(10)) async throws(KafkaError) -> (low: Int64, high: Int64) {
        try await KafkaMetadata.watermarks(handle: handle, partition: partition, timeout: timeout, context: context)
    }

    /// Messages between `position` and the partition's high watermark as librdkafka last saw it
    /// (cached from fetch responses: no broker request, safe on any thread).
    public func cachedLag(_ partition: KafkaTopicPartition, position: Int64) -> Int64? {
        var low: Int64 = 0, high: Int64 = 0
        let err = rd_kafka_get_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return nil }
        return Swift.max(0, high - position)
    }

    /// Partitions currently assigned to this member.
    public var assignment: [KafkaTopicPartition] { poller.assignedPartitions }

    /// librdkafka has found this member's assignment lost (its session timed out, or the group
    /// fenced it) and has not yet handed the revoke to the rebalance hook. An atomic read: safe
    /// on any thread, cheap enough to ask before every write.
    public var isAssignmentLost: Bool { rd_kafka_assignment_lost(handle.pointer) != 0 }

    /// Stops fetching these assigned partitions (messages already handed out stay valid).
    /// librdkafka only flags the partitions: it does not block.
    public func pause(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
        try pauseOrResume(partitions, pause: true)
    }

    /// Fetches paused partitions again, from where their fetching stopped.
    public func resume(_ partitions: [KafkaTopicPartition]) throws(KafkaError) {
        try pauseOrResume(partitions, pause: false)
    }

    private func pauseOrResume(_ partitions: [KafkaTopicPartition], pause: Bool) throws(KafkaError) {
        guard !partitions.isEmpty else { return }
        let list = makePartitionList(partitions.map { ($0, nil) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        // Noted first: a revoke running meanwhile on the polling thread must see it to clear it.
        if pause { poller.notePaused(partitions, true) }
        let err = pause ? rd_kafka_pause_partitions(handle.pointer, list) : rd_kafka_resume_partitions(handle.pointer, list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: pause ? "pause" : "resume") }
        for i in 0..<Int(list.pointee.cnt) where list.pointee.elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let e = list.pointee.elems[i]
            throw KafkaError(e.err, context: "\(pause ? "pause" : "resume") \(String(cString: e.topic))[\(e.partition)]")
        }
        if !pause { poller.notePaused(partitions, false) }
    }

    /// The fatal error librdkafka raised for this consumer, if any.
    public var fatalError: KafkaError? { context.fatalError }

    /// How long since the polling thread last went round its loop. It goes round at least every
    /// 100 ms unless it is stuck: in a rebalance hook (a restore), waiting for a reader that
    /// does not take its events, or in librdkafka.
    public var sinceLastPoll: Duration { poller.sinceLastPoll }

    /// Leaves the group cleanly: revokes (running `finish`), commits stored offsets, closes.
    /// Messages still buffered are dropped (their offsets were not stored). Idempotent.
    public func close() async {
        let poller = self.poller
        await offload("kafka-consumer-close") { poller.stopAndWait() }
    }
}

/// Polling-thread side of a consumer: the loop, the rebalance logic and the event channel.
final class ConsumerPoller: @unchecked Sendable {
    // @unchecked: `handle` and `thread` are written once in `start` before the thread runs and
    // only read afterwards; everything mutable is in Mutex/Atomic.
    let handler: (any KafkaRebalanceHandler)?
    let channel: EventChannel
    private let stopping = Atomic<Bool>(false)
    private let closed = DispatchSemaphore(value: 0)
    private let started = Atomic<Bool>(false)
    private let assigned = Mutex<Set<KafkaTopicPartition>>([])
    /// Uptime (ns) when the polling loop last went round: a thread stuck in a hook, in a full
    /// channel or in librdkafka stops moving it (read by health checks).
    private let heartbeat = Atomic<UInt64>(DispatchTime.now().uptimeNanoseconds)
    /// Bumped on every revoke so the loop knows to re-check a batch it was assembling.
    private let revocations = Atomic<Int>(0)

    init(handler: (any KafkaRebalanceHandler)?, channel: EventChannel) {
        self.handler = handler
        self.channel = channel
    }

    var assignedPartitions: [KafkaTopicPartition] { assigned.withLock { $0.sorted() } }

    /// How long since the polling loop last went round.
    var sinceLastPoll: Duration {
        let elapsed = DispatchTime.now().uptimeNanoseconds &- heartbeat.load(ordering: .relaxed)
        return .nanoseconds(Int64(min(elapsed, UInt64(Int64.max))))
    }
    var isStopping: Bool { stopping.load(ordering: .acquiring) }

    func start(handle: KafkaHandle, context: ClientContext, batchSize: Int) {
        started.store(true, ordering: .releasing)
        let thread = Thread { [self] in
            // The context must outlive the handle: keep it alive until rd_kafka_destroy returns.
            withExtendedLifetime(context) {
                run(handle: handle, batchSize: batchSize)
            }
        }
        thread.name = "kafka-consumer-poll"
        thread.start()
    }

    /// Stops the loop, closes the consumer (leaving the group) and waits. Idempotent.
    func stopAndWait() {
        guard started.load(ordering: .acquiring) else { return }
        stopping.store(true, ordering: .releasing)
        closed.wait()
        closed.signal()  // later callers pass straight through
    }

    /// The polling loop. Batches are built from `rd_kafka_consumer_poll` calls (the first waits
    /// up to 100 ms, the rest do not wait) rather than `rd_kafka_consume_batch_queue`: in
    /// librdkafka 2.0.x the batch API is documented to skip offsets around rebalances and
    /// pause/resume (fixed in 2.1.0), and cooperative rebalancing pauses partitions. Per-message
    /// poll calls stay on this thread, so there is still no async hop per message.
    private func run(handle: KafkaHandle, batchSize: Int) {
        let rk = handle.pointer
        var converter = MessageConverter()
        var messages: [KafkaMessage] = []
        while !isStopping {
            heartbeat.store(DispatchTime.now().uptimeNanoseconds, ordering: .relaxed)
            let revocationsBefore = revocations.load(ordering: .acquiring)
            messages.removeAll(keepingCapacity: true)
            var wait: Int32 = 100
            while messages.count < batchSize, let raw = rd_kafka_consumer_poll(rk, wait) {
                wait = 0
                defer { rd_kafka_message_destroy(raw) }
                let err = raw.pointee.err
                if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    messages.append(converter.convert(raw))
                } else if err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    let topic = raw.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
                    let text = rd_kafka_message_errstr(raw).map { String(cString: $0) } ?? ""
                    channel.push(.error(KafkaError(err, message: text, context: "consume \(topic)")), isStopping: { self.isStopping })
                }
            }
            if revocations.load(ordering: .acquiring) != revocationsBefore {
                let current = assigned.withLock { $0 }
                messages.removeAll { !current.contains($0.topicPartition) }
            }
            if !messages.isEmpty {
                channel.push(.messages(messages), isStopping: { self.isStopping })
            }
        }
        // Leaves the group; serves the final revoke through the rebalance callback.
        rd_kafka_consumer_close(rk)
        rd_kafka_destroy(rk)
        channel.finish()
        closed.signal()
    }

    /// Runs on the polling thread, inside `rd_kafka_consumer_poll` or `consumer_close`.
    func rebalance(rk: OpaquePointer, err: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let list = topicPartitions(partitions)
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let held = Mutex<Set<KafkaTopicPartition>>([])
            if let handler, !list.isEmpty {
                blockOnAsync {
                    let paused = await handler.prepare(assigned: list)
                    held.withLock { $0 = paused }
                }
            }
            // A partition assigned again without a revoke this member saw may still carry a pause
            // of its own: cleared before the assign (after it, librdkafka #2190).
            unpause(rk, list)
            if cooperative {
                if let e = rd_kafka_incremental_assign(rk, partitions) { logFailure(KafkaError(consuming: e, context: "incremental assign")) }
            } else {
                let e = rd_kafka_assign(rk, partitions)
                if e != RD_KAFKA_RESP_ERR_NO_ERROR { logFailure(KafkaError(e, context: "assign")) }
            }
            // Paused before this thread polls again, so not one of their records is fetched.
            let paused = held.withLock { $0 }
            if !paused.isEmpty {
                let pauseList = makePartitionList(paused.map { ($0, nil) })
                let e = rd_kafka_pause_partitions(rk, pauseList)
                rd_kafka_topic_partition_list_destroy(pauseList)
                if e != RD_KAFKA_RESP_ERR_NO_ERROR { logFailure(KafkaError(e, context: "pause unprepared partitions")) }
                notePaused(paused, true)
            }
            assigned.withLock { set in
                if !cooperative { set.removeAll() }
                set.formUnion(list)
            }
            if !list.isEmpty { channel.push(.assigned(list), isStopping: { self.isStopping }) }
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            revocations.add(1, ordering: .releasing)
            assigned.withLock { $0.subtract(list) }
            channel.purge(Set(list))
            let lost = rd_kafka_assignment_lost(rk) != 0
            if let handler, !list.isEmpty { blockOnAsync { await handler.finish(revoked: list, lost: lost) } }
            unpause(rk, list)  // after `finish`: a lane draining may still pause its partition
            let commitErr = rd_kafka_commit(rk, nil, 0)
            if commitErr != RD_KAFKA_RESP_ERR_NO_ERROR && commitErr != RD_KAFKA_RESP_ERR__NO_OFFSET {
                logFailure(KafkaError(commitErr, context: "commit on revoke of \(list.map(\.description).joined(separator: ","))"))
            }
            if cooperative {
                if let e = rd_kafka_incremental_unassign(rk, partitions) { logFailure(KafkaError(consuming: e, context: "incremental unassign")) }
            } else {
                _ = rd_kafka_assign(rk, nil)
            }
            if !list.isEmpty { channel.push(.revoked(list), isStopping: { self.isStopping }) }
        default:
            // Rebalance error (e.g. fenced): the group takes the whole assignment back and this
            // member rejoins. Its partitions are finished exactly as on a revoke (their lanes
            // stop, final offsets are stored), or they would keep firing timers and writing
            // state next to their new owner.
            logFailure(KafkaError(err, context: "rebalance"))
            revocations.add(1, ordering: .releasing)
            let held = assigned.withLock { set in
                defer { set.removeAll() }
                return set.sorted()
            }
            channel.purge(Set(held))
            if let handler, !held.isEmpty { blockOnAsync { await handler.finish(revoked: held, lost: true) } }
            unpause(rk, held)
            _ = rd_kafka_assign(rk, nil)
            if !held.isEmpty { channel.push(.revoked(held), isStopping: { self.isStopping }) }
        }
    }

    /// Partitions this member paused (its own pause flag, which librdkafka keeps across
    /// unassign and assign).
    private let appPaused = Mutex<Set<KafkaTopicPartition>>([])

    func notePaused(_ partitions: some Sequence<KafkaTopicPartition>, _ paused: Bool) {
        appPaused.withLock { set in
            if paused { set.formUnion(partitions) } else { set.subtract(partitions) }
        }
    }

    /// Clears the pause flag of revoked partitions before they are unassigned. librdkafka keeps
    /// it across unassign and assign: a partition paused (back-pressure, a failed restore) and
    /// lost was, when assigned back, never fetched again, with nothing to say so (chaos seed 16:
    /// pushes lost). Done here, not at the next assignment: a resume right after an assign can
    /// make librdkafka drop the partition's fetch start as outdated (librdkafka #2190), which a
    /// resume of every newly assigned partition did in one benchmark run.
    private func unpause(_ rk: OpaquePointer, _ revoked: [KafkaTopicPartition]) {
        let paused = appPaused.withLock { set in
            let hit = revoked.filter { set.contains($0) }
            set.subtract(revoked)
            return hit
        }
        guard !paused.isEmpty else { return }
        let list = makePartitionList(paused.map { ($0, nil) })
        let e = rd_kafka_resume_partitions(rk, list)
        rd_kafka_topic_partition_list_destroy(list)
        if e != RD_KAFKA_RESP_ERR_NO_ERROR { logFailure(KafkaError(e, context: "clear the pause of revoked partitions")) }
    }

    /// A fatal error of this consumer's client (from librdkafka's error callback, on the polling
    /// thread): handed to the reader, which must stop.
    func reportFatal(_ error: KafkaError) {
        channel.push(.error(error), isStopping: { true })
    }

    private func logFailure(_ error: KafkaError) {
        kafkaLogger.warning("\(error)")
        channel.push(.error(error), isStopping: { true })
    }
}

private let rebalanceCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?) -> Void = {
    rk, err, partitions, opaque in
    guard let rk, let opaque else { return }
    let context = Unmanaged<ClientContext>.fromOpaque(opaque).takeUnretainedValue()
    context.consumer?.rebalance(rk: rk, err: err, partitions: partitions)
}

/// A bounded, in-order hand-off from the polling thread to one async reader.
///
/// The polling thread blocks while `capacity` events are waiting (back-pressure instead of
/// unbounded buffering); `purge` drops buffered messages of revoked partitions.
final class EventChannel: @unchecked Sendable {
    // @unchecked: all mutable state is guarded by `condition`'s lock.
    private let condition = NSCondition()
    private var queue: [KafkaConsumerEvent] = []
    private var waiter: CheckedContinuation<KafkaConsumerEvent?, Never>?
    private var finished = false
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Polling thread only. Waits while full unless `isStopping()` says the reader is going away
    /// (an event that cannot be delivered then is dropped: its offset was never stored).
    func push(_ event: KafkaConsumerEvent, isStopping: () -> Bool) {
        condition.lock()
        if let waiter {
            self.waiter = nil
            condition.unlock()
            waiter.resume(returning: event)
            return
        }
        while queue.count >= capacity && !finished && !isStopping() {
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
        }
        // Full while stopping: control events still go through (they are few and tell the
        // reader what happened); message batches are dropped (their offsets were never stored).
        if !finished && (queue.count < capacity || isControl(event)) {
            queue.append(event)
        }
        condition.unlock()
    }

    private func isControl(_ event: KafkaConsumerEvent) -> Bool {
        if case .messages = event { return false }
        return true
    }

    func next() async -> KafkaConsumerEvent? {
        await withCheckedContinuation { continuation in
            condition.lock()
            if !queue.isEmpty {
                let event = queue.removeFirst()
                condition.signal()
                condition.unlock()
                continuation.resume(returning: event)
            } else if finished {
                condition.unlock()
                continuation.resume(returning: nil)
            } else {
                waiter = continuation
                condition.unlock()
            }
        }
    }

    func purge(_ partitions: Set<KafkaTopicPartition>) {
        condition.lock()
        defer { condition.unlock() }
        queue = queue.compactMap { event in
            guard case .messages(let batch) = event else { return event }
            let kept = batch.filter { !partitions.contains($0.topicPartition) }
            return kept.isEmpty ? nil : .messages(kept)
        }
        condition.broadcast()
    }

    func finish() {
        condition.lock()
        finished = true
        let waiter = self.waiter
        self.waiter = nil
        condition.broadcast()
        condition.unlock()
        waiter?.resume(returning: nil)
    }
}
