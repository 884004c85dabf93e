import CRdKafka

/// Where a key lands, as the contract's partitioner puts it.
public enum KafkaPartitioner {
    /// The partition of `key` among `partitions` with `murmur2_random`, the partitioner of
    /// PushFleet's producers and of Java clients (docs/contract.md §1): librdkafka's own function,
    /// so a tool that reads one partition reads the one a router's record went to.
    public static func murmur2(key: [UInt8], partitions: Int32) -> Int32 {
        precondition(partitions > 0 && !key.isEmpty, "a non-empty key and at least one partition")
        // librdkafka's murmur2 partitioner reads neither the topic nor the opaques for a key.
        return key.withUnsafeBytes { bytes in
            rd_kafka_msg_partitioner_murmur2_random(nil, bytes.baseAddress, bytes.count, partitions, nil, nil)
        }
    }
}
