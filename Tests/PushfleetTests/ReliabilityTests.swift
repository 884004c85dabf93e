import Foundation
import Kafka
import PushContract
import PushSandbox
import Testing

extension FleetProcesses {
/// Faults that used to leave a worker "healthy" while it pushed nothing, or that it could not
/// stop from: each test runs the real binary and fails on the code before the fix.
@Suite("Reliability: bounded, visible, recovered (real workers)", .serialized, .timeLimit(.minutes(4)))
struct ReliabilityTests {
    /// `pushfleet worker`'s SIGTERM bound (WorkerCommand.shutdownBound) plus process start/exit slack.
    static let stopBound: Duration = .seconds(35)

    static func curl() throws -> String { try DeployArtifactsTests.tool("curl", install: "Debian package curl") }

    @Test("a start-up failure with metrics on exits 69 (EX_UNAVAILABLE) with the error instead of answering /health", arguments: [
        ("kafka/bootstrap-servers=127.0.0.1:1", "Error:"),  // Kafka unreachable
        ("kafka/events-topic=no-such-events", "no-such-events"),  // a topic that does not exist
    ])
    func startUpFailureExits(setting: String, named: String) async throws {
        let fleet = try await FleetHarness(partitions: 2, metricsListen: "127.0.0.1:0")
        defer { Task { await fleet.stop() } }
        let worker = try ChildProcess("pushfleet", ["worker", "--config", fleet.configPath, "--set", setting])
        let status = try await worker.waitForExit(timeout: .seconds(60))
        #expect(status == 69, "Kafka unavailable: a supervisor may retry")
        #expect(worker.errors.text.contains(named), "the cause is printed: \(worker.errors.text.suffix(600))")
    }

    @Test("exit statuses tell a bad configuration (78) and bad usage (64) from an unavailable Kafka (69)", arguments: [
        (["worker", "--config", "/nonexistent/flexisip.conf"], Int32(78), "cannot read config file"),
        (["worker", "--config", "/dev/null", "--set", "module::PushNotification/timeout=soon"], Int32(78), "timeout = soon"),
        (["worker", "--config", "/dev/null"], Int32(78), "bootstrap-servers"),
        (["tail", "--bootstrap-servers", "127.0.0.1:1", "--result", "ok"], Int32(64), "--result"),
        (["worker", "--no-such-flag"], Int32(64), "--no-such-flag"),
    ])
    func exitStatuses(arguments: [String], expected: Int32, named: String) async throws {
        let (status, _, err) = try await run("pushfleet", arguments)
        #expect(status == expected, "\(err)")
        #expect(err.contains(named), "\(err)")
    }

    @Test("SIGTERM while start-up waits for an unreachable Kafka ends the process within the bound")
    func sigtermDuringStartUp() async throws {
        let fleet = try await FleetHarness(partitions: 2, metricsListen: "127.0.0.1:0")
        defer { Task { await fleet.stop() } }
        let worker = try ChildProcess("pushfleet", ["worker", "--config", fleet.configPath, "--set", "kafka/bootstrap-servers=127.0.0.1:1"])
        try await waitUntil("the metrics endpoint is up", timeout: .seconds(20)) { worker.errors.text.contains("metrics endpoint listening") }
        let sent = ContinuousClock.now
        worker.signal(SIGTERM)
        _ = try await worker.waitForExit(timeout: Self.stopBound)
        #expect(ContinuousClock.now - sent < Self.stopBound)
    }

