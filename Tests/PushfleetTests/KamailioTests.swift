import Foundation
import Kafka
import PushContract
import PushSandbox
import Testing

/// The reference router (`ops/kamailio`) end to end: SIPp phones → Kamailio (registrar, forking
/// proxy, KEMI Python publishing the contract's events) → embedded broker → a real worker →
/// sandbox APNs/FCM. Kamailio and SIPp are required wherever `CI` is set (`make deps` installs
/// them); elsewhere the suite is skipped only when they are not installed.
extension FleetProcesses {
@Suite("Kamailio router: SIP → contract events → pushes", .serialized, .timeLimit(.minutes(4)),
       .enabled(if: KamailioRouter.installed || ProcessInfo.processInfo.environment["CI"] != nil))
struct KamailioTests {
    static let voipToken = String(repeating: "a1", count: 32)
    static let remoteToken = String(repeating: "b2", count: 32)
    static let bundle = SandboxFleetFiles.appleBundle

    /// Runs `body` with a fleet (broker, sandboxes, one worker owning every partition) and
    /// Kamailio, and stops them all afterwards, also when `body` fails (a `defer { Task { … } }`
    /// would not run before the test process exits, leaving them behind).
    static func withRouter(pushNotification: [String: String] = [:], forkTimeout: Int = 20, children: Int = 2,
                           messageTimeoutMs: Int = 10_000, minExpires: Int? = nil,
                           _ body: (FleetHarness, KamailioRouter) async throws -> Void) async throws {
        let fleet = try await FleetHarness(partitions: 4, pushNotification: pushNotification)
        var router: KamailioRouter?
        do {
            let worker = try await fleet.startWorker()
            try await fleet.waitForAssignment(of: [worker])
            let started = try await KamailioRouter(bootstrap: fleet.broker.bootstrapServers, children: children,
                                                   forkTimeout: forkTimeout, messageTimeoutMs: messageTimeoutMs, minExpires: minExpires)
            router = started
            try await body(fleet, started)
        } catch {
            await router?.stop()
            await fleet.stop()
            throw error
        }
        await router?.stop()
        await fleet.stop()
    }

    static func instance(_ n: Int) -> String { "<urn:uuid:00000000-0000-4000-8000-\(String(format: "%012d", n))>" }

    static func events(_ fleet: FleetHarness, _ callId: String) async throws -> [PublishedRecord] {
        try await fleet.published("pushfleet.events").filter { $0.callId == callId }
    }

