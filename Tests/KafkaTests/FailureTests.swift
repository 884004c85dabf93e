import Kafka
import Synchronization
import Testing

@Suite("Bad input and broker failures", .serialized, .timeLimit(.minutes(2)))
struct FailureTests {
    let broker = sharedBroker

    @Test("an unknown or invalid librdkafka property fails naming it")
    func invalidProperties() throws {
        var config = KafkaConfiguration(bootstrapServers: broker.bootstrapServers)
        config.set("no.such.property", "1")
        #expect(throws: KafkaError.self) { try config.validate() }
        do {
            _ = try KafkaProducer(configuration: config)
            Issue.record("should have failed")
        } catch {
            #expect(error.message.contains("no.such.property"))
            #expect(error.message.contains("No such configuration property"))
        }
        var bad = KafkaConfiguration(bootstrapServers: broker.bootstrapServers)
        bad.set("fetch.wait.max.ms", "banana")
        do {
            _ = try KafkaConsumer(configuration: bad, options: .init(groupId: "g", topics: ["t"]))
            Issue.record("should have failed")
        } catch {
            #expect(error.message.contains("fetch.wait.max.ms=banana"))
        }
    }

    @Test("an unreachable bootstrap gives a clear error within the deadline, naming the address")
    func unreachableBootstrap() async throws {
        var config = KafkaConfiguration(bootstrapServers: "127.0.0.1:1")
        config.set("message.timeout.ms", "1500")
        let producer = try KafkaProducer(configuration: config)
        let started = ContinuousClock.now
        do {
            try await producer.send(record("anything", key: "k", value: "v"))
            Issue.record("send should fail")
        } catch {
            #expect(error.name == "_MSG_TIMED_OUT")
            #expect(error.message.contains("127.0.0.1:1"), "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        await #expect(throws: KafkaError.self) { _ = try await producer.partitionCount(topic: "x", timeout: .milliseconds(500)) }
        await #expect(throws: KafkaError.self) {
            var reader = KafkaPartitionReader(configuration: config)
            reader.idleTimeout = .milliseconds(800)
            _ = try await reader.readAll(KafkaTopicPartition(topic: "x", partition: 0))
        }
    }