    @Test("SIGTERM with the broker down and a provider that never answers ends the process within the bound")
    func sigtermUnderFaults() async throws {
        let fleet = try await FleetHarness(partitions: 2, metricsListen: "127.0.0.1:0")
        defer { Task { await fleet.stop() } }
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])
        let token = String(repeating: "7e", count: 32)
        fleet.apns.script(token: token, [.hang, .hang, .hang, .hang])
        try await fleet.publish([Router.unanswered("term-hang", uri: Router.iosVoip(token: token))])
        try await waitUntil("the push reached the provider, which does not answer", timeout: .seconds(20)) {
            fleet.apns.requests.contains { $0.path.hasSuffix(token) }
        }
        try fleet.broker.setBrokerDown()
        let sent = ContinuousClock.now
        worker.signal(SIGTERM)
        _ = try await worker.waitForExit(timeout: Self.stopBound)
        #expect(ContinuousClock.now - sent < Self.stopBound)
        try fleet.broker.setBrokerUp()
    }

    @Test("a ringing call taken over under call-remote-push-interval=0 does not crash the new owner")
    func ringingAfterIntervalChange() async throws {
        let fleet = try await FleetHarness(partitions: 2, pushNotification: ["call-remote-push-interval": "2"],
                                           router: ["call-fork-timeout": "60"])
        defer { Task { await fleet.stop() } }
        let a = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [a])
        let token = String(repeating: "9a", count: 32)
        try await fleet.publish([Router.unanswered("ring-zero", uri: Router.iosRemote(token: token))])
        try await waitUntil("the call rang twice", timeout: .seconds(20)) {
            fleet.apns.requests.filter { $0.path.hasSuffix(token) }.count >= 2
        }
        a.signal(SIGTERM)
        _ = try await a.waitForExit(timeout: Self.stopBound)
        // The rolling change: the new owner's config has no repetition any more.
        let b = try await fleet.startWorker(["--set", "module::PushNotification/call-remote-push-interval=0"])
        try await fleet.waitForAssignment(of: [b])
        let before = fleet.apns.requests.filter { $0.path.hasSuffix(token) }.count
        try await waitUntil("the tick due at the takeover was pushed by the new owner", timeout: .seconds(20)) {
            fleet.apns.requests.filter { $0.path.hasSuffix(token) }.count > before
        }
        // The answer to that push is where the interval used to divide by zero; its outcome is
        // written only after it was applied.
        try await fleet.waitForOutcomes("the new owner recorded the answer", timeout: .seconds(20)) { outcomes in
            outcomes.filter { $0.callId == "ring-zero" && $0.result == .sent }.count > before
        }
        #expect(b.process.isRunning, "the new owner is alive: \(b.errors.text.suffix(800))")
    }

    @Test("a restore that fails leaves the partition paused and /ready 503, and is retried until its events are pushed")
    func failedRestoreIsRetried() async throws {
        let curl = try Self.curl()
        let fleet = try await FleetHarness(partitions: 2, metricsListen: "127.0.0.1:0")
        defer { Task { await fleet.stop() } }
        // State partition 1 has no leader: its restore cannot read it.
        try fleet.broker.setPartitionLeader("pushfleet.state", partition: 1, brokerId: -1)
        let worker = try await fleet.startWorker()
        try await waitUntil("the restore of partition 1 failed", timeout: .seconds(40)) {
            worker.errors.text.contains("restore failed; partition paused")
        }
        let metrics = "http://127.0.0.1:\(try DeployArtifactsTests.metricsPort(worker.errors.text))"
        let ready = try await DeployArtifactsTests.get(curl, metrics + "/ready")
        #expect(ready.status == 503 && ready.body.contains("not restored"), "\(ready)")
        // Calls on both partitions; those of partition 1 wait, unread, until its state is back.
        let calls = (0..<8).map { "restore-\($0)" }
        try await fleet.publish(calls.enumerated().map { Router.unanswered($1, uri: Router.iosVoip(token: String(format: "%064x", 0xbe00 + $0))) })
        try fleet.broker.setPartitionLeader("pushfleet.state", partition: 1, brokerId: 1)
        try await waitUntil("ready once partition 1 is restored", timeout: .seconds(60)) {
            try await DeployArtifactsTests.get(curl, metrics + "/ready").status == 200
        }
        try await fleet.waitForOutcomes("every call pushed, partition 1's included", timeout: .seconds(30)) { outcomes in
            Set(calls).isSubset(of: Set(outcomes.filter { $0.result == .sent }.compactMap(\.callId)))
        }
        #expect(worker.errors.text.contains("partition restored after retry; resumed"))
    }

    @Test("a backlog larger than a destination can take is sent in full: partitions pause instead of pushes being dropped")
    func backlogIsSentNotDropped() async throws {
        // One destination, 1,000 concurrent sends (SenderTuning) plus max-queue-size=5 waiting;
        // the provider takes a second per answer. Before, everything past that was `dropped`.
        let fleet = try await FleetHarness(partitions: 2, pushNotification: ["max-queue-size": "5"])
        defer { Task { await fleet.stop() } }
        let calls = (0..<1_500).map { (call: "backlog-\($0)", token: String(format: "%064x", 0xb10c_0000 + $0)) }
        for call in calls { fleet.apns.script(token: call.token, [.slow(milliseconds: 1_000, then: .ok)]) }
        try await fleet.publish(calls.map { Router.unanswered($0.call, uri: Router.iosVoip(token: $0.token)) })
        let worker = try await fleet.startWorker()
        let outcomes = try await fleet.waitForOutcomes("every call of the backlog has its outcome", timeout: .seconds(90)) { outcomes in
            Set(outcomes.compactMap(\.callId)).count == calls.count
        }
        #expect(outcomes.filter { $0.result == .dropped }.isEmpty, "\(outcomes.filter { $0.result == .dropped }.prefix(3))")
        #expect(Set(outcomes.filter { $0.result == .sent }.compactMap(\.callId)).count == calls.count)
        #expect(worker.errors.text.contains("partition paused: its pushes wait for room"))
    }

    @Test("a connection black-holed by the network is replaced: the worker's next push gets through within 30 s")
    func blackHoledConnection() async throws {
        // The worker reaches APNs through a TCP relay that can silently stop forwarding the
        // connections it has (a NAT or firewall forgetting them) while accepting new ones.
        let relay = SandboxTCPRelay(port: 1)
        try await relay.start()
        let fleet = try await FleetHarness(partitions: 1, pushfleet: ["apple-dev-push-uri": relay.baseURL])
        defer { Task { await fleet.stop(); try? await relay.shutdown() } }
        relay.retarget(port: fleet.apns.port)
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])
        try await fleet.publish([Router.unanswered("hole-1", uri: Router.iosVoip(token: String(repeating: "b1", count: 32)))])
        try await fleet.waitForOutcomes("the first push, through the relay") { $0.contains { $0.callId == "hole-1" && $0.result == .sent } }
        relay.blackHoleEstablished()
        let holed = ContinuousClock.now
        try await fleet.publish([Router.unanswered("hole-2", uri: Router.iosVoip(token: String(repeating: "b2", count: 32)))])
        try await fleet.waitForOutcomes("the next push, on a new connection", timeout: .seconds(45)) {
            $0.contains { $0.callId == "hole-2" && $0.result == .sent }
        }
        #expect(ContinuousClock.now - holed < .seconds(30))
        #expect(relay.connectionCount >= 2)
    }

    @Test("a worker drops the per-partition series of partitions it gave away (a dashboard's sum counted them twice)")
    func revokedPartitionSeriesRemoved() async throws {
        let curl = try Self.curl()
        let fleet = try await FleetHarness(partitions: 4, metricsListen: "127.0.0.1:0")
        defer { Task { await fleet.stop() } }
        let a = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [a])
        let metricsA = "http://127.0.0.1:\(try DeployArtifactsTests.metricsPort(a.errors.text))"
        @Sendable func partitions(_ family: String) async throws -> Set<String> {
            let exposition = try await DeployArtifactsTests.get(curl, metricsA + "/metrics").body
            return Set(DeployArtifactsTests.samples(family, in: exposition).compactMap { sample in
                sample.labels.split(separator: ",").first { $0.contains("partition=") }.map { String($0.filter(\.isNumber)) }
            })
        }
        try await waitUntil("A exports pending schedules for its 4 partitions") { try await partitions("pushfleet_pending_schedules").count == 4 }
        let b = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [a, b])
        let kept = Set(FleetHarness.ownedPartitions(a).map(String.init))
        #expect(kept.count < 4)
        try await waitUntil("A's series are only those of the partitions it kept") {
            let pending = try await partitions("pushfleet_pending_schedules")
            let inFlight = try await partitions("pushfleet_sends_in_flight")
            return pending == kept && inFlight == kept
        }
    }

    @Test("a write the broker refuses for good is dead-lettered and the partition moves on")
    func refusedWriteIsDeadLettered() async throws {
        let fleet = try await FleetHarness(partitions: 1)
        defer { Task { await fleet.stop() } }
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])
        try await fleet.publish([Router.unanswered("refused-1", uri: Router.iosVoip(token: String(repeating: "1f", count: 32)))])
        // The next produce request is the worker's writes for that call: refused as invalid.
        try fleet.broker.injectRequestErrors(.produce, [87])  // INVALID_RECORD
        try await waitUntil("a dead letter for the refused write", timeout: .seconds(30)) {
            try await fleet.deadLetters().contains { $0.error.contains("was refused") }
        }
        try await fleet.publish([Router.unanswered("refused-2", uri: Router.iosVoip(token: String(repeating: "2f", count: 32)))])
        try await fleet.waitForOutcomes("the next call is processed", timeout: .seconds(30)) { outcomes in
            outcomes.contains { $0.callId == "refused-2" && $0.result == .sent }
        }
    }
}
}  // extension FleetProcesses