    @Test("iOS VoIP device: INVITE → one VoIP push; the woken device answers (180/200) → no further push")
    func voipCallAnswered() async throws {
        try await Self.withRouter(pushNotification: ["retransmission-count": "3", "retransmission-interval": "3"]) { fleet, router in
            let devicePort = try freeUDPPort()
            let contactParams = "pn-provider=apns;pn-param=ABCD1234.\(Self.bundle).voip;pn-prid=\(Self.voipToken):voip"
            try await router.register("alice", localPort: devicePort, pushParameters: contactParams, instance: Self.instance(1))

            // The REGISTER became registration.updated, keyed <aor>|<instance>.
            let registrations = try await fleet.published("pushfleet.registrations")
            let registration = try #require(registrations.first { $0.key == "sip:alice@127.0.0.1|\(Self.instance(1))" })
            guard case .registrationUpdated(let updated) = registration.event else { Issue.record("not a registration: \(registration)"); return }
            #expect(updated.contact == "sip:alice@127.0.0.1:\(devicePort);\(contactParams)")
            #expect(updated.instanceId == Self.instance(1))
            #expect(updated.expires > 3590 && updated.expires <= 3600)

            let callerPort = try freeUDPPort()
            let caller = try router.sipp("call", user: "alice", localPort: callerPort, callId: "kam-voip-%u")
            let push = try await fleet.apns.waitForRequests(count: 1, timeout: .seconds(15))[0]
            #expect(push.path == "/3/device/\(Self.voipToken)")
            #expect(push.header("apns-push-type") == "voip")
            #expect(push.bodyText.contains("\"call-id\":\"kam-voip-1\""))
            #expect(push.bodyText.contains(Self.instance(1).dropFirst().dropLast().description), "uuid from +sip.instance")

            // The device wakes up: its UAS takes Kamailio's next INVITE retransmission and answers.
            let device = try router.sipp("device_answer", localPort: devicePort, toRouter: false, pause: 500)
            try await router.finish(device, "device_answer", localPort: devicePort, timeout: .seconds(20))
            try await router.finish(caller, "call", localPort: callerPort, timeout: .seconds(20))

            try await waitUntil("call.ended published") {
                try await Self.events(fleet, "kam-voip-1").contains { $0.endReason != nil }
            }
            let events = try await Self.events(fleet, "kam-voip-1")
            #expect(events.map { $0.event?.type } == ["branch.unanswered", "branch.response", "branch.response", "call.ended"])
            #expect(Set(events.map(\.partition)).count == 1, "one call, one partition")
            // Kamailio's librdkafka partitions like PushFleet's producer (murmur2_random).
            try fleet.broker.createTopic(KafkaTopicSpec(name: "partitioner-probe", partitions: 4))
            let probe = try await fleet.producer.send(KafkaProducerRecord(topic: "partitioner-probe", key: Array("kam-voip-1".utf8), value: [0x7B, 0x7D]))
            #expect(events.first?.partition == probe.partition)
            guard case .branchUnanswered(let branch) = events.first?.event else { Issue.record("no branch.unanswered"); return }
            #expect(branch.method == "INVITE")
            #expect(branch.requestUri == "sip:alice@127.0.0.1:\(devicePort);\(contactParams)")
            #expect(branch.branch == Self.instance(1))
            #expect(branch.instanceId == Self.instance(1))
            #expect(branch.from.uri == "sip:bob@127.0.0.1:\(callerPort)")
            #expect(branch.from.displayName == "Bob")
            #expect(branch.from.tag?.isEmpty == false)
            #expect(branch.to.uri == "sip:alice@127.0.0.1")
            #expect(branch.headers["User-Agent"] == "SIPp caller")
            #expect(branch.headers["Content-Type"] == "application/sdp")
            #expect(branch.forkTimeout == 20)
            #expect(events.compactMap(\.responseStatus) == [180, 200])
            #expect(events.compactMap(\.endReason) == [.answered])

            // The 180 (Kamailio's INVITE retransmission reaches the device within 1.5 s) stopped the
            // retransmissions due 3 s after the push: the schedule has no pending push and, past that
            // due time, the first push is still the only one.
            try await waitUntil("the call's schedule stopped") { try await !fleet.hasPendingSchedule("kam-voip-1") }
            let quietUntil = push.receivedAt.addingTimeInterval(3.5)
            if quietUntil > Date() { try await Task.sleep(for: .milliseconds(Int(quietUntil.timeIntervalSinceNow * 1000))) }
            #expect(fleet.apns.requests.filter { $0.path.hasSuffix(Self.voipToken) }.count == 1)
            #expect(router.scriptErrors.isEmpty, "\(router.scriptErrors)")
        }
    }

