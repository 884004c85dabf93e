import Foundation
import Kafka
import PushContract
import PushFleetTesting
import PushPolicy
import PushSandbox
import Testing
@testable import PushEngine

/// A worker on `fleet` whose one partition is assigned, and a remote-only call ringing every
/// second at the APNs sandbox: what both suites observe.
struct RingingWorker {
    let worker: PushWorker
    let run: Task<Void, any Error>
    let log: LogCapture
    let rings: @Sendable () -> [Date]

    static func start(_ fleet: InProcessFleet, call: String, token: String) async throws -> RingingWorker {
        let log = LogCapture()
        let worker = try PushWorker(config: fleet.config, senders: fleet.senders, logger: log.logger)
        let run = Task { try await worker.run() }
        try await waitUntil("the partition assigned") {
            log.all.contains { $0.message == "partitions assigned" && $0.metadata["partitions"] == "[0]" }
        }
        let event = RouterEvent.branchUnanswered(BranchUnanswered(
            header: RecordHeader(id: "\(call)-u", time: SystemClock().now()), callId: call, branch: "b1", method: "INVITE",
            requestUri: "sip:alice@192.0.2.1;pn-provider=apns.dev;pn-param=ABCD1234.\(SandboxFleetFiles.appleBundle);pn-prid=\(token);pn-call-remote-push-interval=1",
            from: SIPAddress(uri: "sip:bob@example.org"), to: SIPAddress(uri: "sip:alice@example.org")))
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: fleet.broker.bootstrapServers))
        _ = try await producer.send(KafkaProducerRecord(topic: "pushfleet.events", partition: 0, key: Array(call.utf8),
                                                        value: RecordEncoder.encode(event)))
        let rings: @Sendable () -> [Date] = { fleet.apns.requests.filter { $0.path.hasSuffix(token) }.map(\.receivedAt) }
        try await waitUntil("the call rings twice") { rings().count >= 2 }
        return RingingWorker(worker: worker, run: run, log: log, rings: rings)
    }

    func stop() async {
        await worker.stop()
        _ = await run.result
    }
}

/// A lane whose writes the broker leaves unacknowledged holds its work (no push for a partition
/// that may have a new owner by now), and goes on when the broker answers again.
@Suite("Worker: a lane holds while the broker leaves its writes unacknowledged", .timeLimit(.minutes(3)))
struct WriteStallTests {
    @Test("a ringing call stops ringing within the write-stall bound when the broker stops answering, and rings again after")
    func ringingHoldsDuringOutage() async throws {
        // Session timeout 10 s: librdkafka declares the session lost after it (heartbeats
        // unanswered), lanes hold from half of it after their first unanswered write.
        let fleet = try await InProcessFleet(partitions: 1, kafka: ["rdkafka.session.timeout.ms": "10000"])
        let ringing = try await RingingWorker.start(fleet, call: "stall-call", token: String(repeating: "cd", count: 32))
        let (log, rings) = (ringing.log, ringing.rings)

        // The broker keeps its connections but answers nothing for 15 s, as when this worker is
        // cut off from it.
        let down = Date()
        try fleet.broker.setRoundTripTime(.seconds(15))
        // The first ring after the broker went silent (≤ 1 s in) leaves its write unanswered;
        // 5 s later the lane holds. Rings may go on until then, and one more in flight at that
        // instant; none after, although the worker only learns at 10 s that its session is lost
        // (and rang every second until then before the lane held).
        let quietFrom = down.addingTimeInterval(1 + 5 + 1.5), quietUntil = down.addingTimeInterval(9.8)
        try await waitUntil("the observation window passed", timeout: .seconds(15)) { Date() > quietUntil }
        let during = rings().filter { $0 > quietFrom && $0 < quietUntil }
        #expect(during.isEmpty, "rang \(during.count) time(s) between \(quietFrom) and \(quietUntil) with the broker down")
        #expect(log.all.contains { $0.message.hasPrefix("a write has waited past the bound") })

        try fleet.broker.setRoundTripTime(.zero)
        let before = rings().count
        try await waitUntil("the call rings again once the broker answers", timeout: .seconds(60)) { rings().count > before }

        await ringing.stop()
        await fleet.stop()
    }
}

@Suite("Worker: a lane whose writes stalled past the session timeout holds until the group could have told", .timeLimit(.minutes(3)))
struct WriteStallSuspicionTests {
    @Test("after a write stall longer than the session timeout, acknowledgements alone do not resume the lane")
    func holdsAfterLongStall() async throws {
        // socket.timeout.ms 20 s: after a stall longer than the session timeout (6 s), the lane
        // holds until 26 s after the stall began, unless a revoke closes it first. The group
        // session stays healthy here (only the state partition loses its leader), so no revoke
        // comes: the lane resumes when that time is up.
        let fleet = try await InProcessFleet(partitions: 1, kafka: ["rdkafka.socket.timeout.ms": "20000"])
        let ringing = try await RingingWorker.start(fleet, call: "suspect-call", token: String(repeating: "ef", count: 32))
        let (log, rings) = (ringing.log, ringing.rings)

        // The state partition loses its leader: the lane's schedule writes wait, the group does not.
        try fleet.broker.setPartitionLeader("pushfleet.state", partition: 0, brokerId: -1)
        try await waitUntil("the lane holds for its stalled writes", timeout: .seconds(15)) {
            log.all.contains { $0.message.hasPrefix("a write has waited past the bound") }
        }
        let stalled = Date()
        try await waitUntil("past the session timeout", timeout: .seconds(15)) { Date() > stalled.addingTimeInterval(5) }
        try fleet.broker.setPartitionLeader("pushfleet.state", partition: 0, brokerId: 1)
        try await waitUntil("the writes acknowledged again", timeout: .seconds(30)) {
            log.all.contains { $0.message.hasPrefix("broker acknowledged the lane's writes again") }
        }
        let acknowledged = Date()
        try await waitUntil("the observation window passed", timeout: .seconds(15)) { Date() > acknowledged.addingTimeInterval(6) }
        let early = rings().filter { $0 > acknowledged.addingTimeInterval(0.5) && $0 < acknowledged.addingTimeInterval(6) }
        #expect(early.isEmpty, "rang \(early.count) time(s) within 6 s of the acknowledgements, before the group could have told")
        let before = rings().count
        try await waitUntil("the call rings again once the bound is up", timeout: .seconds(40)) { rings().count > before }

        await ringing.stop()
        await fleet.stop()
    }
}
