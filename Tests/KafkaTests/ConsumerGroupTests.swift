import Kafka
import Synchronization
import Testing

/// Records rebalance hook calls; `prepare` can be held closed by a gate.
final class HookLog: KafkaRebalanceHandler {
    let entries = Mutex<[String]>([])
    let gate = Mutex<CheckedContinuation<Void, Never>?>(nil)
    let gated: Bool
    /// Partitions `prepare` asks to be assigned paused.
    let pausing: Set<Int32>

    init(gated: Bool = false, pausing: Set<Int32> = []) {
        self.gated = gated
        self.pausing = pausing
    }

    func prepare(assigned: [KafkaTopicPartition]) async -> Set<KafkaTopicPartition> {
        entries.withLock { $0.append("prepare-start \(assigned.map(\.partition))") }
        if gated {
            await withCheckedContinuation { c in gate.withLock { $0 = c } }
        }
        entries.withLock { $0.append("prepare-end \(assigned.map(\.partition))") }
        return Set(assigned.filter { pausing.contains($0.partition) })
    }

    func finish(revoked: [KafkaTopicPartition]) async {
        entries.withLock { $0.append("finish \(revoked.map(\.partition))") }
    }

    func note(_ s: String) { entries.withLock { $0.append(s) } }

    var isWaitingAtGate: Bool { gate.withLock { $0 != nil } }

    func open() {
        gate.withLock {
            $0?.resume()
            $0 = nil
        }
    }
}

@Suite("Consumer group rebalances", .serialized, .timeLimit(.minutes(2)))
struct ConsumerGroupTests {
    let broker = sharedBroker

