import CRdKafka

/// Blocking metadata queries, always run off the cooperative pool.
enum KafkaMetadata {
    /// Partition counts of every topic the cluster knows (`all_topics`, so asking never
    /// auto-creates a topic).
    static func topics(handle: KafkaHandle, timeout: Duration, context: ClientContext?) async throws(KafkaError) -> [String: Int] {
        let ms = milliseconds(timeout)
        let result: Result<[String: Int], KafkaError> = await offload("kafka-metadata") {
            var md: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(handle.pointer, 1, nil, &md, ms)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else {
                return .failure(KafkaError(err, context: "cluster metadata"))
            }
            defer { rd_kafka_metadata_destroy(md) }
            var out: [String: Int] = [:]
            for i in 0..<Int(md.pointee.topic_cnt) {
                let t = md.pointee.topics[i]
                guard t.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
                out[String(cString: t.topic)] = Int(t.partition_cnt)
            }
            return .success(out)
        }
        do {
            return try result.get()
        } catch {
            let bootstrap = rd_kafka_name(handle.pointer).map { String(cString: $0) } ?? ""
            var e = context?.enrich(error) ?? error
            e.message = "could not read cluster metadata within \(timeout) (\(bootstrap)): \(e.message)"
            throw e
        }
    }

    static func partitionCount(handle: KafkaHandle, topic: String, timeout: Duration, context: ClientContext?) async throws(KafkaError) -> Int {
        let all = try await topics(handle: handle, timeout: timeout, context: context)
        guard let count = all[topic] else {
            throw KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, message: "topic \(topic) does not exist")
        }
        return count
    }

    static func watermarks(handle: KafkaHandle, partition: KafkaTopicPartition, timeout: Duration, context: ClientContext?) async throws(KafkaError) -> (low: Int64, high: Int64) {
        let ms = milliseconds(timeout)
        let result: Result<(low: Int64, high: Int64), KafkaError> = await offload("kafka-watermarks") {
            var low: Int64 = 0, high: Int64 = 0
            let err = rd_kafka_query_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high, ms)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                return .failure(KafkaError(err, context: "watermarks of \(partition)"))
            }
            return .success((low, high))
        }
        do {
            return try result.get()
        } catch {
            throw context?.enrich(error) ?? error
        }
    }
}
