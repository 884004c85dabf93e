import Kafka
import Synchronization
import Testing

@Suite("Partition reader", .serialized, .timeLimit(.minutes(1)))
struct PartitionReaderTests {
    let broker = sharedBroker

    @Test("returns exactly the records present at start, tombstones included")
    func exactSnapshot() async throws {
        let topic = uniqueTopic("state")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 2, configs: ["cleanup.policy": "compact"]))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        var records = (0..<100).map { record(topic, partition: 1, key: "key\($0 % 30)", value: "value\($0)") }
        records[10].value = nil
        records[99].value = nil
        try await producer.sendAll(records)
        try await producer.sendAll([record(topic, partition: 0, key: "other", value: "partition 0")])

        var reader = KafkaPartitionReader(configuration: consumerConfiguration(broker))
        reader.batchSize = 10
        let progressSeen = Mutex<[KafkaReadProgress]>([])
        let produced = Mutex(false)
        let got = Mutex<[KafkaMessage]>([])
        let final = try await reader.read(KafkaTopicPartition(topic: topic, partition: 1), progress: { p in
            progressSeen.withLock { $0.append(p) }
        }) { batch in
            got.withLock { $0.append(contentsOf: batch) }
            // Records written after the read started must not be returned.
            if produced.withLock({ let first = !$0; $0 = true; return first }) {
                producer.enqueue((0..<20).map { record(topic, partition: 1, key: "late\($0)", value: "late") }) { _ in }
            }
        }
        let messages = got.withLock { $0 }
        #expect(messages.count == 100)
        #expect(messages.map(\.offset) == Array(0..<100))
        #expect(messages[10].value == nil && messages[10].keyString == "key10")
        #expect(messages[99].value == nil)
        #expect(messages[50].valueString == "value50")
        #expect(!messages.contains { $0.keyString?.hasPrefix("late") == true })
        #expect(final.records == 100 && final.endOffset == 100 && final.offset == 99)
        #expect(progressSeen.withLock { $0.last } == final)
        try await producer.flush()
        // A second read sees the late records too.
        let again = try await KafkaPartitionReader(configuration: consumerConfiguration(broker)).readAll(KafkaTopicPartition(topic: topic, partition: 1))
        #expect(again.count == 120)
    }

    @Test("an offset range with a commit group: exactly [from, to), committed per batch; a throwing handler commits nothing of its batch")
    func rangeWithCommits() async throws {
        let topic = uniqueTopic("range")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 1))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        var records = (0..<50).map { record(topic, partition: 0, key: "k\($0)", value: "v\($0)") }
        records[0].timestamp = 1_700_000_000_000
        try await producer.sendAll(records)
        let tp = KafkaTopicPartition(topic: topic, partition: 0)
        let admin = KafkaAdmin(embedded: broker)

        var reader = KafkaPartitionReader(configuration: consumerConfiguration(broker))
        reader.batchSize = 7
        let got = Mutex<[Int64]>([])
        let final = try await reader.read(tp, from: 10, to: 30, commitGroup: "range-group") { batch in
            got.withLock { $0 += batch.map(\.offset) }
        }
        #expect(got.withLock { $0 } == Array(10..<30))
        #expect(final.startOffset == 10 && final.endOffset == 30 && final.records == 20)
        #expect(try await admin.committedOffsets(group: "range-group", topic: topic, partitions: 1)[0] == 30)

        // A handler that fails on its second batch: the first batch is committed, not the second.
        struct Stop: Error {}
        let firstBatchEnd = Mutex<Int64?>(nil)
        await #expect(throws: KafkaError.self) {
            try await reader.read(tp, from: 30, commitGroup: "range-group") { batch in
                let isFirst = firstBatchEnd.withLock { end in
                    guard end == nil else { return false }
                    end = batch.last!.offset + 1
                    return true
                }
                if !isFirst { throw Stop() }
            }
        }
        let firstEnd = try #require(firstBatchEnd.withLock { $0 })
        #expect(firstEnd > 30 && firstEnd < 50)
        #expect(try await admin.committedOffsets(group: "range-group", topic: topic, partitions: 1)[0] == firstEnd)

        // Record timestamps set by the producer come back; the mock broker cannot look them up.
        let first = try await reader.readAll(tp).first
        #expect(first?.timestamp == 1_700_000_000_000)
        #expect(try await admin.watermarks(topic: topic, partitions: [0])[0].map { [$0.low, $0.high] } == [0, 50])
        #expect(try await admin.offsets(forTimestamp: 0, topic: topic, partitions: [0])[0] == .some(nil),
                "librdkafka 2.0.2's mock cluster has no ListOffsets by time; if this starts failing, replay's scan fallback can go")
    }

    @Test("an empty partition reads as empty at once")
    func emptyPartition() async throws {
        let topic = uniqueTopic("empty")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 1))
        let messages = try await KafkaPartitionReader(configuration: consumerConfiguration(broker)).readAll(KafkaTopicPartition(topic: topic, partition: 0))
        #expect(messages.isEmpty)
    }
}
