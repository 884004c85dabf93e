import CRdKafka
import Foundation

/// A topic to create or verify.
public struct KafkaTopicSpec: Sendable, Hashable {
    public var name: String
    public var partitions: Int32
    /// −1 = the broker's default.
    public var replicationFactor: Int16
    /// Topic configs, e.g. `cleanup.policy=compact`.
    public var configs: [String: String]

    public init(name: String, partitions: Int32, replicationFactor: Int16 = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// A topic as the cluster reports it.
public struct KafkaTopicDescription: Sendable, Hashable {
    public var name: String
    public var partitions: Int
    /// Topic configs (only those the cluster reported).
    public var configs: [String: String]
}

/// Topic administration, the same call for a real cluster and the embedded broker.
///
/// A real cluster is driven through librdkafka's Admin API (CreateTopics, DescribeConfigs).
/// The embedded broker has neither, so behind the same methods its topics are created through
/// the mock API and its configs come from what was asked at creation.
public struct KafkaAdmin: Sendable {
    private enum Backend: Sendable {
        case cluster(KafkaConfiguration)
        case embedded(EmbeddedKafkaBroker)
    }

    private let backend: Backend

    public init(configuration: KafkaConfiguration) {
        backend = .cluster(configuration)
    }

    public init(embedded broker: EmbeddedKafkaBroker) {
        backend = .embedded(broker)
    }

    public enum CreateResult: Sendable, Hashable {
        case created
        case alreadyExists
    }

    /// Creates topics; an existing topic is reported, not an error (verify it with `verify`).
    public func createTopics(_ specs: [KafkaTopicSpec], timeout: Duration = .seconds(30)) async throws(KafkaError) -> [String: CreateResult] {
        switch backend {
        case .embedded(let broker):
            var out: [String: CreateResult] = [:]
            for spec in specs {
                do {
                    try broker.createTopic(spec)
                    out[spec.name] = .created
                } catch where error.code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS.rawValue {
                    out[spec.name] = .alreadyExists
                }
            }
            return out
        case .cluster(let configuration):
            return try await AdminClient(configuration).createTopics(specs, timeout: timeout)
        }
    }

    /// Describes topics; a missing topic is absent from the result.
    public func describeTopics(_ names: [String], timeout: Duration = .seconds(30)) async throws(KafkaError) -> [String: KafkaTopicDescription] {
        switch backend {
        case .embedded(let broker):
            let client = try AdminClient(KafkaConfiguration(bootstrapServers: broker.bootstrapServers))
            // Offloaded calls use the handle; the client's deinit destroys it.
            defer { withExtendedLifetime(client) {} }
            let counts = try await KafkaMetadata.topics(handle: client.handle, timeout: timeout, context: client.context)
            var out: [String: KafkaTopicDescription] = [:]
            for name in names {
                guard let count = counts[name] else { continue }
                out[name] = KafkaTopicDescription(name: name, partitions: count, configs: broker.topicSpec(name)?.configs ?? [:])
            }
            return out
        case .cluster(let configuration):
            let client = try AdminClient(configuration)
            // Offloaded calls use the handle; the client's deinit destroys it.
            defer { withExtendedLifetime(client) {} }
            let counts = try await KafkaMetadata.topics(handle: client.handle, timeout: timeout, context: client.context)
            let present = names.filter { counts[$0] != nil }
            let configs = try await client.describeConfigs(present, timeout: timeout)
            var out: [String: KafkaTopicDescription] = [:]
            for name in present {
                out[name] = KafkaTopicDescription(name: name, partitions: counts[name]!, configs: configs[name] ?? [:])
            }
            return out
        }
    }

    /// The client configuration behind either backend (the embedded broker is a plain cluster
    /// for everything but topic creation and configs).
    private var clientConfiguration: KafkaConfiguration {
        switch backend {
        case .cluster(let c): c
        case .embedded(let broker): KafkaConfiguration(bootstrapServers: broker.bootstrapServers)
        }
    }

    /// Partition count of a topic, from cluster metadata only (no DescribeConfigs, which the
    /// embedded broker lacks); an error names a missing topic.
    public func partitionCount(topic: String, timeout: Duration = .seconds(10)) async throws(KafkaError) -> Int {
        let client = try AdminClient(clientConfiguration)
        // Offloaded calls use the handle; the client's deinit destroys it.
        defer { withExtendedLifetime(client) {} }
        return try await KafkaMetadata.partitionCount(handle: client.handle, topic: topic, timeout: timeout, context: client.context)
    }

    /// Low and high watermarks (first offset, offset after the last record) of each partition.
    public func watermarks(topic: String, partitions: [Int32], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [Int32: (low: Int64, high: Int64)] {
        let client = try AdminClient(clientConfiguration)
        // Offloaded calls use the handle; the client's deinit destroys it.
        defer { withExtendedLifetime(client) {} }
        var out: [Int32: (low: Int64, high: Int64)] = [:]
        for partition in partitions {
            out[partition] = try await KafkaMetadata.watermarks(
                handle: client.handle, partition: KafkaTopicPartition(topic: topic, partition: partition), timeout: timeout, context: client.context)
        }
        return out
    }

    /// For each partition, the earliest offset whose record timestamp is at or after
    /// `timestamp` (milliseconds since the epoch), as the broker answers ListOffsets by time
    /// (`rd_kafka_offsets_for_times`). nil = the broker knows no such record.
    /// - Important: librdkafka's mock cluster (the embedded broker) does not implement
    ///   ListOffsets by time and answers nil for every partition; callers must not read nil as
    ///   "nothing after this time" without another check.
    public func offsets(forTimestamp timestamp: Int64, topic: String, partitions: [Int32], timeout: Duration = .seconds(10)) async throws(KafkaError) -> [Int32: Int64?] {
        let client = try AdminClient(clientConfiguration)
        // Offloaded calls use the handle; the client's deinit destroys it.
        defer { withExtendedLifetime(client) {} }
        let handle = client.handle
        let ms = milliseconds(timeout)
        let result: Result<[Int32: Int64?], KafkaError> = await offload("kafka-offsets-for-times") {
            let list = makePartitionList(partitions.map { (KafkaTopicPartition(topic: topic, partition: $0), timestamp) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_offsets_for_times(handle.pointer, list, ms)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(KafkaError(err, context: "offsets of \(topic) for time \(timestamp)")) }
            return offsetsByPartition(list, context: "offset of \(topic) for time \(timestamp)")
        }
        do {
            return try result.get()
        } catch {
            throw client.context.enrich(error)
        }
    }

    /// A consumer group's committed offsets, read without joining the group (OffsetFetch only).
    /// nil = nothing committed for that partition.
    public func committedOffsets(group: String, topic: String, partitions: Int32, timeout: Duration = .seconds(10)) async throws(KafkaError) -> [Int32: Int64?] {
        let configuration = clientConfiguration
        let conf = try configuration.makeConf(defaults: [("enable.auto.commit", "false")], overrides: [("group.id", group)])
        let handle = KafkaHandle(pointer: try makeHandle(RD_KAFKA_CONSUMER, conf: conf))
        let ms = milliseconds(timeout)
        let result: Result<[Int32: Int64?], KafkaError> = await offload("kafka-committed-offsets") {
            defer { rd_kafka_destroy(handle.pointer) }
            let list = makePartitionList((0..<partitions).map { (KafkaTopicPartition(topic: topic, partition: $0), nil) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let err = rd_kafka_committed(handle.pointer, list, ms)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(KafkaError(err, context: "committed offsets of group \(group)")) }
            return offsetsByPartition(list, context: "committed offset of group \(group) on \(topic)")
        }
        return try result.get()
    }

    /// Problems of the existing topics against the specs: missing topic, partition count,
    /// differing configs (only keys named in the spec are compared). Empty = all good.
    public func verify(_ specs: [KafkaTopicSpec], timeout: Duration = .seconds(30)) async throws(KafkaError) -> [String] {
        let found = try await describeTopics(specs.map(\.name), timeout: timeout)
        var problems: [String] = []
        for spec in specs {
            guard let topic = found[spec.name] else {
                problems.append("topic \(spec.name) does not exist")
                continue
            }
            if topic.partitions != Int(spec.partitions) {
                problems.append("topic \(spec.name) has \(topic.partitions) partition(s), expected \(spec.partitions)")
            }
            for (key, value) in spec.configs.sorted(by: { $0.key < $1.key }) where topic.configs[key] != value {
                problems.append("topic \(spec.name) has \(key)=\(topic.configs[key] ?? "(unset)"), expected \(key)=\(value)")
            }
        }
        return problems
    }
}

/// A short-lived librdkafka handle for Admin API calls against a real cluster.
private final class AdminClient: Sendable {
    let handle: KafkaHandle
    let context = ClientContext()

    init(_ configuration: KafkaConfiguration) throws(KafkaError) {
        let conf = try configuration.makeConf(defaults: [])
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_error_cb(conf, clientErrorCallback)
        handle = KafkaHandle(pointer: try makeHandle(RD_KAFKA_PRODUCER, conf: conf))
    }

    /// `rd_kafka_destroy` waits for the client's threads and outstanding requests: never on the
    /// cooperative pool, where the last reference may drop.
    deinit {
        let handle = self.handle
        let context = self.context
        let thread = Thread {
            rd_kafka_destroy(handle.pointer)
            withExtendedLifetime(context) {}
        }
        thread.name = "kafka-admin-teardown"
        thread.start()
    }

    func createTopics(_ specs: [KafkaTopicSpec], timeout: Duration) async throws(KafkaError) -> [String: KafkaAdmin.CreateResult] {
        let handle = self.handle
        let ms = milliseconds(timeout)
        let result: Result<[String: KafkaAdmin.CreateResult], KafkaError> = await offload("kafka-create-topics") {
            var errstr = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
            for spec in specs {
                guard let nt = rd_kafka_NewTopic_new(spec.name, spec.partitions, Int32(spec.replicationFactor), &errstr, errstr.count) else {
                    return .failure(KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, message: "topic \(spec.name): \(string(fromCBuffer: errstr))"))
                }
                newTopics.append(nt)
                for (key, value) in spec.configs {
                    let err = rd_kafka_NewTopic_set_config(nt, key, value)
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR { return .failure(KafkaError(err, context: "topic \(spec.name) config \(key)")) }
                }
            }
            return adminRequest(handle: handle, op: RD_KAFKA_ADMIN_OP_CREATETOPICS, timeoutMs: ms, what: "create topics") { options, queue in
                rd_kafka_CreateTopics(handle.pointer, &newTopics, newTopics.count, options, queue)
            } parse: { event in
                var out: [String: KafkaAdmin.CreateResult] = [:]
                var count = 0
                guard let res = rd_kafka_event_CreateTopics_result(event),
                      let topics = rd_kafka_CreateTopics_result_topics(res, &count) else { return .success(out) }
                for i in 0..<count {
                    let t = topics[i]
                    let name = String(cString: rd_kafka_topic_result_name(t))
                    let err = rd_kafka_topic_result_error(t)
                    switch err {
                    case RD_KAFKA_RESP_ERR_NO_ERROR: out[name] = .created
                    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS: out[name] = .alreadyExists
                    default:
                        let text = rd_kafka_topic_result_error_string(t).map { String(cString: $0) }
                        return .failure(KafkaError(err, message: text, context: "create topic \(name)"))
                    }
                }
                return .success(out)
            }
        }
        return try result.get()
    }

    func describeConfigs(_ names: [String], timeout: Duration) async throws(KafkaError) -> [String: [String: String]] {
        guard !names.isEmpty else { return [:] }
        let handle = self.handle
        let ms = milliseconds(timeout)
        let result: Result<[String: [String: String]], KafkaError> = await offload("kafka-describe-configs") {
            var resources: [OpaquePointer?] = names.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
            defer { resources.forEach { rd_kafka_ConfigResource_destroy($0) } }
            return adminRequest(handle: handle, op: RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, timeoutMs: ms, what: "describe topic configs") { options, queue in
                rd_kafka_DescribeConfigs(handle.pointer, &resources, resources.count, options, queue)
            } parse: { event in
                var out: [String: [String: String]] = [:]
                var count = 0
                guard let res = rd_kafka_event_DescribeConfigs_result(event),
                      let described = rd_kafka_DescribeConfigs_result_resources(res, &count) else { return .success(out) }
                for i in 0..<count {
                    let r = described[i]
                    let name = String(cString: rd_kafka_ConfigResource_name(r))
                    let err = rd_kafka_ConfigResource_error(r)
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                        let text = rd_kafka_ConfigResource_error_string(r).map { String(cString: $0) }
                        return .failure(KafkaError(err, message: text, context: "describe configs of \(name)"))
                    }
                    var entries = 0
                    var configs: [String: String] = [:]
                    if let list = rd_kafka_ConfigResource_configs(r, &entries) {
                        for j in 0..<entries {
                            let entry = list[j]
                            if let value = rd_kafka_ConfigEntry_value(entry) {
                                configs[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
                            }
                        }
                    }
                    out[name] = configs
                }
                return .success(out)
            }
        }
        return try result.get()
    }
}

/// The offsets librdkafka filled in a partition list (nil where it has none, i.e. negative),
/// or the first per-partition error, naming the partition.
private func offsetsByPartition(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>, context: String) -> Result<[Int32: Int64?], KafkaError> {
    var out: [Int32: Int64?] = [:]
    for i in 0..<Int(list.pointee.cnt) {
        let e = list.pointee.elems[i]
        guard e.err == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(KafkaError(e.err, context: "\(context), partition \(e.partition)")) }
        out[e.partition] = e.offset >= 0 ? e.offset : nil
    }
    return .success(out)
}

/// One Admin API round trip: options with timeouts, the request, one result event, cleanup.
private func adminRequest<T>(
    handle: KafkaHandle, op: rd_kafka_admin_op_t, timeoutMs: Int32, what: String,
    send: (OpaquePointer?, OpaquePointer?) -> Void,
    parse: (OpaquePointer) -> Result<T, KafkaError>
) -> Result<T, KafkaError> {
    var errstr = [CChar](repeating: 0, count: 512)
    let options = rd_kafka_AdminOptions_new(handle.pointer, op)
    defer { rd_kafka_AdminOptions_destroy(options) }
    _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMs, &errstr, errstr.count)
    _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMs, &errstr, errstr.count)
    let queue = rd_kafka_queue_new(handle.pointer)
    defer { rd_kafka_queue_destroy(queue) }
    send(options, queue)
    guard let event = rd_kafka_queue_poll(queue, timeoutMs + 1000) else {
        return .failure(KafkaError.timedOut("\(what): no answer within \(timeoutMs) ms"))
    }
    defer { rd_kafka_event_destroy(event) }
    let err = rd_kafka_event_error(event)
    if err != RD_KAFKA_RESP_ERR_NO_ERROR {
        let text = rd_kafka_event_error_string(event).map { String(cString: $0) }
        return .failure(KafkaError(err, message: text, context: what))
    }
    return parse(event)
}
