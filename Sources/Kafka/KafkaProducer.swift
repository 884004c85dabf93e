import CRdKafka
import Foundation
import Synchronization

/// An idempotent producer whose sends complete when the broker acknowledges them.
///
/// Delivery reports are served by one dedicated polling thread, never the cooperative pool.
/// `send` awaits one record; `sendBatch` enqueues a whole batch and awaits a single
/// completion for all of it, so hot paths never await reports one by one.
public final class KafkaProducer: Sendable {
    private let handle: KafkaHandle
    private let context: ClientContext
    private let pollThread: PollThread
    private let backlog = ProduceBacklog(maxWait: .seconds(30))
    public let configuration: KafkaConfiguration

    /// Creates the producer. Idempotence is on and the partitioner is `murmur2_random` (what
    /// Java clients use, so routers written in any language agree on partitions) unless the
    /// configuration's properties say otherwise.
    public init(configuration: KafkaConfiguration) throws(KafkaError) {
        self.configuration = configuration
        let conf = try configuration.makeConf(defaults: [
            ("enable.idempotence", "true"),
            ("partitioner", "murmur2_random"),
            ("linger.ms", "1"),
            ("message.timeout.ms", "30000"),
        ])
        let context = ClientContext()
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_dr_msg_cb(conf, producerDeliveryCallback)
        rd_kafka_conf_set_error_cb(conf, clientErrorCallback)
        let rk = try makeHandle(RD_KAFKA_PRODUCER, conf: conf)
        self.handle = KafkaHandle(pointer: rk)
        self.context = context
        self.pollThread = PollThread(name: "kafka-producer-poll") { [handle = KafkaHandle(pointer: rk)] in
            rd_kafka_poll(handle.pointer, 50)
        }
    }

    /// Tears down on a thread of its own: the last reference may drop on the cooperative pool,
    /// and flush/destroy block (flush gives queued records up to 5 s to be delivered).
    deinit {
        let handle = self.handle, pollThread = self.pollThread, context = self.context
        let thread = Thread {
            pollThread.stop()
            rd_kafka_flush(handle.pointer, 5000)
            rd_kafka_destroy(handle.pointer)
            withExtendedLifetime(context) {}
        }
        thread.name = "kafka-producer-teardown"
        thread.start()
    }

    /// Sends one record and returns where it was stored.
    @discardableResult
    public func send(_ record: KafkaProducerRecord) async throws(KafkaError) -> KafkaDeliveryReport {
        try await sendBatch([record])[0].get()
    }

