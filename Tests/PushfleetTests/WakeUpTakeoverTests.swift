import Foundation
import Kafka
import PushContract
import PushSandbox
import Testing

/// Register wake-up across a takeover by a second real worker (issue #6): a binding past its
/// threshold is woken at every tick (contract 1.1 §2.4), never twice at one tick, by whichever
/// worker owns its partition; the new owner also wakes the bindings that fall due after it took over.
extension FleetProcesses {
@Suite("Register wake-up takeover (real workers)", .serialized, .timeLimit(.minutes(5)))
struct WakeUpTakeoverTests {
    /// Binding keys per kind; tokens are the FCM registration tokens the sandbox sees.
    static let count = 10
    static func token(_ kind: String, _ i: Int) -> String { "\(kind)-\(i)" }
    static func key(_ kind: String, _ i: Int) -> String { "sip:\(kind)\(i)@example.org|<urn:uuid:\(kind)-\(i)>" }

    /// A binding of `aor sip:<kind><i>@example.org` registered `age` seconds ago for `expires` seconds.
    static func registration(_ kind: String, _ i: Int, age: Int64, expires: Int) -> RouterEvent {
        .registrationUpdated(RegistrationUpdated(
            header: RecordHeader(id: "reg-\(kind)-\(i)", time: Router.now()), aor: "sip:\(kind)\(i)@example.org",
            contact: Router.android(token: token(kind, i)), instanceId: "<urn:uuid:\(kind)-\(i)>", callId: "register-\(kind)-\(i)",
            expires: expires, updatedAt: Router.now(offsetMs: -age * 1000)))
    }

    /// FCM requests per token (the body names the token as `"token":"<t>"`).
    static func pushes(_ fleet: FleetHarness, _ token: String) -> Int {
        fleet.fcm.requests.filter { $0.bodyText.contains("\"token\":\"\(token)\"") }.count
    }