    @Test("iOS remote-only device with pn-call-remote-push-interval: ringing pushes until the caller CANCELs, then Missing call")
    func remoteRingingCancelled() async throws {
        try await Self.withRouter { fleet, router in
            let devicePort = try freeUDPPort()
            try await router.register("carol", localPort: devicePort,
                                      pushParameters: "pn-provider=apns;pn-param=ABCD1234.\(Self.bundle);pn-prid=\(Self.remoteToken);pn-call-remote-push-interval=1",
                                      instance: Self.instance(2))

            let callerPort = try freeUDPPort()
            // Nobody answers on the device's port: the caller CANCELs after 5.5 s of ringing (pushes
            // due at 0, 1, 2… s; the slack absorbs a loaded machine's slow first push).
            let caller = try router.sipp("call_cancel", user: "carol", localPort: callerPort, callId: "kam-ring-%u", pause: 5500)
            try await router.finish(caller, "call_cancel", localPort: callerPort, timeout: .seconds(20))
            try await waitUntil("the final push") {
                fleet.apns.requests.filter { $0.path.hasSuffix(Self.remoteToken) }.last?.bodyText.contains("Missing call") == true
            }
            let pushes = fleet.apns.requests.filter { $0.path.hasSuffix(Self.remoteToken) }
            #expect(pushes.count >= 4, "at least 3 ringing pushes in 5.5 s, then the final one: \(pushes.count)")
            #expect(pushes.dropLast().allSatisfy { $0.header("apns-collapse-id") == "kam-ring-1" && $0.header("apns-push-type") == "alert" })
            let events = try await Self.events(fleet, "kam-ring-1")
            #expect(events.map { $0.event?.type } == ["branch.unanswered", "call.ended"])
            #expect(events.compactMap(\.endReason) == [.cancelled])
            let outcomes = try await fleet.waitForOutcomes("the final push's outcome") { $0.contains { $0.callId == "kam-ring-1" && $0.pushType == .final } }
            #expect(outcomes.filter { $0.callId == "kam-ring-1" && $0.pushType == .final }.count == 1)
            #expect(router.scriptErrors.isEmpty, "\(router.scriptErrors)")
        }
    }

    @Test("tsilo: the callee's contact is stale; woken by its VoIP push, the device registers a fresh contact and the waiting INVITE is answered there")
    func wokenDeviceAnswersOnFreshContact() async throws {
        try await Self.withRouter { fleet, router in
            let contactParams = "pn-provider=apns;pn-param=ABCD1234.\(Self.bundle).voip;pn-prid=\(Self.voipToken):voip"
            let instance = Self.instance(11)
            let registrationKey = "sip:wade@127.0.0.1|\(instance)"
            // The device registered from a port nobody listens on any more (its connection is gone).
            let stalePort = try freeUDPPort()
            try await router.register("wade", localPort: stalePort, pushParameters: contactParams, instance: instance)

            let callerPort = try freeUDPPort()
            let started = ContinuousClock.now
            let caller = try router.sipp("call", user: "wade", localPort: callerPort, callId: "kam-wake-%u")
            let push = try await fleet.apns.waitForRequests(count: 1, timeout: .seconds(15))[0]
            #expect(push.path == "/3/device/\(Self.voipToken)")
            #expect(push.bodyText.contains("\"call-id\":\"kam-wake-1\""))

            // Only now does the device wake up: it registers a fresh contact (same instance and push
            // parameters, a new port) and answers the INVITE tsilo forks to it.
            let freshPort = try freeUDPPort()
            let device = try router.wokenDevice("wade", localPort: freshPort, pushParameters: contactParams, instance: instance)
            try await router.finish(device, "device_wake", localPort: freshPort, timeout: .seconds(25))
            try await router.finish(caller, "call", localPort: callerPort, timeout: .seconds(20))
            let callDuration = ContinuousClock.now - started
            #expect(callDuration < .seconds(20), "answered within the fork timeout (20 s): \(callDuration)")

            // The caller's 200 came from the fresh contact; the stale one never answered.
            let callerMessages = router.sippMessages("call", localPort: callerPort)
            #expect(callerMessages.contains("Contact: <sip:127.0.0.1:\(freshPort);transport=UDP>"), "\(callerMessages.suffix(2000))")
            #expect(router.sippMessages("device_wake", localPort: freshPort).contains("INVITE sip:wade@127.0.0.1:\(freshPort);\(contactParams) SIP/2.0"))

            try await waitUntil("call.ended published") {
                try await Self.events(fleet, "kam-wake-1").contains { $0.endReason != nil }
            }
            let events = try await Self.events(fleet, "kam-wake-1")
            #expect(events.map { $0.event?.type } == ["branch.unanswered", "branch.response", "branch.response", "call.ended"],
                    "one branch.unanswered: the branch to the fresh contact is the device's branch, not a second push")
            #expect(Set(events.map(\.partition)).count == 1, "one call, one partition")
            guard case .branchUnanswered(let branch) = events.first?.event else { Issue.record("no branch.unanswered: \(events)"); return }
            #expect(branch.requestUri == "sip:wade@127.0.0.1:\(stalePort);\(contactParams)", "pushed for the stale contact")
            #expect(branch.branch == instance)
            let responses = events.compactMap { record -> BranchResponse? in
                if case .branchResponse(let response) = record.event { response } else { nil }
            }
            #expect(responses.map(\.status) == [180, 200])
            #expect(responses.allSatisfy { $0.branch == instance }, "the fresh contact's replies are the device's branch")
            #expect(events.compactMap(\.endReason) == [.answered])

            // The fresh REGISTER moved the binding: same key, the new contact.
            let registrations = try await fleet.published("pushfleet.registrations").filter { $0.key == registrationKey }
            guard case .registrationUpdated(let latest) = registrations.last?.event else { Issue.record("no registration: \(registrations)"); return }
            #expect(registrations.count == 2)
            #expect(latest.contact == "sip:wade@127.0.0.1:\(freshPort);\(contactParams)")
            #expect(try await router.counters()["pushfleet_repeat_branches"] == 1)

            try await waitUntil("the call's schedule stopped") { try await !fleet.hasPendingSchedule("kam-wake-1") }
            #expect(fleet.apns.requests.filter { $0.path.hasSuffix(Self.voipToken) }.count == 1, "one push: the device was awake for the fresh branch")
            #expect(router.scriptErrors.isEmpty, "\(router.scriptErrors)")
        }
    }

