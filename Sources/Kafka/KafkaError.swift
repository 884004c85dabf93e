import CRdKafka

/// One error type for everything the Kafka layer reports.
///
/// Codes and texts always come from the object librdkafka handed us (a delivery report, an
/// `rd_kafka_error_t`, an event): never from `rd_kafka_last_error()`, which is thread-local and
/// meaningless on the thread that reads it later.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    /// librdkafka's `rd_kafka_resp_err_t` value (negative = local, positive = broker).
    public var code: Int32
    /// librdkafka's symbolic name without the `RD_KAFKA_RESP_ERR_` prefix, e.g. `_MSG_TIMED_OUT`.
    public var name: String
    /// Human-readable text: librdkafka's message, and what we were doing.
    public var message: String
    /// Retrying the same operation may succeed (broker down, timeout, leader change).
    public var isRetriable: Bool
    /// The client instance is unusable and must be recreated.
    public var isFatal: Bool

    /// librdkafka's local `_STATE`: the request does not fit the client's current state yet
    /// (e.g. a seek before the partition's fetcher started); worth a retry shortly.
    public var isLocalState: Bool { code == RD_KAFKA_RESP_ERR__STATE.rawValue }

    public init(code: Int32, name: String, message: String, isRetriable: Bool = false, isFatal: Bool = false) {
        self.code = code
        self.name = name
        self.message = message
        self.isRetriable = isRetriable
        self.isFatal = isFatal
    }

    /// From a response code, with librdkafka's description unless a better message is given.
    init(_ err: rd_kafka_resp_err_t, message: String? = nil, context: String? = nil) {
        let text = message ?? String(cString: rd_kafka_err2str(err))
        self.init(
            code: err.rawValue,
            name: String(cString: rd_kafka_err2name(err)),
            message: context.map { "\($0): \(text)" } ?? text,
            isRetriable: KafkaError.retriableCodes.contains(err.rawValue),
            // Delivery reports of a producer that hit a fatal error carry `_FATAL`.
            isFatal: err == RD_KAFKA_RESP_ERR__FATAL
        )
    }

    /// Takes ownership of an `rd_kafka_error_t` and destroys it.
    init(consuming error: OpaquePointer, context: String? = nil) {
        let text = String(cString: rd_kafka_error_string(error))
        self.init(
            code: rd_kafka_error_code(error).rawValue,
            name: String(cString: rd_kafka_error_name(error)),
            message: context.map { "\($0): \(text)" } ?? text,
            isRetriable: rd_kafka_error_is_retriable(error) != 0,
            isFatal: rd_kafka_error_is_fatal(error) != 0
        )
        rd_kafka_error_destroy(error)
    }

    /// Retrying cannot help this one record (too large, invalid, refused by the broker's record
    /// checks): the write must be given up and its input dead-lettered; other records still go.
    public var isPermanentForRecord: Bool {
        !isFatal && KafkaError.recordPermanentCodes.contains(code)
    }

    private static let recordPermanentCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_MSG,
        RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE, RD_KAFKA_RESP_ERR_INVALID_RECORD, RD_KAFKA_RESP_ERR__INVALID_ARG,
        RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE, RD_KAFKA_RESP_ERR_POLICY_VIOLATION,
    ].reduce(into: Set<Int32>()) { $0.insert($1.rawValue) }

    /// A configuration property librdkafka refused: names the property and the value.
    static func invalidProperty(_ key: String, value: String, reason: String) -> KafkaError {
        KafkaError(
            code: RD_KAFKA_RESP_ERR__INVALID_ARG.rawValue, name: "_INVALID_ARG",
            message: "invalid librdkafka property \(key)=\(value): \(reason)")
    }

    static func timedOut(_ what: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, message: what)
    }

    static func state(_ what: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR__STATE, message: what)
    }

    public var description: String { "\(message) [\(name)]" }

    /// Codes where another attempt can succeed without changing anything.
    private static let retriableCodes: Set<Int32> = [
        RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__TIMED_OUT,
        RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__RESOLVE,
        RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
        RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
    ].reduce(into: Set<Int32>()) { $0.insert($1.rawValue) }
}
