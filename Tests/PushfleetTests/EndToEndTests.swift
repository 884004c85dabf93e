import Foundation
import Kafka
import PushContract
import PushSandbox
import Testing

extension FleetProcesses {
@Suite("End to end: router events → worker → sandbox providers", .serialized, .timeLimit(.minutes(3)))
struct EndToEndTests {
    @Test("calls, messages, responses, ends, expiry and skips through one real worker")
    func scenarios() async throws {
        let fleet = try await FleetHarness(
            partitions: 4,
            pushNotification: ["retransmission-count": "2", "retransmission-interval": "1", "display-from-uri": "true", "filter": "from.uri.domain != 'blocked.example'"],
            router: ["call-fork-timeout": "20"])
        defer { Task { await fleet.stop() } }
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])

        // iOS VoIP call: one PushKit push, at once.
        try await fleet.publish([Router.unanswered("voip-call", uri: Router.iosVoip())])
        let voip = try await fleet.apns.waitForRequests(count: 1, timeout: .seconds(10))[0]
        #expect(voip.path == "/3/device/\(Router.voipToken)")
        #expect(voip.header("apns-push-type") == "voip")
        #expect(voip.header("apns-topic") == "org.linphone.phone.voip")
        #expect(voip.httpVersion == "2")
        #expect(voip.bodyText.contains("\"call-id\":\"voip-call\""))
        // Display name `Bob "the caller"`: outer quotes trimmed as Flexisip does, the inner one JSON-escaped.
        #expect(voip.bodyText.contains(#""display-name":"Bob \"the caller""#), "SIP values are JSON-escaped")

        // Android call: an FCM v1 push with an OAuth token the sandbox issued.
        try await fleet.publish([Router.unanswered("android-call", uri: Router.android())])
        let fcm = try await fleet.fcm.waitForRequests(count: 1, timeout: .seconds(10))[0]
        #expect(fcm.path == "/v1/projects/pushfleet-sandbox/messages:send")
        #expect(fcm.header("authorization")?.hasPrefix("Bearer ") == true)
        #expect(fcm.bodyText.contains("\"token\":\"fcm-token-1\""))
        #expect(fleet.fcm.tokenRequests.count == 1)

        // iOS remote-only call: ringing alerts every second until answered elsewhere, then the final push.
        let ringToken = String(repeating: "ef", count: 32)
        try await fleet.publish([Router.unanswered("ring-call", uri: Router.iosRemote(token: ringToken, interval: 1))])
        try await waitUntil("3 ringing pushes") { fleet.apns.requests.filter { $0.path.hasSuffix(ringToken) }.count >= 3 }
        try await fleet.publish([Router.ended("ring-call", .answeredElsewhere)])
        try await waitUntil("the final push") {
            fleet.apns.requests.filter { $0.path.hasSuffix(ringToken) }.last?.bodyText.contains("Accepted elsewhere") == true
        }
        let ringing = fleet.apns.requests.filter { $0.path.hasSuffix(ringToken) }
        #expect(ringing.dropLast().allSatisfy { $0.header("apns-collapse-id") == "ring-call" && $0.header("apns-push-type") == "alert" })
        let gaps = zip(ringing.dropLast().dropFirst(), ringing.dropLast()).map { $0.receivedAt.timeIntervalSince($1.receivedAt) }
        #expect(gaps.allSatisfy { $0 > 0.8 && $0 < 1.6 }, "one ringing push per second: \(gaps)")

