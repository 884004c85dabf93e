import Logging
import Metrics
import Synchronization

/// What a connection's event-loop handler reports to the threads that use the connection: the
/// pool asks whether it ever answered (a connection that dies unanswered is a failed connect,
/// for the reconnect backoff), tests count PING acknowledgements, and a connection closed for
/// a missed PING acknowledgement shows in a metric and one log line.
final class HTTP2ConnectionSignals: Sendable {
    private let answeredFlag = Atomic<Bool>(false)
    private let pingAcks = Atomic<Int>(0)
    private let endpoint: String
    private let logger: Logger

    init(endpoint: String, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
    }

    /// At least one stream got a complete answer on this connection.
    var hasAnswered: Bool { answeredFlag.load(ordering: .relaxed) }
    var pingsAcknowledged: Int { pingAcks.load(ordering: .relaxed) }

    func answered() { answeredFlag.store(true, ordering: .relaxed) }
    func pingAcknowledged() { pingAcks.add(1, ordering: .relaxed) }

    func presumedDead(_ error: TransportError) {
        SenderMetrics.connectionFailure(endpoint: endpoint, reason: .pingTimeout)
        logger.warning("HTTP/2 connection closed: \(error.message)", metadata: ["endpoint": "\(endpoint)"])
    }
}
