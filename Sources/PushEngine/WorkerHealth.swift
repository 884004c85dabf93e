public import Kafka

/// When a worker counts as wedged (`/health` fails) and how it retries a failed restore.
///
/// The bounds are wide enough for legitimate slowness (a provider's deadline, librdkafka's own
/// delivery timeout of 30 s) and short enough that an orchestrator restarts a worker that pushes
/// nothing well before `max.poll.interval.ms` (300 s) takes its partitions away on its own.
public struct WorkerHealthBounds: Sendable {
    /// A lane with sends in flight or writes unacknowledged and no progress for longer.
    public var laneStall: Duration = .seconds(120)
    /// The Kafka polling thread not going round its loop for longer.
    public var pollStall: Duration = .seconds(120)
    /// First wait before retrying a failed restore; doubles up to `restoreRetryMax`.
    public var restoreRetryBase: Duration = .seconds(1)
    public var restoreRetryMax: Duration = .seconds(30)

    public init() {}

    func restoreRetry(attempt: Int) -> Duration {
        min(restoreRetryMax, restoreRetryBase * (1 << min(attempt, 16)))
    }
}

/// What `/health` (live) and `/ready` answer, and why not.
public struct WorkerStatus: Sendable, Equatable {
    /// No fatal error, the poll thread and every lane make progress.
    public var live: Bool
    /// Live, consuming, and every assigned partition restored and processed.
    public var ready: Bool
    /// One line per problem, for the endpoints' bodies and the log.
    public var problems: [String]
}

/// The worker stopped because a Kafka client hit a fatal error; the process must exit non-zero
/// (and be restarted), a retry in place cannot help.
public struct WorkerFatalError: Error, Sendable, CustomStringConvertible {
    public var error: KafkaError
    public var description: String { "fatal Kafka error, the worker stopped: \(error)" }
}
