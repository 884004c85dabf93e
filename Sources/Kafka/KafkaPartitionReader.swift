import CRdKafka
import Foundation

/// Progress of a partition read.
public struct KafkaReadProgress: Sendable, Hashable {
    /// Records handed out so far.
    public var records: Int
    /// Offset of the last record handed out (−1 before the first).
    public var offset: Int64
    /// The end offset fixed at start: reading stops before it.
    public var endOffset: Int64
    /// The first offset present at start.
    public var startOffset: Int64
}

/// Reads one partition, without joining a consumer group, from its beginning (or a given offset)
/// up to the end offset it had when the read started (or a given earlier one): exactly the
/// records present at start, tombstones (nil values) included. Used to restore compacted state
/// on assignment, and by `pushfleet replay` for an offset range.
///
/// Runs entirely on a dedicated thread and hands out batches; a read that makes no progress for
/// `idleTimeout` fails with an error naming the partition and the offsets, instead of hanging.
public struct KafkaPartitionReader: Sendable {
    public var configuration: KafkaConfiguration
    public var batchSize: Int = 2000
    public var idleTimeout: Duration = .seconds(15)

    public init(configuration: KafkaConfiguration) {
        self.configuration = configuration
    }

    /// Reads `partition`, calling `handler` on the reader thread for each batch in offset order,
    /// and `progress` after each batch. Returns the final progress.
    ///
    /// `from`/`to` narrow the read to `[from, to)` (clamped to the watermarks at start). With a
    /// `commitGroup`, the offset after each batch is committed to that group synchronously once
    /// `handler` has returned, so a caller whose handler finishes its work before returning can
    /// resume an interrupted read from the group's committed offsets. The group is never joined
    /// (no rebalance, no member): commits are the simple-consumer kind.
    /// - Important: `handler` runs on the reader's own thread and may block it (back-pressure);
    ///   if it throws, the read stops there (that batch is not committed) and fails with its error.
    @discardableResult
    public func read(
        _ partition: KafkaTopicPartition,
        from: Int64? = nil, to: Int64? = nil, commitGroup: String? = nil,
        progress: (@Sendable (KafkaReadProgress) -> Void)? = nil,
        handler: @escaping @Sendable ([KafkaMessage]) throws -> Void
    ) async throws(KafkaError) -> KafkaReadProgress {
        let conf = try configuration.makeConf(defaults: [
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "true"),
            ("auto.offset.reset", "earliest"),
            ("fetch.wait.max.ms", "10"),
        ], overrides: [("group.id", commitGroup ?? "pushfleet-reader-\(UInt64.random(in: 0...UInt64.max))")])
        // librdkafka 2.x assigns only through a group handle; this one never joins or commits.
        let context = ClientContext()
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_error_cb(conf, clientErrorCallback)
        let rk = try makeHandle(RD_KAFKA_CONSUMER, conf: conf)
        let handle = KafkaHandle(pointer: rk)
        let batchSize = max(1, self.batchSize)
        let idleMs = Int64(milliseconds(idleTimeout))
        let result: Result<KafkaReadProgress, KafkaError> = await offload("kafka-partition-reader") {
            defer { rd_kafka_destroy(handle.pointer) }
            return withExtendedLifetime(context) {
                Self.run(handle: handle, partition: partition, range: (from, to), commit: commitGroup != nil, batchSize: batchSize, idleMs: idleMs,
                         context: context, progress: progress, handler: handler)
            }
        }
        return try result.get()
    }

    /// Reads the whole partition into memory (small partitions and tests).
    public func readAll(_ partition: KafkaTopicPartition) async throws(KafkaError) -> [KafkaMessage] {
        let collected = MessageCollector()
        try await read(partition) { collected.append($0) }
        return collected.messages
    }

    private static func run(
        handle: KafkaHandle, partition: KafkaTopicPartition, range: (from: Int64?, to: Int64?), commit: Bool, batchSize: Int, idleMs: Int64,
        context: ClientContext, progress: (@Sendable (KafkaReadProgress) -> Void)?, handler: @Sendable ([KafkaMessage]) throws -> Void
    ) -> Result<KafkaReadProgress, KafkaError> {
        let rk = handle.pointer
        var low: Int64 = 0, high: Int64 = 0
        let werr = rd_kafka_query_watermark_offsets(rk, partition.topic, partition.partition, &low, &high, Int32(clamping: idleMs))
        guard werr == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .failure(context.enrich(KafkaError(werr, context: "read \(partition): watermarks")))
        }
        if let to = range.to { high = min(high, max(low, to)) }
        if let from = range.from { low = min(high, max(low, from)) }
        var state = KafkaReadProgress(records: 0, offset: -1, endOffset: high, startOffset: low)
        guard high > low else {
            progress?(state)
            return .success(state)
        }
        let list = makePartitionList([(partition, low)])
        let aerr = rd_kafka_assign(rk, list)
        rd_kafka_topic_partition_list_destroy(list)
        guard aerr == RD_KAFKA_RESP_ERR_NO_ERROR else {
            return .failure(KafkaError(aerr, context: "read \(partition): assign"))
        }
        defer { _ = rd_kafka_assign(rk, nil) }
        let queue = rd_kafka_queue_get_consumer(rk)
        defer { rd_kafka_queue_destroy(queue) }
        var buffer = [UnsafeMutablePointer<rd_kafka_message_t>?](repeating: nil, count: batchSize)
        var converter = MessageConverter()
        var lastProgress = DispatchTime.now().uptimeNanoseconds
        var nextOffset = low
        while nextOffset < high {
            let n = buffer.withUnsafeMutableBufferPointer {
                rd_kafka_consume_batch_queue(queue, 100, $0.baseAddress, batchSize)
            }
            var batch: [KafkaMessage] = []
            var failure: KafkaError?
            var reachedEnd = false
            if n > 0 { batch.reserveCapacity(n) }
            for i in 0..<max(0, n) {
                guard let raw = buffer[i] else { continue }
                defer { rd_kafka_message_destroy(raw) }
                let m = raw.pointee
                if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                    guard m.offset < high else { reachedEnd = true; continue }  // produced after start
                    batch.append(converter.convert(raw))
                    nextOffset = m.offset + 1
                } else if m.err == RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    // Compaction or aborted transactions can leave the end offset unreachable.
                    if m.offset >= high { reachedEnd = true }
                } else if failure == nil {
                    let text = rd_kafka_message_errstr(raw).map { String(cString: $0) } ?? ""
                    failure = KafkaError(m.err, message: text, context: "read \(partition)")
                }
            }
            if !batch.isEmpty {
                do {
                    try handler(batch)
                } catch {
                    // Nothing of this batch is committed: a resumed read starts with it again.
                    return .failure(KafkaError.state("read \(partition): stopped by its handler at offsets \(batch[0].offset)…\(batch[batch.count - 1].offset): \(error)"))
                }
                state.records += batch.count
                state.offset = batch[batch.count - 1].offset
                if commit, let error = commitSync(rk, partition, offset: state.offset + 1) { return .failure(context.enrich(error)) }
                progress?(state)
                lastProgress = DispatchTime.now().uptimeNanoseconds
            }
            if let failure, !failure.isRetriable { return .failure(failure) }
            if reachedEnd { break }
            if batch.isEmpty {
                let idle = Int64((DispatchTime.now().uptimeNanoseconds - lastProgress) / 1_000_000)
                if idle > idleMs {
                    let why = failure.map { ": \($0.message)" } ?? ""
                    return .failure(context.enrich(KafkaError.timedOut(
                        "read \(partition): no progress for \(idleMs) ms at offset \(nextOffset) of \(low)..<\(high)\(why)")))
                }
            }
        }
        return .success(state)
    }

    /// Commits "next offset to read" for one partition and waits for the coordinator's answer.
    private static func commitSync(_ rk: OpaquePointer, _ partition: KafkaTopicPartition, offset: Int64) -> KafkaError? {
        let list = makePartitionList([(partition, offset)])
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = rd_kafka_commit(rk, list, 0)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { return KafkaError(err, context: "commit \(partition) at \(offset)") }
        let e = list.pointee.elems[0]
        return e.err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(e.err, context: "commit \(partition) at \(offset)")
    }
}

/// Collects batches handed out on the reader thread.
final class MessageCollector: @unchecked Sendable {
    // @unchecked: `append` runs on the single reader thread; `messages` is read after the read
    // has returned (the offload continuation orders the two).
    private(set) var messages: [KafkaMessage] = []
    func append(_ batch: [KafkaMessage]) { messages.append(contentsOf: batch) }
}
