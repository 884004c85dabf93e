import Foundation
import Kafka
import PushContract
import Testing

extension FleetProcesses {
@Suite("pushfleet inspect: a call's schedule from the one state partition that holds it", .serialized, .timeLimit(.minutes(2)))
struct InspectCommandTests {
    @Test("a ringing call's pending schedule is shown; a call without one names the partition read")
    func ringingCall() async throws {
        let fleet = try await FleetHarness(partitions: 4)
        defer { Task { await fleet.stop() } }
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])
        try await fleet.publish([Router.unanswered("inspect-ring-1", uri: Router.iosRemote(interval: 5))])
        try await waitUntil("the first ringing push", timeout: .seconds(20)) {
            fleet.apns.requests.contains { $0.header("apns-collapse-id") == "inspect-ring-1" }
        }
        // The schedule is written as the push goes out; wait for the write, reading every partition.
        let everywhere = try await waitForValue("the schedule in the state topic") { () -> String? in
            let (_, out, _) = try await run("pushfleet", ["inspect", "--config", fleet.configPath, "--call-id", "inspect-ring-1", "--all-partitions"])
            return out.contains("inspect-ring-1:") ? out : nil
        }
        let (status, out, err) = try await run("pushfleet", ["inspect", "--config", fleet.configPath, "--call-id", "inspect-ring-1"])
        #expect(status == 0, "\(err)")
        // The same schedules (their keys; the "next" line counts seconds from each run's now).
        let keys = { (text: String) in text.split(separator: "\n").filter { $0.hasPrefix("inspect-ring-1:") } }
        #expect(!keys(out).isEmpty && keys(out) == keys(everywhere), "the one partition holds the whole schedule: \(out)")
        #expect(out.contains("inspect-ring-1:"), "\(out)")
        #expect(out.contains("push ringing"), "\(out)")
        #expect(out.contains("rings until"), "\(out)")

        // --json prints the stored record, which decodes.
        let (_, json, _) = try await run("pushfleet", ["inspect", "--config", fleet.configPath, "--call-id", "inspect-ring-1", "--json"])
        let record = try RecordDecoder.decodeSchedule(Array(json.split(separator: "\n")[0].utf8))
        #expect(record.callId == "inspect-ring-1")

        let partition = KafkaPartitioner.murmur2(key: Array("no-such-call".utf8), partitions: 4)
        let (_, none, _) = try await run("pushfleet", ["inspect", "--config", fleet.configPath, "--call-id", "no-such-call"])
        #expect(none.contains("no schedule for call no-such-call in pushfleet.state partition \(partition)"), "\(none)")
        let (_, all, _) = try await run("pushfleet", ["inspect", "--config", fleet.configPath, "--call-id", "no-such-call", "--all-partitions"])
        #expect(all.contains("(4 partitions)"), "\(all)")
        try await fleet.publish([Router.ended("inspect-ring-1", .cancelled)])
    }
}
}  // extension FleetProcesses