    /// Enqueues every record, then awaits all their delivery reports at once.
    /// Results are in the order of `records`.
    public func sendBatch(_ records: [KafkaProducerRecord]) async -> [Result<KafkaDeliveryReport, KafkaError>] {
        guard !records.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            let batch = DeliveryBatch(count: records.count, continuation: continuation)
            enqueue(records, batch: batch)
        }
    }

    /// Enqueues every record and calls `completion` once, on the polling thread, when all
    /// reports have arrived. For callers that must not suspend (e.g. a partition lane that
    /// pipelines state writes).
    public func enqueue(_ records: [KafkaProducerRecord], completion: @escaping @Sendable ([Result<KafkaDeliveryReport, KafkaError>]) -> Void) {
        guard !records.isEmpty else { return completion([]) }
        enqueue(records, batch: DeliveryBatch(count: records.count, callback: completion))
    }

    private func enqueue(_ records: [KafkaProducerRecord], batch: DeliveryBatch) {
        _ = Unmanaged.passRetained(batch)  // released by the batch when its last report arrives
        for (index, record) in records.enumerated() {
            let item = ProduceBacklog.Item(record: record, batch: batch, index: index, since: .now())
            // Behind records already waiting for room, so that none overtakes them.
            if backlog.isActive {
                backlog.append(item, produce: produceWaiting)
                continue
            }
            guard let err = produce(record, opaque: batch.slot(index)) else { continue }
            let error = KafkaError(consuming: err, context: "produce to \(record.topic)")
            if error.code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue {
                // Room comes as reports arrive: wait on the backlog's thread, never the caller's.
                backlog.append(item, produce: produceWaiting)
                continue
            }
            batch.complete(index: index, result: .failure(context.enrich(error)))
        }
    }

    /// The backlog's produce call (it owns no handle of its own).
    private var produceWaiting: @Sendable (ProduceBacklog.Item) -> OpaquePointer? {
        { [self] item in produce(item.record, opaque: item.batch.slot(item.index)) }
    }

    /// Records waiting for room in librdkafka's full local queue (see `ProduceBacklog`).
    public var waitingForQueueRoom: Bool { backlog.isActive }

    /// One `rd_kafka_produceva` call; returns the error object if the record was not enqueued.
    private func produce(_ record: KafkaProducerRecord, opaque: UnsafeMutableRawPointer) -> OpaquePointer? {
        record.topic.withCString { topic in
            withOptionalBytes(record.key) { key in
                withOptionalBytes(record.value) { value in
                    let headerNames = record.headers.map { strdup($0.name)! }
                    defer { headerNames.forEach { free($0) } }
                    return withHeaderValues(record.headers) { headerValues in
                        var vus: [rd_kafka_vu_t] = []
                        vus.reserveCapacity(7 + record.headers.count)
                        var vu = rd_kafka_vu_t()
                        vu.vtype = RD_KAFKA_VTYPE_TOPIC; vu.u.cstr = topic; vus.append(vu)
                        if let partition = record.partition {
                            vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_PARTITION; vu.u.i32 = partition; vus.append(vu)
                        }
                        if let key {
                            vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_KEY
                            vu.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress); vu.u.mem.size = key.count; vus.append(vu)
                        }
                        if let value {
                            vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_VALUE
                            vu.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress); vu.u.mem.size = value.count; vus.append(vu)
                        }
                        if let timestamp = record.timestamp {
                            vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_TIMESTAMP; vu.u.i64 = timestamp; vus.append(vu)
                        }
                        vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_MSGFLAGS; vu.u.i = RD_KAFKA_MSG_F_COPY; vus.append(vu)
                        vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_OPAQUE; vu.u.ptr = opaque; vus.append(vu)
                        for (i, name) in headerNames.enumerated() {
                            vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_HEADER
                            vu.u.header.name = UnsafePointer(name)
                            vu.u.header.val = headerValues[i].map { UnsafeRawPointer($0.baseAddress) } ?? nil
                            vu.u.header.size = headerValues[i]?.count ?? 0
                            vus.append(vu)
                        }
                        return rd_kafka_produceva(handle.pointer, vus, vus.count)
                    }
                }
            }
        }
    }

    /// Waits until every enqueued record is delivered or failed, at most `timeout`.
    public func flush(timeout: Duration = .seconds(30)) async throws(KafkaError) {
        let handle = self.handle
        let ms = milliseconds(timeout)
        let err = await offload("kafka-flush") { rd_kafka_flush(handle.pointer, ms) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let pending = rd_kafka_outq_len(handle.pointer)
            throw context.enrich(KafkaError(err, context: "flush: \(pending) record(s) still undelivered after \(timeout)"))
        }
    }

    /// Number of records enqueued but not yet acknowledged.
    public var pendingCount: Int { Int(rd_kafka_outq_len(handle.pointer)) }

    /// The fatal error librdkafka raised, if any: the producer can no longer deliver and must
    /// be recreated (an owner that keeps using it retries forever).
    public var fatalError: KafkaError? { context.fatalError }

    /// Calls `handler` once, on librdkafka's polling thread, when the producer hits a fatal
    /// error (at once if it already has).
    public func onFatalError(_ handler: @escaping @Sendable (KafkaError) -> Void) { context.onFatal(handler) }

    /// Raises a fatal error as librdkafka would (its `rd_kafka_test_fatal_error`), for tests
    /// of what the owner does then.
    package func raiseFatalErrorForTesting(_ reason: String) {
        _ = rd_kafka_test_fatal_error(handle.pointer, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason)
    }

    /// Partition count of a topic as the cluster sees it (also checks reachability).
    /// Every topic of the cluster with its partition count, in one metadata request.
    public func topicPartitionCounts(timeout: Duration = .seconds(10)) async throws(KafkaError) -> [String: Int] {
        try await KafkaMetadata.topics(handle: handle, timeout: timeout, context: context)
    }

    public func partitionCount(topic: String, timeout: Duration = .seconds(10)) async throws(KafkaError) -> Int {
        try await KafkaMetadata.partitionCount(handle: handle, topic: topic, timeout: timeout, context: context)
    }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}

