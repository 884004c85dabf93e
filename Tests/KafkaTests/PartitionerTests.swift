import Foundation
import Kafka
import Testing

@Suite("KafkaPartitioner: where the contract's producers put a key")
struct PartitionerTests {
    @Test("murmur2 gives the partition the producer delivered each keyed record to, and Java's value for a known key")
    func matchesTheProducer() async throws {
        let broker = try EmbeddedKafkaBroker(brokers: 1)
        let topic = uniqueTopic("part")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 7))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        let keys = (0..<64).map { "call-\($0)@pc33.example.com" }
        let reports = await producer.sendBatch(keys.map { KafkaProducerRecord(topic: topic, key: Array($0.utf8), value: Array("v".utf8)) })
        var used = Set<Int32>()
        for (key, report) in zip(keys, reports) {
            let delivered = try report.get().partition
            used.insert(delivered)
            #expect(KafkaPartitioner.murmur2(key: Array(key.utf8), partitions: 7) == delivered, "\(key)")
        }
        #expect(used.count > 3, "64 keys spread over the partitions: \(used)")
        // Kafka's Java client (Utils.murmur2) puts "21" on partition 0 of 3 (toPositive(-973932308) % 3).
        #expect(KafkaPartitioner.murmur2(key: Array("21".utf8), partitions: 3) == Int32((-973932308 & 0x7fffffff) % 3))
    }
}
