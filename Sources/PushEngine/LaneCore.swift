import Kafka
import PushContract
import PushSenders

/// The pure logic a `PartitionLane` drives: inputs, timers and send results in, actions out.
protocol LaneCore: Sendable {
    var pendingCount: Int { get }
    /// Pushes wait for room at their destination: the lane's partition should stop reading.
    var isCongested: Bool { get }
    /// Gauges of `pendingCount` and of sends in flight, by partition: events and registrations
    /// partitions have the same numbers, so each kind of lane needs its own names.
    static var pendingMetric: String { get }
    static var inFlightMetric: String { get }
    var nextDeadline: EventTime? { get }
    /// Applies one record read from the lane's partition (decoding included: bad input becomes a
    /// dead letter action, never an error).
    mutating func handle(_ message: KafkaMessage, now: EventTime) -> [CoreAction]
    mutating func fireDue(now: EventTime) -> [CoreAction]
    mutating func completed(_ order: SendOrder, outcome: SendOutcome, now: EventTime) -> [CoreAction]
    /// The state record the core holds now for `key` (nil = none), to re-send after a failed write.
    func currentState(key: String) -> ScheduleRecord?
}

extension LaneCore {
    /// A dead letter for an input: where it came from, why, and its bytes.
    func deadLetter(_ message: KafkaMessage, error: String, now: EventTime) -> CoreAction {
        .deadLetter(DeadLetter.capturing(
            header: RecordHeader(id: RecordHeader.derivedId("dl", "\(message.topic.prefix(80)).\(message.partition).\(message.offset)"), time: now),
            source: RecordSource(topic: message.topic, partition: message.partition, offset: message.offset),
            error: error, key: message.key, value: message.value))
    }
}

extension PartitionCore: LaneCore {
    static var pendingMetric: String { EngineMetrics.pending }
    static var inFlightMetric: String { EngineMetrics.inFlight }

    mutating func handle(_ message: KafkaMessage, now: EventTime) -> [CoreAction] {
        guard let value = message.value else {
            return [deadLetter(message, error: "$: record value is null (tombstones are not events)", now: now)]
        }
        do {
            let event = try RouterEventDecoder.decode(value)
            EngineMetrics.counter(EngineMetrics.events, [("type", event.type)]).increment()
            return handle(event, bytes: value, now: now)
        } catch {
            return [deadLetter(message, error: error.description, now: now)]
        }
    }

    func currentState(key: String) -> ScheduleRecord? { schedule(key) }
}