        // A message with retransmissions, stopped by a 180 from the device after the second push.
        try await fleet.publish([Router.unanswered("msg-1", method: "MESSAGE", uri: Router.android(token: "fcm-msg"), body: "hello",
                                                   headers: [("Content-Type", "text/plain")])])
        try await waitUntil("the first retransmission") { fleet.fcm.requests.filter { $0.bodyText.contains("fcm-msg") }.count >= 2 }
        try await fleet.publish([Router.response("msg-1", status: 180)])
        // A router clock a minute behind (more than the fork timeout of 20 s): counted from when
        // the worker read the event, as contract 1.1 says, and said so. And a push delayed past
        // its TTL (pn-timeout 25 s, fork timeout 20 s): never scheduled, never sent.
        try await fleet.publish([Router.unanswered("old-call", uri: Router.iosVoip(token: String(repeating: "98", count: 32)),
                                                   time: Router.now(offsetMs: -60_000)),
                                 Router.unanswered("late-call", uri: Router.iosVoip(token: String(repeating: "99", count: 32)) + ";pn-timeout=25")])
        // Skips: the filter, and needsPush (a To-tag means an in-dialog request).
        try await fleet.publish([
            .branchUnanswered(BranchUnanswered(
                header: RecordHeader(id: "blocked-1", time: Router.now()), callId: "blocked-call", branch: "b1", method: "INVITE",
                requestUri: Router.iosVoip(), from: SIPAddress(uri: "sip:spam@blocked.example"), to: SIPAddress(uri: "sip:alice@example.org"))),
            Router.unanswered("in-dialog", uri: Router.iosVoip(), toTag: "t1"),
        ])
        let outcomes = try await fleet.waitForOutcomes("all decisions") { outcomes in
            outcomes.contains { $0.callId == "old-call" && $0.result == .sent } && outcomes.contains { $0.callId == "late-call" }
                && outcomes.contains { $0.callId == "blocked-call" }
                && outcomes.contains { $0.callId == "in-dialog" }
        }
        #expect(outcomes.first { $0.callId == "voip-call" }?.result == .sent)
        #expect(outcomes.first { $0.callId == "voip-call" }?.pushType == .voip)
        #expect(outcomes.first { $0.callId == "android-call" }?.provider == "fcm")
        #expect(outcomes.first { $0.callId == "old-call" }?.reason?.contains("counted from when it was read") == true)
        #expect(outcomes.first { $0.callId == "late-call" }?.result == .dropped)
        #expect(outcomes.first { $0.callId == "late-call" }?.reason?.contains("not scheduled") == true)
        #expect(outcomes.first { $0.callId == "blocked-call" }?.reason?.hasPrefix("filter is false") == true)
        #expect(outcomes.first { $0.callId == "in-dialog" }?.reason?.contains("To has a tag") == true)
        #expect(outcomes.filter { $0.callId == "ring-call" }.last?.pushType == .final)
        // The 180 stopped the message's retransmissions: at most the 2 pushes sent before it (+1 in flight).
        let messagePushes = fleet.fcm.requests.filter { $0.bodyText.contains("fcm-msg") }.count
        #expect(messagePushes >= 2 && messagePushes <= 3)
        #expect(!fleet.apns.requests.contains { $0.path.hasSuffix(String(repeating: "99", count: 32)) }, "a push delayed past its TTL is never sent")

        // Graceful stop: SIGTERM → exit 0.
        worker.signal(SIGTERM)
        #expect(try await worker.waitForExit(timeout: .seconds(20)) == 0)
        #expect(worker.errors.text.contains("worker stopped"))
    }

    @Test("register wake-up: at the first tick, a binding past its threshold gets one background push")
    func registerWakeUp() async throws {
        let fleet = try await FleetHarness(partitions: 2, pushNotification: ["register-wakeup-interval": "1", "register-wakeup-threshold": "50"])
        defer { Task { await fleet.stop() } }
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])
        try await waitUntil("registrations partitions restored", timeout: .seconds(20)) {
            worker.errors.text.components(separatedBy: "registrations partition restored").count - 1 == 2
        }
        func registration(_ name: String, contact: String, age: Int, expires: Int) -> RouterEvent {
            .registrationUpdated(RegistrationUpdated(
                header: RecordHeader(id: "reg-\(name)", time: Router.now()), aor: "sip:\(name)@example.org", contact: contact,
                instanceId: "<urn:uuid:\(name)>", callId: "register-\(name)", expires: expires, updatedAt: Router.now(offsetMs: Int64(-age) * 1000)))
        }
        try await fleet.publish([
            registration("due", contact: Router.android(token: "wake-me"), age: 200, expires: 300),          // past 50 %, valid 100 s more
            registration("fresh", contact: Router.android(token: "not-yet"), age: 0, expires: 3600),         // not due
            registration("voip-only", contact: Router.iosVoip(), age: 200, expires: 300),                    // skipped, as Flexisip
        ])
        let outcomes = try await fleet.waitForOutcomes("the first wake-up tick", timeout: .seconds(90)) { outcomes in
            outcomes.contains { $0.pushType == .wakeup && $0.result == .sent } && outcomes.contains { $0.pushType == .wakeup && $0.result == .skipped }
        }
        let sent = outcomes.filter { $0.pushType == .wakeup && $0.result == .sent }
        #expect(sent.count == 1)
        #expect(sent.first?.registration == "sip:due@example.org|<urn:uuid:due>")
        #expect(fleet.fcm.requests.filter { $0.bodyText.contains("wake-me") }.count == 1)
        #expect(!fleet.fcm.requests.contains { $0.bodyText.contains("not-yet") })
        #expect(outcomes.first { $0.result == .skipped && $0.pushType == .wakeup }?.reason?.contains("only a VoIP token") == true)
    }
}
}  // extension FleetProcesses