    @Test("tsilo: the caller CANCELs before the woken device registers → Missing call; the device's fresh contact gets no INVITE")
    func cancelledBeforeDeviceRegisters() async throws {
        try await Self.withRouter { fleet, router in
            let contactParams = "pn-provider=apns;pn-param=ABCD1234.\(Self.bundle);pn-prid=\(Self.remoteToken);pn-call-remote-push-interval=1"
            let instance = Self.instance(12)
            try await router.register("xena", localPort: try freeUDPPort(), pushParameters: contactParams, instance: instance)
            @Sendable func pushes() -> [RecordedRequest] { fleet.apns.requests.filter { $0.path.hasSuffix(Self.remoteToken) } }

            // The stale contact never answers; the caller gives up after 3 s of ringing pushes.
            let callerPort = try freeUDPPort()
            let caller = try router.sipp("call_cancel", user: "xena", localPort: callerPort, callId: "kam-wake-cancel-%u", pause: 3000)
            _ = try await fleet.apns.waitForRequests(count: 1, timeout: .seconds(15))
            try await router.finish(caller, "call_cancel", localPort: callerPort, timeout: .seconds(20))
            try await waitUntil("the final push") { pushes().last?.bodyText.contains("Missing call") == true }
            #expect(pushes().count >= 2, "ringing pushes, then the final one: \(pushes().count)")
            #expect(pushes().dropLast().allSatisfy { $0.header("apns-collapse-id") == "kam-wake-cancel-1" && $0.header("apns-push-type") == "alert" })
            let outcomes = try await fleet.waitForOutcomes("the final push's outcome") { $0.contains { $0.callId == "kam-wake-cancel-1" && $0.pushType == .final } }
            #expect(outcomes.filter { $0.callId == "kam-wake-cancel-1" && $0.pushType == .final }.count == 1)

            // The device registers its fresh contact too late: the cancelled call forks nothing to it.
            // (A negative: the device waits 3 s for an INVITE that must not come.)
            let freshPort = try freeUDPPort()
            let device = try router.wokenDevice("xena", localPort: freshPort, pushParameters: contactParams, instance: instance, timeout: 3)
            try await waitUntil("the fresh registration") {
                try await fleet.published("pushfleet.registrations").contains {
                    if case .registrationUpdated(let updated) = $0.event { updated.contact.contains(":\(freshPort);") } else { false }
                }
            }
            let status = try await device.waitForExit(timeout: .seconds(10))
            #expect(status != 0, "the device never got a call to answer")
            #expect(!router.sippMessages("device_wake", localPort: freshPort).contains("INVITE "))
            let events = try await Self.events(fleet, "kam-wake-cancel-1")
            #expect(events.map { $0.event?.type } == ["branch.unanswered", "call.ended"])
            #expect(events.compactMap(\.endReason) == [.cancelled])
            #expect(try await router.counters()["pushfleet_repeat_branches"] == 0)
            #expect(router.scriptErrors.isEmpty, "\(router.scriptErrors)")
        }
    }

