import CRdKafka

/// Converts librdkafka messages into `KafkaMessage`s on the polling thread.
///
/// Topic names are cached per topic handle so that a batch of thousands of messages shares
/// one `String` storage instead of allocating one per message.
struct MessageConverter {
    private var topicNames: [OpaquePointer: String] = [:]

    /// Copies one message; the caller still owns (and destroys) `raw`.
    mutating func convert(_ raw: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaMessage {
        let m = raw.pointee
        let topic: String
        if let rkt = m.rkt {
            if let cached = topicNames[rkt] {
                topic = cached
            } else {
                topic = String(cString: rd_kafka_topic_name(rkt))
                topicNames[rkt] = topic
            }
        } else {
            topic = ""
        }
        let key = m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) }
        let value = m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) }
        var headers: [KafkaHeader] = []
        var hdrs: OpaquePointer?
        if rd_kafka_message_headers(raw, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR, let hdrs {
            var index = 0
            var name: UnsafePointer<CChar>?
            var valuePtr: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(hdrs, index, &name, &valuePtr, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                headers.append(KafkaHeader(
                    name: name.map { String(cString: $0) } ?? "",
                    value: valuePtr.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
                index += 1
            }
        }
        var tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let ts = rd_kafka_message_timestamp(raw, &tstype)
        return KafkaMessage(
            topic: topic, partition: m.partition, offset: m.offset, key: key, value: value,
            headers: headers, timestamp: tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : ts)
    }
}

/// `rd_kafka_topic_partition_list_t` → Swift, sorted for stable logs and comparisons.
func topicPartitions(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?) -> [KafkaTopicPartition] {
    guard let list else { return [] }
    var result: [KafkaTopicPartition] = []
    result.reserveCapacity(Int(list.pointee.cnt))
    for i in 0..<Int(list.pointee.cnt) {
        let e = list.pointee.elems[i]
        result.append(KafkaTopicPartition(topic: String(cString: e.topic), partition: e.partition))
    }
    return result.sorted()
}

/// Builds a partition list; the caller destroys it with `rd_kafka_topic_partition_list_destroy`.
func makePartitionList(_ entries: [(KafkaTopicPartition, Int64?)]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
    let list = rd_kafka_topic_partition_list_new(Int32(clamping: entries.count))!
    for (tp, offset) in entries {
        let e = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition)!
        if let offset { e.pointee.offset = offset }
    }
    return list
}

/// librdkafka's `rd_kafka_t*` is documented thread-safe for the calls we make from several
/// threads (produce, poll on one thread, offsets store, metadata), so sharing the pointer is sound.
struct KafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