private func withHeaderValues<R>(_ headers: [KafkaHeader], _ body: ([UnsafeRawBufferPointer?]) -> R) -> R {
    if headers.isEmpty { return body([]) }
    // Header values are few and small: copy them into one owned buffer for the call.
    var pointers: [UnsafeRawBufferPointer?] = []
    var owned: [UnsafeMutableRawBufferPointer] = []
    defer { owned.forEach { $0.deallocate() } }
    for header in headers {
        guard let value = header.value else { pointers.append(nil); continue }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(value.count, 1), alignment: 1)
        buffer.copyBytes(from: value)
        owned.append(buffer)
        pointers.append(UnsafeRawBufferPointer(start: buffer.baseAddress, count: value.count))
    }
    return body(pointers)
}

/// Shared state of a client's callbacks (the `rd_kafka_t` opaque): the last transport error,
/// used to explain timeouts, and for consumers the rebalance machinery.
final class ClientContext: Sendable {
    private let lastError = Mutex<String?>(nil)
    /// Set for consumers only; reached from the rebalance callback.
    let consumer: ConsumerPoller?
    /// The client's fatal error once librdkafka raised one (the instance is then unusable).
    private let fatal = Mutex<KafkaError?>(nil)
    private let fatalHandler = Mutex<(@Sendable (KafkaError) -> Void)?>(nil)

    init(consumer: ConsumerPoller? = nil) {
        self.consumer = consumer
    }

    func record(_ text: String) { lastError.withLock { $0 = text } }

    var fatalError: KafkaError? { fatal.withLock { $0 } }

    /// Calls `handler` once with the fatal error (at once if one was already raised).
    func onFatal(_ handler: @escaping @Sendable (KafkaError) -> Void) {
        let already: KafkaError? = fatal.withLock { error in
            if error == nil { fatalHandler.withLock { $0 = handler } }
            return error
        }
        if let already { handler(already) }
    }

    /// Records a fatal error (the first one wins) and tells whoever registered for it.
    func raiseFatal(_ error: KafkaError) {
        let first: Bool = fatal.withLock {
            guard $0 == nil else { return false }
            $0 = error
            return true
        }
        guard first else { return }
        kafkaLogger.error("fatal Kafka client error: the client is unusable", metadata: ["error": "\(error)"])
        if let handler = fatalHandler.withLock({ $0 }) { handler(error) }
        consumer?.reportFatal(error)
    }

    /// Adds the last broker/transport error to a timeout, so "message timed out" says why.
    func enrich(_ error: KafkaError) -> KafkaError {
        guard error.isRetriable, let last = lastError.withLock({ $0 }) else { return error }
        var e = error
        e.message += " (last broker error: \(last))"
        return e
    }
}