    @Test("a full local queue does not block the caller: records wait in order on the producer's own thread and are all delivered")
    func fullQueueDoesNotBlock() async throws {
        let broker = try EmbeddedKafkaBroker(brokers: 1)
        defer { broker.shutdown() }
        let topic = uniqueTopic("full")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 1))
        let producer = try KafkaProducer(configuration: testConfiguration(broker, [("queue.buffering.max.messages", "5")]))
        try await producer.send(record(topic, partition: 0, key: "warm", value: "up"))
        try broker.setBrokerDown()
        let results = Mutex<[Result<KafkaDeliveryReport, KafkaError>]?>(nil)
        let started = ContinuousClock.now
        producer.enqueue((0..<50).map { record(topic, partition: 0, key: "k", value: "v\($0)") }) { r in results.withLock { $0 = r } }
        // Before, the caller slept in 1 ms steps until room came (here: until the broker is back).
        #expect(ContinuousClock.now - started < .seconds(1), "enqueue returned at once")
        #expect(producer.waitingForQueueRoom)
        try broker.setBrokerUp()
        try await waitUntil("every record delivered") { results.withLock { $0 } != nil }
        #expect(results.withLock { $0 }?.allSatisfy { (try? $0.get()) != nil } == true)
        let values = try await KafkaPartitionReader(configuration: testConfiguration(broker))
            .readAll(KafkaTopicPartition(topic: topic, partition: 0)).dropFirst().map { $0.valueString ?? "" }
        #expect(values == (0..<50).map { "v\($0)" }, "in order")
        #expect(!producer.waitingForQueueRoom)
    }

    @Test("a missing topic is reported by name: consumer, reader, metadata")
    func missingTopic() async throws {
        let missing = uniqueTopic("missing")
        // The embedded broker auto-creates any topic a metadata request names; a real cluster
        // with auto-creation off answers UNKNOWN_TOPIC_OR_PART, which is what we make it say.
        try broker.setTopicError(missing, code: KafkaErrorCode.unknownTopicOrPartition)
        let consumer = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: uniqueTopic("g"), topics: [missing]))
        let recorder = ConsumerRecorder(consumer)
        try await waitUntil("an error naming the topic") { recorder.errors.contains { $0.message.contains(missing) } }
        await consumer.close()

        var reader = KafkaPartitionReader(configuration: consumerConfiguration(broker))
        reader.idleTimeout = .seconds(2)
        do {
            _ = try await reader.readAll(KafkaTopicPartition(topic: missing, partition: 0))
            Issue.record("read should fail")
        } catch {
            #expect(error.message.contains(missing), "\(error)")
        }
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        do {
            _ = try await producer.partitionCount(topic: missing)
            Issue.record("should fail")
        } catch {
            #expect(error.name == "UNKNOWN_TOPIC_OR_PART")
            #expect(error.message.contains(missing))
        }
    }

    @Test("broker down, then up: produced records are delivered and the consumer resumes, nothing lost")
    func brokerDownThenUp() async throws {
        let local = try EmbeddedKafkaBroker(brokers: 1)
        let topic = uniqueTopic("outage")
        try local.createTopic(KafkaTopicSpec(name: topic, partitions: 2))
        let producer = try KafkaProducer(configuration: testConfiguration(local))
        let consumer = try KafkaConsumer(configuration: consumerConfiguration(local), options: .init(groupId: uniqueTopic("g"), topics: [topic]))
        let recorder = ConsumerRecorder(consumer)
        try await producer.sendAll((0..<10).map { record(topic, key: "before\($0)", value: "v") })
        try await waitUntil("10 messages before the outage") { recorder.messages.count == 10 }

        try local.setBrokerDown(1)
        let sending = Task { await producer.sendBatch((0..<10).map { record(topic, key: "during\($0)", value: "v") }) }
        try await waitUntil("records queued while the broker is down") { producer.pendingCount == 10 }
        try local.setBrokerUp(1)
        let results = await sending.value
        #expect(results.allSatisfy { (try? $0.get()) != nil })
        try await waitUntil("the consumer resumes after the outage") { recorder.messages.count >= 20 }
        let keys = Set(recorder.messages.compactMap(\.keyString))
        #expect(keys.count == 20)
        await consumer.close()
        local.shutdown()
    }

    @Test("a broker that is gone: sends fail with a clear error, never hang")
    func brokerGone() async throws {
        let local = try EmbeddedKafkaBroker(brokers: 1)
        let topic = uniqueTopic("gone")
        try local.createTopic(KafkaTopicSpec(name: topic, partitions: 1))
        let producer = try KafkaProducer(configuration: testConfiguration(local, [("message.timeout.ms", "1500")]))
        try await producer.send(record(topic, key: "k", value: "v"))
        local.shutdown()
        do {
            try await producer.send(record(topic, key: "k", value: "v"))
            Issue.record("send should fail")
        } catch {
            #expect(error.isRetriable)
            #expect(error.message.contains("delivery to \(topic)"))
        }
        // Something still queued when flush's deadline passes is an error naming the count.
        producer.enqueue([record(topic, key: "k", value: "v")]) { _ in }
        do {
            try await producer.flush(timeout: .milliseconds(200))
            Issue.record("flush should fail")
        } catch {
            #expect(error.message.contains("1 record(s) still undelivered"), "\(error)")
        }
    }

    @Test("topic admin: create, describe and verify through the same calls on the embedded broker")
    func admin() async throws {
        let admin = KafkaAdmin(embedded: broker)
        let name = uniqueTopic("admin")
        let spec = KafkaTopicSpec(name: name, partitions: 3, configs: ["cleanup.policy": "compact"])
        #expect(try await admin.createTopics([spec]) == [name: .created])
        #expect(try await admin.createTopics([spec]) == [name: .alreadyExists])
        #expect(try await admin.verify([spec]).isEmpty)
        var wrong = spec
        wrong.partitions = 4
        wrong.configs = ["cleanup.policy": "delete"]
        let problems = try await admin.verify([wrong, KafkaTopicSpec(name: "\(name)-absent", partitions: 1)])
        #expect(problems == [
            "topic \(name) has 3 partition(s), expected 4",
            "topic \(name) has cleanup.policy=compact, expected cleanup.policy=delete",
            "topic \(name)-absent does not exist",
        ])
        // The real-cluster path asks the broker for CreateTopics, which the mock cannot do:
        // a clear error, not a hang.
        let real = KafkaAdmin(configuration: testConfiguration(broker))
        await #expect(throws: KafkaError.self) { _ = try await real.createTopics([KafkaTopicSpec(name: uniqueTopic("x"), partitions: 1)], timeout: .seconds(5)) }
    }
}