    @Test("forked to a ringing iOS device and a desk phone: the desk phone answers → Accepted elsewhere; it declines (603) → Declined elsewhere")
    func answeredAndDeclinedElsewhere() async throws {
        try await Self.withRouter { fleet, router in
            let iosPort = try freeUDPPort(), deskPort = try freeUDPPort()
            try await router.register("ivy", localPort: iosPort,
                                      pushParameters: "pn-provider=apns;pn-param=ABCD1234.\(Self.bundle);pn-prid=\(Self.remoteToken);pn-call-remote-push-interval=1",
                                      instance: Self.instance(9))
            // The desk phone's contact has no push parameters: its branch yields no event.
            try await router.register("ivy", localPort: deskPort, pushParameters: "transport=udp", instance: Self.instance(10))
            @Sendable func pushes() -> [RecordedRequest] { fleet.apns.requests.filter { $0.path.hasSuffix(Self.remoteToken) } }

            // The desk phone rings 2.5 s, then its user picks up.
            let desk = try router.sipp("device_answer", localPort: deskPort, toRouter: false, pause: 2500)
            let callerPort = try freeUDPPort()
            let caller = try router.sipp("call", user: "ivy", localPort: callerPort, callId: "kam-desk-%u")
            try await router.finish(desk, "device_answer", localPort: deskPort)
            try await router.finish(caller, "call", localPort: callerPort)
            try await waitUntil("the Accepted elsewhere push") { pushes().last?.bodyText.contains("Accepted elsewhere") == true }
            #expect(pushes().count >= 3, "ringing pushes while the desk phone rang, then the final one: \(pushes().count)")
            let answered = try await Self.events(fleet, "kam-desk-1")
            #expect(answered.map { $0.event?.type } == ["branch.unanswered", "call.ended"])
            #expect(answered.compactMap(\.endReason) == [.answeredElsewhere])
            let afterAnswer = pushes().count

            // Next call: the desk phone declines after 1.5 s; tm cancels the iOS branch.
            let declining = try router.sipp("device_decline", localPort: deskPort, toRouter: false, pause: 1500)
            let declinedCaller = try router.sipp("call_declined", user: "ivy", localPort: callerPort, callId: "kam-decline-%u")
            try await router.finish(declining, "device_decline", localPort: deskPort)
            try await router.finish(declinedCaller, "call_declined", localPort: callerPort)
            try await waitUntil("the Declined elsewhere push") { pushes().last?.bodyText.contains("Declined elsewhere") == true }
            #expect(pushes().count >= afterAnswer + 2, "a ringing push, then the final one")
            let declined = try await Self.events(fleet, "kam-decline-1")
            #expect(declined.compactMap(\.endReason) == [.declinedElsewhere])
            #expect(router.scriptErrors.isEmpty, "\(router.scriptErrors)")
        }
    }