/// Completion of one `sendBatch`: a slot per record whose address is the message opaque.
final class DeliveryBatch: @unchecked Sendable {
    // @unchecked: `results`/`remaining` are guarded by `lock`; `slots` is written once at init.
    private let lock = Mutex<Void>(())
    private var results: [Result<KafkaDeliveryReport, KafkaError>?]
    private var remaining: Int
    private let slots: UnsafeMutablePointer<Slot>
    private let continuation: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>?
    private let callback: (@Sendable ([Result<KafkaDeliveryReport, KafkaError>]) -> Void)?

    struct Slot {
        var batch: Unmanaged<DeliveryBatch>
        var index: Int
    }

    init(count: Int, continuation: CheckedContinuation<[Result<KafkaDeliveryReport, KafkaError>], Never>? = nil,
         callback: (@Sendable ([Result<KafkaDeliveryReport, KafkaError>]) -> Void)? = nil) {
        results = Array(repeating: nil, count: count)
        remaining = count
        self.continuation = continuation
        self.callback = callback
        slots = .allocate(capacity: count)
        for i in 0..<count {
            (slots + i).initialize(to: Slot(batch: .passUnretained(self), index: i))
        }
    }

    deinit { slots.deallocate() }

    func slot(_ index: Int) -> UnsafeMutableRawPointer { UnsafeMutableRawPointer(slots + index) }

    func complete(index: Int, result: Result<KafkaDeliveryReport, KafkaError>) {
        let done: [Result<KafkaDeliveryReport, KafkaError>]? = lock.withLock { _ in
            results[index] = result
            remaining -= 1
            return remaining == 0 ? results.map { $0! } : nil
        }
        guard let done else { return }
        continuation?.resume(returning: done)
        callback?(done)
        Unmanaged.passUnretained(self).release()  // balances passRetained in enqueue
    }
}

private let producerDeliveryCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = {
    _, message, opaque in
    guard let message, let slotPointer = message.pointee._private else { return }
    let slot = slotPointer.assumingMemoryBound(to: DeliveryBatch.Slot.self).pointee
    let m = message.pointee
    let topic = m.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
    let result: Result<KafkaDeliveryReport, KafkaError>
    if m.err == RD_KAFKA_RESP_ERR_NO_ERROR {
        result = .success(KafkaDeliveryReport(topic: topic, partition: m.partition, offset: m.offset))
    } else {
        var error = KafkaError(m.err, context: "delivery to \(topic)[\(m.partition)]")
        if let opaque {
            error = Unmanaged<ClientContext>.fromOpaque(opaque).takeUnretainedValue().enrich(error)
        }
        result = .failure(error)
    }
    slot.batch.takeUnretainedValue().complete(index: slot.index, result: result)
}

/// Client-level errors (broker down, all brokers down, auth failures): remembered so that
/// later timeouts can say what went wrong, and logged.
let clientErrorCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?) -> Void = {
    handle, code, reason, opaque in
    let text = reason.map { String(cString: $0) } ?? ""
    guard let opaque else { return }
    let context = Unmanaged<ClientContext>.fromOpaque(opaque).takeUnretainedValue()
    if code == RD_KAFKA_RESP_ERR__FATAL.rawValue, let handle {
        // The instance is unusable (e.g. the idempotent producer lost its sequence): whoever owns
        // it must stop, not retry forever. librdkafka names the original error separately.
        var buffer = [CChar](repeating: 0, count: 512)
        let original = rd_kafka_fatal_error(handle, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var error = KafkaError(original, message: text, context: "fatal")
        error.isFatal = true
        error.isRetriable = false
        context.raiseFatal(error)
        return
    }
    context.record(text)
    kafkaLogger.debug("client error", metadata: ["error": "\(text)", "code": "\(code)"])
}

/// A dedicated thread that calls `body` until stopped.
final class PollThread: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread { [self] in
            while !stopped.load(ordering: .acquiring) { body() }
            finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Stops the loop and waits for its current iteration to end. Idempotent.
    func stop() {
        if stopped.exchange(true, ordering: .acquiringAndReleasing) == false {
            finished.wait()
        }
    }
}
