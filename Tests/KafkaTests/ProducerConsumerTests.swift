import Kafka
import Synchronization
import Testing

@Suite("Producer and group consumer", .serialized, .timeLimit(.minutes(2)))
struct ProducerConsumerTests {
    let broker = sharedBroker

    @Test("produce → consume keeps keys, values, headers, tombstones and explicit partitions")
    func roundTrip() async throws {
        let topic = uniqueTopic("roundtrip")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 3))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        let headers = [KafkaHeader(name: "trace", value: Array("abc".utf8)), KafkaHeader(name: "empty", value: nil)]
        let records = [
            record(topic, partition: 0, key: "k0", value: "v0", headers: headers),
            record(topic, partition: 1, key: "k1", value: "v1"),
            record(topic, partition: 2, key: "k2", value: nil),  // tombstone
            record(topic, partition: 2, key: nil, value: "no key"),
        ]
        let reports = await producer.sendBatch(records)
        let delivered = try reports.map { try $0.get() }
        #expect(delivered.map(\.partition) == [0, 1, 2, 2])
        #expect(delivered[3].offset == delivered[2].offset + 1)

        let consumer = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: uniqueTopic("g"), topics: [topic]))
        let recorder = ConsumerRecorder(consumer)
        try await waitUntil("4 messages") { recorder.messages.count == 4 }
        let byKey = Dictionary(grouping: recorder.messages, by: { $0.keyString ?? "-" })
        #expect(byKey["k0"]?.first?.valueString == "v0")
        #expect(byKey["k0"]?.first?.headers == headers)
        #expect(byKey["k0"]?.first?.partition == 0)
        #expect(byKey["k1"]?.first?.partition == 1)
        #expect(byKey["k2"]?.first?.value == nil)
        #expect(byKey["-"]?.first?.valueString == "no key")
        #expect(byKey["k2"]?.first?.offset == delivered[2].offset)
        await consumer.close()
        await recorder.task.value
    }

    @Test("the same key always lands on the same partition (murmur2, as Java clients)")
    func keyedPartitioning() async throws {
        let topic = uniqueTopic("keyed")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 8))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        let first = try await producer.send(record(topic, key: "call-42@example.org", value: "a"))
        for _ in 0..<5 {
            let again = try await producer.send(record(topic, key: "call-42@example.org", value: "b"))
            #expect(again.partition == first.partition)
        }
        // Java's murmur2 partitioner: toPositive(murmur2("call-42@example.org")) % 8.
        #expect(first.partition == javaMurmur2Partition(Array("call-42@example.org".utf8), partitions: 8))
    }

    @Test("delivery errors surface with librdkafka's code name and message")
    func deliveryErrors() async throws {
        // Injected request errors are cluster-wide: use a broker of this test's own.
        let broker = try EmbeddedKafkaBroker(brokers: 1)
        defer { broker.shutdown() }
        let topic = uniqueTopic("errors")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 2))
        let producer = try KafkaProducer(configuration: testConfiguration(broker, [("message.timeout.ms", "3000")]))
        // A partition that does not exist fails before anything is sent.
        await #expect(throws: KafkaError.self) { try await producer.send(record(topic, partition: 7, key: "k", value: "v")) }
        do {
            try await producer.send(record(topic, partition: 7, key: "k", value: "v"))
        } catch {
            #expect(error.name == "_UNKNOWN_PARTITION")
            #expect(error.message.contains(topic))
        }
        // A broker-side error on the Produce request (not retriable) reaches the caller.
        try broker.injectRequestErrors(.produce, Array(repeating: KafkaErrorCode.topicAuthorizationFailed, count: 3))
        do {
            try await producer.send(record(topic, partition: 0, key: "k", value: "v"))
            Issue.record("send should have failed")
        } catch {
            #expect(error.name == "TOPIC_AUTHORIZATION_FAILED")
            #expect(error.message.contains("\(topic)[0]"))
        }
        // Oversized record: refused locally with a clear reason.
        let big = [UInt8](repeating: 0x61, count: 2_000_000)
        let result = await producer.sendBatch([KafkaProducerRecord(topic: topic, key: nil, value: big)])
        #expect(throws: KafkaError.self) { try result[0].get() }
    }

    @Test("a restarted consumer resumes after the last stored offset")
    func resumeAfterStoredOffset() async throws {
        let topic = uniqueTopic("resume")
        let group = uniqueTopic("g")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 1))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        try await producer.sendAll((0..<10).map { record(topic, key: "k\($0)", value: "v\($0)") })

        let first = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: group, topics: [topic]))
        let recorder = ConsumerRecorder(first)
        try await waitUntil("10 messages") { recorder.messages.count == 10 }
        // Processed the first five only: store the offset after message 4.
        let fifth = recorder.messages[4]
        try first.store(fifth)
        await first.close()
        await recorder.task.value

        let second = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: group, topics: [topic]))
        let committed = try await second.committed([KafkaTopicPartition(topic: topic, partition: 0)])
        #expect(committed[KafkaTopicPartition(topic: topic, partition: 0)] == .some(5))
        let recorder2 = ConsumerRecorder(second)
        try await waitUntil("5 remaining messages") { recorder2.messages.count == 5 }
        #expect(recorder2.messages.map(\.offset) == [5, 6, 7, 8, 9])
        #expect(recorder2.messages.first?.valueString == "v5")
        await second.close()
    }

    @Test("seek and watermarks")
    func seekAndWatermarks() async throws {
        let topic = uniqueTopic("seek")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 1))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        try await producer.sendAll((0..<6).map { record(topic, key: nil, value: "v\($0)") })
        let consumer = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: uniqueTopic("g"), topics: [topic]))
        let tp = KafkaTopicPartition(topic: topic, partition: 0)
        let marks = try await consumer.watermarks(tp)
        #expect(marks.low == 0 && marks.high == 6)
        let recorder = ConsumerRecorder(consumer)
        try await waitUntil("6 messages") { recorder.messages.count == 6 }
        try await consumer.seek(tp, to: 3)
        try await waitUntil("3 re-read messages") { recorder.messages.count == 9 }
        #expect(recorder.messages.suffix(3).map(\.offset) == [3, 4, 5])
        await consumer.close()
    }
}

/// Kafka's Java `murmur2` (the default partitioner's hash), written from its published
/// definition so the test checks librdkafka's `murmur2_random` against Java's placement.
func javaMurmur2Partition(_ data: [UInt8], partitions: Int32) -> Int32 {
    let seed: UInt32 = 0x9747_b28c
    let m: UInt32 = 0x5bd1_e995
    let r: UInt32 = 24
    var h = seed ^ UInt32(data.count)
    let length4 = data.count / 4
    for i in 0..<length4 {
        let i4 = i * 4
        var k = UInt32(data[i4]) | UInt32(data[i4 + 1]) << 8 | UInt32(data[i4 + 2]) << 16 | UInt32(data[i4 + 3]) << 24
        k = k &* m
        k ^= k >> r
        k = k &* m
        h = h &* m
        h ^= k
    }
    let rest = data.count % 4
    let base = data.count & ~3
    if rest == 3 { h ^= UInt32(data[base + 2]) << 16 }
    if rest >= 2 { h ^= UInt32(data[base + 1]) << 8 }
    if rest >= 1 {
        h ^= UInt32(data[base])
        h = h &* m
    }
    h ^= h >> 13
    h = h &* m
    h ^= h >> 15
    return Int32(bitPattern: h & 0x7fff_ffff) % partitions
}
