import Foundation
import Kafka
import PushContract
import PushFleetTesting
import PushPolicy
import PushSandbox
import Testing
@testable import PushEngine

/// Every push attempt gets an outcome, even one that ends after its lane closed.
@Suite("Worker: outcomes of attempts that outlive their lane", .timeLimit(.minutes(2)))
struct LateOutcomeTests {
    static func publish(_ producer: KafkaProducer, _ event: RouterEvent, callId: String, partition: Int32) async throws {
        _ = try await producer.send(KafkaProducerRecord(topic: "pushfleet.events", partition: partition, key: Array(callId.utf8),
                                                        value: RecordEncoder.encode(event)))
    }

    @Test("a message whose push was in flight when its partition was revoked, and answered by its 180 meanwhile, still gets its outcome")
    func outcomeAfterRevoke() async throws {
        let fleet = try await InProcessFleet(partitions: 2)
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: fleet.broker.bootstrapServers))
        let log = LogCapture()
        let first = try PushWorker(config: fleet.config, senders: fleet.senders, drainTimeout: .milliseconds(500), logger: log.logger)
        let firstRun = Task { try await first.run() }
        try await waitUntil("both partitions assigned to the first worker") {
            log.all.contains { $0.message == "partitions assigned" && $0.metadata["partitions"] == "[0, 1]" }
        }

        // FCM holds both pushes unanswered: each attempt times out (10 s) and its retry is answered.
        fleet.fcm.setFault(.hang)
        let now = SystemClock().now()
        let calls = ["late-0", "late-1"]
        for (i, call) in calls.enumerated() {
            let event = RouterEvent.branchUnanswered(BranchUnanswered(
                header: RecordHeader(id: "\(call)-u", time: now), callId: call, branch: "b1", method: "MESSAGE",
                requestUri: "sip:alice@10.0.0.2;pn-provider=fcm;pn-param=123456789;pn-prid=token-\(call)",
                from: SIPAddress(uri: "sip:bob@example.org"), to: SIPAddress(uri: "sip:alice@example.org")))
            try await Self.publish(producer, event, callId: call, partition: Int32(i))
        }
        try await waitUntil("both pushes in flight at FCM") { fleet.fcm.requests.count >= 2 }
        // Both devices answer: their schedules no longer want a push, whoever owns them next.
        for (i, call) in calls.enumerated() {
            let ringing = RouterEvent.branchResponse(BranchResponse(header: RecordHeader(id: "\(call)-180", time: now), callId: call, branch: "b1", status: 180))
            try await Self.publish(producer, ringing, callId: call, partition: Int32(i))
        }
        let reader = KafkaPartitionReader(configuration: KafkaConfiguration(bootstrapServers: fleet.broker.bootstrapServers))
        try await waitUntil("both 180s applied") {
            var awake = 0
            for p: Int32 in [0, 1] {
                for m in try await reader.readAll(KafkaTopicPartition(topic: "pushfleet.state", partition: p)) {
                    if let v = m.value, (try? RecordDecoder.decodeSchedule(v))?.phase == .awake { awake += 1 }
                }
            }
            return awake == 2
        }

        // A second worker takes one partition; the first one's drain of it times out with the
        // push still in flight, and its lane closes.
        let second = try PushWorker(config: fleet.config, senders: fleet.senders)
        let secondRun = Task { try await second.run() }
        try await waitUntil("a drain timed out with the push in flight", timeout: .seconds(40)) {
            log.all.contains { $0.message == "partition drain timed out" && $0.metadata["sendsInFlight"] == "1" }
        }
        fleet.fcm.setFault(nil)

        // The attempt's retry is answered after the lane closed: its outcome is there all the same.
        let outcomes = try await waitForValue("a sent outcome for each call", timeout: .seconds(40)) { () async throws -> [String: PushOutcome]? in
            var found: [String: PushOutcome] = [:]
            for p: Int32 in [0, 1] {
                for m in try await reader.readAll(KafkaTopicPartition(topic: "pushfleet.outcomes", partition: p)) {
                    guard let v = m.value, case .pushOutcome(let o)? = try? RecordDecoder.decode(v), let call = o.callId,
                          o.result == .sent else { continue }
                    found[call] = o
                }
            }
            return found.count == 2 ? found : nil
        }
        #expect(outcomes.values.allSatisfy { $0.attempt == 1 && ($0.requests ?? 0) >= 2 }, "\(outcomes)")

        await second.stop()
        await first.stop()
        _ = await secondRun.result
        _ = await firstRun.result
        await fleet.stop()
    }
}
