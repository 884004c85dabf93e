import CRdKafka
import Synchronization

/// A Kafka-protocol cluster in this process, on loopback TCP: librdkafka's mock cluster.
///
/// Real clients (ours, `kcat`, any Kafka library) connect to `bootstrapServers` as to any broker.
/// Limits of librdkafka 2.0.2's mock: no CreateTopics/DescribeConfigs (topics are created here,
/// and their configs are remembered here so `KafkaAdmin` can verify them), no compaction, fake
/// transactions, at most ~5 MiB kept per partition, the first group join waits ~3 s.
///
/// - Important: the cluster is destroyed before the `rd_kafka_t` that owns it (the mock's
///   threads use the handle), in `shutdown()` or `deinit`.
public final class EmbeddedKafkaBroker: Sendable {
    private let handle: KafkaHandle
    private let cluster: MockCluster
    private let state = Mutex<State>(State())
    /// `host:port,…` of every broker.
    public let bootstrapServers: String
    public let brokerCount: Int

    private struct State {
        var shutDown = false
        var topics: [String: KafkaTopicSpec] = [:]
    }

    /// Starts `brokers` brokers (ids 1…N) on ephemeral loopback ports.
    public init(brokers: Int = 1) throws(KafkaError) {
        guard brokers >= 1 else {
            throw KafkaError(RD_KAFKA_RESP_ERR__INVALID_ARG, message: "embedded broker: brokers must be ≥ 1, got \(brokers)")
        }
        let conf = try KafkaConfiguration(bootstrapServers: "", clientId: "pushfleet-embedded-broker")
            .makeConf(defaults: [("log_level", "3")])
        let rk = try makeHandle(RD_KAFKA_PRODUCER, conf: conf)
        guard let mc = rd_kafka_mock_cluster_new(rk, Int32(brokers)) else {
            rd_kafka_destroy(rk)
            throw KafkaError(RD_KAFKA_RESP_ERR__FAIL, message: "embedded broker: could not start the mock cluster")
        }
        handle = KafkaHandle(pointer: rk)
        cluster = MockCluster(pointer: mc)
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(mc))
        brokerCount = brokers
    }

    deinit {
        shutdown()
    }

    /// Stops every broker and closes their sockets. Idempotent.
    public func shutdown() {
        let first = state.withLock { s in
            defer { s.shutDown = true }
            return !s.shutDown
        }
        guard first else { return }
        rd_kafka_mock_cluster_destroy(cluster.pointer)
        rd_kafka_destroy(handle.pointer)
    }

    private func checkRunning() throws(KafkaError) {
        if state.withLock({ $0.shutDown }) { throw KafkaError.state("embedded broker is shut down") }
    }

    /// Creates a topic. `configs` are not enforced by the mock (no compaction) but are kept,
    /// so that topic verification sees what was asked for.
    public func createTopic(_ spec: KafkaTopicSpec) throws(KafkaError) {
        try checkRunning()
        if state.withLock({ $0.topics[spec.name] != nil }) {
            throw KafkaError(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS, context: "create topic \(spec.name)")
        }
        let replication = spec.replicationFactor < 1 ? 1 : Int32(spec.replicationFactor)
        guard spec.partitions >= 1, replication <= brokerCount else {
            throw KafkaError(RD_KAFKA_RESP_ERR_INVALID_PARTITIONS,
                             message: "create topic \(spec.name): need ≥ 1 partition and replication ≤ \(brokerCount) brokers")
        }
        let err = rd_kafka_mock_topic_create(cluster.pointer, spec.name, spec.partitions, replication)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, context: "create topic \(spec.name)") }
        state.withLock { $0.topics[spec.name] = spec }
    }

    /// What `createTopic` was asked for, or nil.
    public func topicSpec(_ name: String) -> KafkaTopicSpec? {
        state.withLock { $0.topics[name] }
    }

    /// Takes a broker down: its connections are closed and new ones refused until `setBrokerUp`.
    public func setBrokerDown(_ brokerId: Int32 = 1) throws(KafkaError) {
        try checkRunning()
        try check(rd_kafka_mock_broker_set_down(cluster.pointer, brokerId), "broker \(brokerId) down")
    }

    public func setBrokerUp(_ brokerId: Int32 = 1) throws(KafkaError) {
        try checkRunning()
        try check(rd_kafka_mock_broker_set_up(cluster.pointer, brokerId), "broker \(brokerId) up")
    }

    /// Adds a round-trip delay to every response of a broker.
    public func setRoundTripTime(_ rtt: Duration, brokerId: Int32 = 1) throws(KafkaError) {
        try checkRunning()
        try check(rd_kafka_mock_broker_set_rtt(cluster.pointer, brokerId, milliseconds(rtt)), "broker \(brokerId) rtt")
    }

    /// Makes the next requests of one API (`KafkaAPIKey`) fail with these error codes, in order.
    public func injectRequestErrors(_ api: KafkaAPIKey, _ codes: [Int32]) throws(KafkaError) {
        try checkRunning()
        let errors = codes.map { rd_kafka_resp_err_t(rawValue: $0) }
        rd_kafka_mock_push_request_errors_array(cluster.pointer, api.rawValue, errors.count, errors)
    }

    /// Makes `brokerId` the leader of a partition; -1 leaves it without a leader (its reads and
    /// writes wait, as during a failed election).
    public func setPartitionLeader(_ topic: String, partition: Int32, brokerId: Int32) throws(KafkaError) {
        try checkRunning()
        try check(rd_kafka_mock_partition_set_leader(cluster.pointer, topic, partition, brokerId), "leader of \(topic)[\(partition)]")
    }

    /// Makes every metadata answer for `topic` carry `code` (0 clears it).
    public func setTopicError(_ topic: String, code: Int32) throws(KafkaError) {
        try checkRunning()
        rd_kafka_mock_topic_set_error(cluster.pointer, topic, rd_kafka_resp_err_t(rawValue: code))
    }

    private func check(_ err: rd_kafka_resp_err_t, _ what: String) throws(KafkaError) {
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, context: "embedded broker: \(what)") }
    }
}

/// Kafka protocol API keys the embedded broker can be told to fail.
public enum KafkaAPIKey: Int16, Sendable, CaseIterable {
    case produce = 0
    case fetch = 1
    case listOffsets = 2
    case metadata = 3
    case offsetCommit = 8
    case offsetFetch = 9
    case findCoordinator = 10
    case joinGroup = 11
    case heartbeat = 12
    case syncGroup = 14
    case initProducerId = 22
}

/// Well-known broker error codes, for fault injection.
public enum KafkaErrorCode {
    public static let notLeaderForPartition = RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue
    public static let requestTimedOut = RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue
    public static let unknownTopicOrPartition = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.rawValue
    public static let notEnoughReplicas = RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue
    public static let topicAuthorizationFailed = RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED.rawValue
    public static let messageTooLarge = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE.rawValue
}

/// The mock cluster's API is thread-safe (calls are handed to the cluster's own thread).
struct MockCluster: @unchecked Sendable {
    let pointer: OpaquePointer
}
