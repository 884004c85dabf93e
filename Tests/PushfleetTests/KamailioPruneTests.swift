import Foundation
import Kafka
import PushContract
import PushSandbox
import Testing

/// `ops/kamailio/prune_bindings.py` for real: the reference router, a worker, the FCM sandbox
/// refusing tokens, and the script removing exactly the binding an `invalid-token` outcome names.
extension FleetProcesses {
@Suite("Kamailio router: invalid-token outcomes prune exactly that binding", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: KamailioRouter.installed || ProcessInfo.processInfo.environment["CI"] != nil))
struct KamailioPruneTests {
    static let project = SandboxFleetFiles.firebaseProject

    static func contacts(_ router: KamailioRouter, _ user: String) async throws -> String {
        let (_, out, err) = try await run(KamailioRouter.kamcmd, ["-s", "unix:\(router.controlSocket)", "ul.lookup", "location", user])
        return out + err
    }

    static func message(_ router: KamailioRouter, to user: String, callId: String) async throws {
        let port = try freeUDPPort()
        let sender = try router.sipp("message", user: user, localPort: port, callId: callId, keys: ["text": "ping"])
        try await router.finish(sender, "message", localPort: port, timeout: .seconds(20))
    }

    @Test("a 404 UNREGISTERED removes that device's contact at once (tombstone written); BadDeviceToken-like 400s only on a second answer; the other device stays")
    func prunesNamedBinding() async throws {
        try await KamailioTests.withRouter(forkTimeout: 4) { fleet, router in
            let gone = KamailioTests.instance(21), other = KamailioTests.instance(22), doubtful = KamailioTests.instance(23)
            try await router.register("ivy", localPort: try freeUDPPort(), pushParameters: "pn-provider=fcm;pn-param=\(Self.project);pn-prid=fcm-gone", instance: gone)
            try await router.register("ivy", localPort: try freeUDPPort(), pushParameters: "pn-provider=fcm;pn-param=\(Self.project);pn-prid=fcm-fine", instance: other)
            try await router.register("jo", localPort: try freeUDPPort(), pushParameters: "pn-provider=fcm;pn-param=\(Self.project);pn-prid=fcm-doubtful", instance: doubtful)
            fleet.fcm.script(token: "fcm-gone", [.unregistered(timestamp: 1_700_000_000_000)])
            fleet.fcm.script(token: "fcm-doubtful", [.badDeviceToken, .badDeviceToken])

            let prune = try KamailioRouter.spawn("/usr/bin/python3", [
                KamailioRouter.opsDirectory.appendingPathComponent("prune_bindings.py").path,
                "--bootstrap", fleet.broker.bootstrapServers, "--ctl", "unix:\(router.controlSocket)", "--confirm-after", "0",
            ])
            defer { if prune.process.isRunning { prune.signal(SIGKILL) } }
            try await waitUntil("the prune script following the outcomes", timeout: .seconds(30)) {
                if !prune.process.isRunning { throw TestFailure("prune_bindings.py exited: \(prune.errors.text)") }
                return prune.errors.text.contains("following pushfleet.outcomes")
            }

            // ivy: the MESSAGE forks to both devices; FCM says fcm-gone is unregistered.
            try await Self.message(router, to: "ivy", callId: "prune-ivy-%u")
            try await waitUntil("ivy's dead binding removed", timeout: .seconds(20)) {
                prune.errors.text.contains("removed sip:ivy@127.0.0.1|\(gone)")
            }
            let ivy = try await Self.contacts(router, "ivy")
            #expect(!ivy.contains("fcm-gone"), "\(ivy)")
            #expect(ivy.contains("pn-prid=fcm-fine") && ivy.contains(other), "the other device of the AOR stays: \(ivy)")
            let tombstones = try await fleet.read("pushfleet.registrations").filter { $0.value == nil }.map { String(decoding: $0.key ?? [], as: UTF8.self) }
            #expect(tombstones == ["sip:ivy@127.0.0.1|\(gone)"])

            // jo: a 400 naming the token could be a configuration mistake: held on the first answer…
            try await Self.message(router, to: "jo", callId: "prune-jo-a-%u")
            try await waitUntil("the first doubtful answer held", timeout: .seconds(20)) { prune.errors.text.contains("holding sip:jo@127.0.0.1|\(doubtful)") }
            #expect(try await Self.contacts(router, "jo").contains("fcm-doubtful"))
            // …and pruned on the second, from another push.
            try await Self.message(router, to: "jo", callId: "prune-jo-b-%u")
            try await waitUntil("jo's binding removed after the second answer", timeout: .seconds(20)) {
                prune.errors.text.contains("removed sip:jo@127.0.0.1|\(doubtful)")
            }
            #expect(!(try await Self.contacts(router, "jo")).contains("fcm-doubtful"))
            #expect(fleet.fcm.requests.filter { $0.bodyText.contains("fcm-doubtful") }.count == 2)
            #expect(router.scriptErrors.isEmpty, "\(router.scriptErrors)")
        }
    }
}
}  // extension FleetProcesses