    @Test("MESSAGE to Android → FCM push with the text; to a token the provider rejects → invalid-token outcome")
    func messagesToAndroid() async throws {
        try await Self.withRouter(forkTimeout: 6) { fleet, router in
            let project = SandboxFleetFiles.firebaseProject
            let davePort = try freeUDPPort(), erinPort = try freeUDPPort()
            try await router.register("dave", localPort: davePort, pushParameters: "pn-provider=fcm;pn-param=\(project);pn-prid=fcm-kam-dave",
                                      instance: Self.instance(3))
            try await router.register("erin", localPort: erinPort, pushParameters: "pn-provider=fcm;pn-param=\(project);pn-prid=fcm-kam-erin",
                                      instance: Self.instance(4))
            fleet.fcm.script(token: "fcm-kam-erin", [.unregistered(timestamp: 1_700_000_000_000)])

            // Dave: pushed, wakes up, takes the MESSAGE.
            let senderPort = try freeUDPPort()
            let sender = try router.sipp("message", user: "dave", localPort: senderPort, callId: "kam-msg-%u", keys: ["text": "hello from SIPp"])
            try await waitUntil("the FCM push to dave", timeout: .seconds(15)) { fleet.fcm.requests.contains { $0.bodyText.contains("fcm-kam-dave") } }
            let dave = try router.sipp("device_message", localPort: davePort, toRouter: false)
            try await router.finish(dave, "device_message", localPort: davePort, timeout: .seconds(15))
            try await router.finish(sender, "message", localPort: senderPort, timeout: .seconds(15))
            let events = try await Self.events(fleet, "kam-msg-1")
            guard case .branchUnanswered(let branch) = events.first?.event else { Issue.record("no branch.unanswered: \(events)"); return }
            #expect(branch.method == "MESSAGE")
            #expect(branch.body?.trimmingCharacters(in: .whitespacesAndNewlines) == "hello from SIPp", "the text as sent (SIPp ends it with CRLF)")
            #expect(branch.headers["Content-Type"] == "text/plain")
            #expect(events.compactMap(\.responseStatus) == [200])

            // Erin: the provider says the token is gone; nobody takes the MESSAGE (408 at the fork timeout).
            let erinSenderPort = try freeUDPPort()
            let erinSender = try router.sipp("message", user: "erin", localPort: erinSenderPort, callId: "kam-msg-erin-%u", keys: ["text": "are you there?"])
            let outcomes = try await fleet.waitForOutcomes("erin's invalid-token outcome") { $0.contains { $0.callId == "kam-msg-erin-1" } }
            let erin = try #require(outcomes.first { $0.callId == "kam-msg-erin-1" })
            #expect(erin.result == .invalidToken)
            #expect(erin.provider == "fcm")
            #expect(erin.branch == Self.instance(4), "the branch names the binding the router should drop")
            try await router.finish(erinSender, "message", localPort: erinSenderPort, timeout: .seconds(20))
            try await waitUntil("the fork timeout ends the message") {
                try await Self.events(fleet, "kam-msg-erin-1").contains { $0.endReason == .timeout }
            }
            #expect(outcomes.first { $0.callId == "kam-msg-1" }?.result == .sent)
            #expect(router.scriptErrors.isEmpty, "\(router.scriptErrors)")
        }
    }