    @Test("SIGKILL the worker that sent wake-ups: the new owner never repeats one within a tick, keeps waking them at its ticks, and wakes the bindings due later")
    func takeover() async throws {
        // Ticks every minute (the option's unit and smallest value), threshold 50 %.
        let curl = try DeployArtifactsTests.tool("curl", install: "Debian package curl")
        let fleet = try await FleetHarness(partitions: 2, pushNotification: ["register-wakeup-interval": "1", "register-wakeup-threshold": "50"],
                                           metricsListen: "127.0.0.1:0")
        defer { Task { await fleet.stop() } }
        let a = try await fleet.startWorker()
        try await waitUntil("A owns every events and registrations partition", timeout: .seconds(30)) {
            FleetHarness.ownedPartitions(a) == [0, 1] && FleetHarness.ownedRegistrationPartitions(a) == [0, 1]
        }
        // A's registrations lanes exist now, so its first tick comes within 60 s of this point.
        let published = Date()
        try await fleet.publish(
            // Due: past 50 % of 1,200 s (since 100 s), valid 500 s more.
            (0..<Self.count).map { Self.registration("early", $0, age: 700, expires: 1200) }
            // Due 75 s from now: after A's first tick (≤ 60 s from now), before B's first tick
            // (60 s after B restores, which is after A's first tick); valid 360 s more.
            + (0..<Self.count).map { Self.registration("later", $0, age: 225, expires: 600) }
            // Not due for 30 min.
            + (0..<3).map { Self.registration("fresh", $0, age: 0, expires: 3600) })

        // B's tick must run over every partition that holds an early binding: each such
        // partition also holds a later one, whose wake-up proves that tick happened.
        let partitionOf = Dictionary(try await fleet.read("pushfleet.registrations").map { (String(decoding: $0.key ?? [], as: UTF8.self), $0.partition) }) { $1 }
        let earlyPartitions = Set((0..<Self.count).compactMap { partitionOf[Self.key("early", $0)] })
        let laterPartitions = Set((0..<Self.count).compactMap { partitionOf[Self.key("later", $0)] })
        try #require(earlyPartitions.count == 2 && earlyPartitions.isSubset(of: laterPartitions), "keys spread over both partitions")

        // A's first tick: one wake-up per early binding, recorded (outcome and state marker).
        try await waitUntil("A's first tick woke the \(Self.count) early bindings", timeout: .seconds(90)) {
            (0..<Self.count).allSatisfy { Self.pushes(fleet, Self.token("early", $0)) >= 1 }
        }
        try await waitUntil("the \(Self.count) wake-up markers are in the state topic", timeout: .seconds(20)) {
            let markers = try await fleet.read("pushfleet.state").filter { $0.value != nil && String(decoding: $0.key ?? [], as: UTF8.self).hasPrefix("wakeup|") }
            return Set(markers.compactMap { $0.key.map { String(decoding: $0, as: UTF8.self) } }).count == Self.count
        }
        #expect(Date().timeIntervalSince(published) < 75, "the later bindings were not due yet at A's tick")
        #expect((0..<Self.count).allSatisfy { Self.pushes(fleet, Self.token("later", $0)) == 0 }, "not due at A's first tick")

        // B joins (cooperative rebalance: A hands some partitions over gracefully), then A dies
        // without a goodbye. Every marker was durable before the kill, so the duplicate window
        // (a wake-up sent but not yet recorded) is empty here: a repeat within a tick is a bug.
        let b = try await fleet.startWorker()
        try await waitUntil("B took its share from A", timeout: .seconds(30)) {
            !FleetHarness.ownedPartitions(b).isEmpty || !FleetHarness.ownedRegistrationPartitions(b).isEmpty
        }
        a.signal(SIGKILL)
        _ = try await a.waitForExit(timeout: .seconds(5))
        try await waitUntil("B owns every events and registrations partition (after the session timeout)", timeout: .seconds(40)) {
            FleetHarness.ownedPartitions(b) == [0, 1] && FleetHarness.ownedRegistrationPartitions(b) == [0, 1]
        }
        let metricsB = "http://127.0.0.1:\(try DeployArtifactsTests.metricsPort(b.errors.text))"
        try await waitUntil("B ready (every partition it owns restored)", timeout: .seconds(10)) {
            try await DeployArtifactsTests.get(curl, metricsB + "/ready").status == 200
        }

        // B's first tick on each partition (60 s after it restored it) wakes the later bindings.
        try await waitUntil("B woke the \(Self.count) later bindings", timeout: .seconds(100)) {
            (0..<Self.count).allSatisfy { Self.pushes(fleet, Self.token("later", $0)) >= 1 }
        }
        let outcomes = try await fleet.waitForOutcomes("an outcome for every wake-up") { outcomes in
            outcomes.filter { $0.pushType == .wakeup && $0.result == .sent }.count >= 2 * Self.count
        }
        // Every wake-up of one binding falls on its own tick (ticks are whole minutes; a push
        // goes out within seconds of its tick), whichever worker sent it.
        func ticks(_ token: String) -> [Int] {
            fleet.fcm.requests.filter { $0.bodyText.contains("\"token\":\"\(token)\"") }
                .map { Int($0.receivedAt.timeIntervalSince1970 / 60) }
        }
        for kind in ["early", "later"] {
            for i in 0..<Self.count {
                let woken = ticks(Self.token(kind, i))
                #expect(Set(woken).count == woken.count, "\(kind)-\(i) woken at most once per tick: \(woken)")
            }
        }
        // The early bindings stay due: B wakes them again at its ticks (they expire long after).
        try await waitUntil("B woke the early bindings again", timeout: .seconds(70)) {
            (0..<Self.count).allSatisfy { Self.pushes(fleet, Self.token("early", $0)) >= 2 }
        }
        let sentWakeUps = outcomes.filter { $0.pushType == .wakeup && $0.result == .sent }
        #expect(Set(sentWakeUps.map(\.header.id)).count == sentWakeUps.count, "one outcome id per wake-up")
        #expect((0..<3).allSatisfy { Self.pushes(fleet, Self.token("fresh", $0)) == 0 }, "bindings not due are never woken")
        // B's own account: at least the later bindings.
        let exposition = try await DeployArtifactsTests.get(curl, metricsB + "/metrics").body
        #expect((DeployArtifactsTests.sample(#"pushfleet_pushes_total{provider="fcm",push_type="wakeup",result="sent"}"#, in: exposition) ?? 0) >= Double(Self.count))
        // A read them; B only restored them (reading the table back is not reading events).
        #expect((DeployArtifactsTests.sample(#"pushfleet_events_total{type="registration.updated"}"#, in: exposition) ?? 0) == 0)
        #expect(b.process.isRunning)
    }
}
}  // extension FleetProcesses
