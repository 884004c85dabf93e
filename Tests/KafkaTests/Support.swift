import Foundation
@_exported import PushFleetTesting
import Kafka
import Synchronization
import Testing

/// Unique topic names, so tests sharing a broker never see each other's records.
func uniqueTopic(_ prefix: String = "t") -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// Client settings that keep tests quick on the embedded broker: short fetch waits (an empty
/// fetch waits the full `fetch.wait.max.ms` there) and short group timeouts.
func testConfiguration(_ broker: EmbeddedKafkaBroker, _ extra: [(String, String)] = []) -> KafkaConfiguration {
    var c = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "pushfleet-test")
    for (k, v) in [
        ("topic.metadata.refresh.interval.ms", "1000"),
        ("reconnect.backoff.ms", "50"),
        ("reconnect.backoff.max.ms", "500"),
    ] + extra {
        c.set(k, v)
    }
    return c
}

/// `testConfiguration` plus consumer settings.
func consumerConfiguration(_ broker: EmbeddedKafkaBroker, _ extra: [(String, String)] = []) -> KafkaConfiguration {
    var c = testConfiguration(broker)
    for (k, v) in [
        ("fetch.wait.max.ms", "10"),
        ("session.timeout.ms", "6000"),
        ("heartbeat.interval.ms", "200"),
        ("max.poll.interval.ms", "20000"),
    ] + extra {
        c.set(k, v)
    }
    return c
}

/// Records everything a consumer hands out, from a task of its own.
final class ConsumerRecorder: Sendable {
    private let box = EventBox()
    let task: Task<Void, Never>

    final class EventBox: Sendable {
        let events = Mutex<[KafkaConsumerEvent]>([])
    }

    /// Runs `body` on the recorded events under the lock.
    func withEvents<R>(_ body: ([KafkaConsumerEvent]) -> R) -> R { box.events.withLock { body($0) } }

    init(_ consumer: KafkaConsumer, onMessages: (@Sendable ([KafkaMessage]) -> Void)? = nil) {
        let box = self.box
        task = Task {
            for await event in consumer {
                box.events.withLock { $0.append(event) }
                if case .messages(let batch) = event { onMessages?(batch) }
            }
        }
    }

    var messages: [KafkaMessage] {
        withEvents { evs in
            evs.flatMap { event -> [KafkaMessage] in
                if case .messages(let m) = event { return m }
                return []
            }
        }
    }

    var assigned: [KafkaTopicPartition] {
        withEvents { evs in
            var set = Set<KafkaTopicPartition>()
            for e in evs {
                switch e {
                case .assigned(let tps): set.formUnion(tps)
                case .revoked(let tps): set.subtract(tps)
                default: break
                }
            }
            return set.sorted()
        }
    }

    var errors: [KafkaError] {
        withEvents { $0.compactMap { if case .error(let e) = $0 { e } else { nil } } }
    }
}

func record(_ topic: String, partition: Int32? = nil, key: String?, value: String?, headers: [KafkaHeader] = []) -> KafkaProducerRecord {
    KafkaProducerRecord(topic: topic, partition: partition, key: key.map { Array($0.utf8) }, value: value.map { Array($0.utf8) }, headers: headers)
}

extension KafkaMessage {
    var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    var valueString: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

/// Shared embedded broker for the Kafka suites (one per process; topics are unique per test).
let sharedBroker: EmbeddedKafkaBroker = {
    do { return try EmbeddedKafkaBroker(brokers: 1) } catch { fatalError("embedded broker: \(error)") }
}()

extension KafkaProducer {
    /// Sends a batch and fails the test on any delivery error.
    @discardableResult
    func sendAll(_ records: [KafkaProducerRecord]) async throws -> [KafkaDeliveryReport] {
        try await sendBatch(records).map { try $0.get() }
    }
}