    @Test("a registration close to expiry gets a wake-up push; un-REGISTER and expiry write tombstones", .timeLimit(.minutes(3)))
    func registerWakeUp() async throws {
        // The first wake-up tick comes one `register-wakeup-interval` (a minute) after the worker
        // restored the registrations partitions; at 30 % of 100 s the binding is due by then.
        try await Self.withRouter(pushNotification: ["register-wakeup-interval": "1", "register-wakeup-threshold": "30"],
                                  minExpires: 1) { fleet, router in
            let project = SandboxFleetFiles.firebaseProject
            let frankPort = try freeUDPPort(), gonePort = try freeUDPPort()
            try await router.register("frank", localPort: frankPort, pushParameters: "pn-provider=fcm;pn-param=\(project);pn-prid=fcm-kam-frank",
                                      instance: Self.instance(5), expires: 100)
            // A second device registers and leaves: its binding's key gets a tombstone.
            let goneParams = "pn-provider=fcm;pn-param=\(project);pn-prid=fcm-kam-gone"
            try await router.register("frank", localPort: gonePort, pushParameters: goneParams, instance: Self.instance(6))
            try await router.register("frank", localPort: gonePort, pushParameters: goneParams, instance: Self.instance(6), expires: 0)
            let goneKey = "sip:frank@127.0.0.1|\(Self.instance(6))"
            try await waitUntil("the tombstone") { try await fleet.published("pushfleet.registrations").contains { $0.key == goneKey && $0.event == nil } }
            // A third one registers for 2 s and goes silent: usrloc's timer (every 10 s) expires it.
            try await router.register("henry", localPort: try freeUDPPort(), pushParameters: "pn-provider=fcm;pn-param=\(project);pn-prid=fcm-kam-henry",
                                      instance: Self.instance(8), expires: 2)
            let expiredKey = "sip:henry@127.0.0.1|\(Self.instance(8))"
            try await waitUntil("the expired binding's tombstone", timeout: .seconds(20)) {
                try await fleet.published("pushfleet.registrations").contains { $0.key == expiredKey && $0.event == nil }
            }

            let outcomes = try await fleet.waitForOutcomes("the wake-up push", timeout: .seconds(100)) { $0.contains { $0.pushType == .wakeup } }
            let wakeUps = outcomes.filter { $0.pushType == .wakeup }
            #expect(wakeUps.map(\.result) == [.sent])
            #expect(wakeUps.first?.registration == "sip:frank@127.0.0.1|\(Self.instance(5))")
            #expect(fleet.fcm.requests.filter { $0.bodyText.contains("fcm-kam-frank") }.count == 1)
            #expect(!fleet.fcm.requests.contains { $0.bodyText.contains("fcm-kam-gone") || $0.bodyText.contains("fcm-kam-henry") },
                    "removed and expired bindings are not woken")
            #expect(router.scriptErrors.isEmpty, "\(router.scriptErrors)")
        }
    }

    @Test("broker stopped: calls are still routed, publishing failures are counted and logged")
    func brokerDown() async throws {
        // One SIP worker process: the pings below reach the process holding the delivery reports.
        try await Self.withRouter(children: 1, messageTimeoutMs: 1500) { fleet, router in
            let devicePort = try freeUDPPort()
            try await router.register("grace", localPort: devicePort,
                                      pushParameters: "pn-provider=apns;pn-param=ABCD1234.\(Self.bundle).voip;pn-prid=\(Self.voipToken):voip",
                                      instance: Self.instance(7))
            try await waitUntil("the registration acknowledged") {
                try router.ping()
                return try await router.counters()["pushfleet_published"] == 1
            }

            fleet.broker.shutdown()
            let device = try router.sipp("device_answer", localPort: devicePort, toRouter: false, pause: 500)
            let callerPort = try freeUDPPort()
            let started = ContinuousClock.now
            let caller = try router.sipp("call", user: "grace", localPort: callerPort, callId: "kam-down-%u")
            try await router.finish(caller, "call", localPort: callerPort, timeout: .seconds(15))
            try await router.finish(device, "device_answer", localPort: devicePort, timeout: .seconds(15))
            let callDuration = ContinuousClock.now - started
            #expect(callDuration < .seconds(3), "publishing never blocks SIP: the call took \(callDuration)")

            // branch.unanswered, 180, 200, call.ended: queued, never acknowledged, counted as failed
            // once librdkafka gives up on them (message.timeout.ms).
            try await waitUntil("4 publish failures counted", timeout: .seconds(20)) {
                try router.ping()
                let counters = try await router.counters()
                return counters["pushfleet_publish_failed"] == 4 && counters["pushfleet_queued"] == 5
            }
            #expect(router.process.errors.text.contains("pushfleet: publish failed"))
            #expect(!router.process.errors.text.contains("Traceback"))
            #expect(router.process.process.isRunning)
        }
    }
}
}  // extension FleetProcesses