    @Test("no message of a partition is handed out before its prepare step finished")
    func prepareGatesMessages() async throws {
        let topic = uniqueTopic("gate")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 2))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        try await producer.sendAll((0..<10).map { record(topic, partition: Int32($0 % 2), key: "k\($0)", value: "v") })

        let hooks = HookLog(gated: true)
        let consumer = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: uniqueTopic("g"), topics: [topic]), rebalanceHandler: hooks)
        let recorder = ConsumerRecorder(consumer) { _ in hooks.note("messages") }
        try await waitUntil("prepare to be entered") { hooks.isWaitingAtGate }
        // While prepare is held, more records arrive at the broker; none may be handed out.
        let more = await producer.sendBatch((10..<20).map { record(topic, partition: Int32($0 % 2), key: "k\($0)", value: "v") })
        #expect(more.allSatisfy { (try? $0.get()) != nil })
        #expect(recorder.messages.isEmpty)
        hooks.open()
        try await waitUntil("20 messages") { recorder.messages.count == 20 }
        let log = hooks.entries.withLock { $0 }
        #expect(log.first == "prepare-start [0, 1]")
        #expect(log.firstIndex(of: "prepare-end [0, 1]")! < log.firstIndex(of: "messages")!)
        // The stream says `.assigned` before the first batch.
        let firstKinds = recorder.withEvents { $0.prefix(2).map { if case .assigned = $0 { "assigned" } else { "other" } } }
        #expect(firstKinds.first == "assigned")
        await consumer.close()
        #expect(hooks.entries.withLock { $0.last } == "finish [0, 1]")
    }

    @Test("a partition prepare returns is assigned paused: none of its records is fetched until resumed")
    func preparePauses() async throws {
        let topic = uniqueTopic("paused")
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 2))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))
        try await producer.sendAll((0..<10).map { record(topic, partition: Int32($0 % 2), key: "k\($0)", value: "v\($0)") })
        let hooks = HookLog(pausing: [0])
        let consumer = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: uniqueTopic("g"), topics: [topic]), rebalanceHandler: hooks)
        let recorder = ConsumerRecorder(consumer)
        try await waitUntil("partition 1's 5 records") { recorder.messages.count == 5 }
        // Partition 1 was fetched to its end; partition 0 has records waiting and stays paused.
        try await producer.sendAll([record(topic, partition: 1, key: "k", value: "marker")])
        try await waitUntil("the marker on partition 1") { recorder.messages.contains { $0.valueString == "marker" } }
        #expect(recorder.messages.allSatisfy { $0.partition == 1 })
        try consumer.resume([KafkaTopicPartition(topic: topic, partition: 0)])
        try await waitUntil("partition 0's records after resume") { recorder.messages.filter { $0.partition == 0 }.count == 5 }
        await consumer.close()
    }

    @Test("a partition paused and revoked is fetched again when it is assigned back (librdkafka keeps the pause flag)")
    func pauseDoesNotOutliveAssignment() async throws {
        let topic = uniqueTopic("repause")
        let group = uniqueTopic("g")
        let all = (0..<4).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 4))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))

        let a = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: group, topics: [topic]), rebalanceHandler: HookLog())
        let recA = ConsumerRecorder(a) { batch in for m in batch { try? a.store(m) } }
        try await waitUntil("A owns all partitions") { recA.assigned == all }
        // A pauses everything it owns (as back-pressure does), then B takes some of it.
        try a.pause(all)
        let b = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: group, topics: [topic]), rebalanceHandler: HookLog())
        let recB = ConsumerRecorder(b) { batch in for m in batch { try? b.store(m) } }
        try await waitUntil("A and B split the partitions") { !recB.assigned.isEmpty && Set(recA.assigned).isDisjoint(with: recB.assigned) }
        let moved = Set(recB.assigned)
        await b.close()
        await recB.task.value
        try await waitUntil("A owns all partitions again") { recA.assigned == all }

        try await producer.sendAll((0..<8).map { record(topic, partition: Int32($0 % 4), key: "k\($0)", value: "v\($0)") })
        // The partitions that came back start unpaused; those A kept stay paused (A paused them).
        try await waitUntil("the returned partitions' records") {
            Set(recA.messages.map { KafkaTopicPartition(topic: topic, partition: $0.partition) }) == moved
        }
        #expect(recA.messages.count == moved.count * 2)
        await a.close()
    }

    @Test("two consumers split the partitions; when one leaves, the other takes them over")
    func splitAndTakeOver() async throws {
        let topic = uniqueTopic("split")
        let group = uniqueTopic("g")
        let all = (0..<4).map { KafkaTopicPartition(topic: topic, partition: Int32($0)) }
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 4))
        let producer = try KafkaProducer(configuration: testConfiguration(broker))

        let hooksA = HookLog(), hooksB = HookLog()
        let a = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: group, topics: [topic]), rebalanceHandler: hooksA)
        let recA = ConsumerRecorder(a) { batch in for m in batch { try? a.store(m) } }
        try await waitUntil("A owns all partitions") { recA.assigned == all }

        let b = try KafkaConsumer(configuration: consumerConfiguration(broker), options: .init(groupId: group, topics: [topic]), rebalanceHandler: hooksB)
        let recB = ConsumerRecorder(b) { batch in for m in batch { try? b.store(m) } }
        try await waitUntil("A and B split the partitions") {
            let pa = Set(recA.assigned), pb = Set(recB.assigned)
            return !pa.isEmpty && !pb.isEmpty && pa.isDisjoint(with: pb) && pa.union(pb) == Set(all)
        }
        #expect(Set(a.assignment) == Set(recA.assigned))

        try await producer.sendAll((0..<40).map { record(topic, partition: Int32($0 % 4), key: "k\($0)", value: "v\($0)") })
        try await waitUntil("40 messages between A and B") { recA.messages.count + recB.messages.count == 40 }
        #expect(Set(recA.messages.map(\.partition)) == Set(recA.assigned.map(\.partition)))
        #expect(Set(recB.messages.map(\.partition)) == Set(recB.assigned.map(\.partition)))

        await b.close()
        await recB.task.value
        try await waitUntil("A owns all partitions again") { recA.assigned == all }
        // B's partitions were finished before B left, and A resumes after B's stored offsets.
        #expect(hooksB.entries.withLock { $0.last?.hasPrefix("finish") } == true)
        try await producer.sendAll((40..<48).map { record(topic, partition: Int32($0 % 4), key: "k\($0)", value: "v\($0)") })
        try await waitUntil("all 48 messages") { Set(recA.messages.map(\.valueString) + recB.messages.map(\.valueString)).count == 48 }
        #expect(recA.messages.count + recB.messages.count == 48, "nothing read twice after a clean hand-over")

        // Hooks come in a sane order for each member: prepare before finish, never overlapping.
        for hooks in [hooksA, hooksB] {
            var owned = Set<Int32>()
            for entry in hooks.entries.withLock({ $0 }) {
                let parts = Set(entry.drop { $0 != "[" }.dropFirst().dropLast().split(separator: ",").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) })
                if entry.hasPrefix("prepare-end") {
                    #expect(owned.isDisjoint(with: parts), "assigned twice: \(entry)")
                    owned.formUnion(parts)
                } else if entry.hasPrefix("finish") {
                    #expect(parts.isSubset(of: owned), "revoked what it did not own: \(entry)")
                    owned.subtract(parts)
                }
            }
        }
        await a.close()
    }
}
