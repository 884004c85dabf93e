import PushContract
@testable import PushPolicy
import Testing

@Suite struct PushStrategyTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var event: BranchUnanswered
        var options = Fixture.options()
        var pushType: PushType
        var provider = "apns"
        var token = Fixture.remoteToken
        var topic: String? = "org.linphone.phone"
        var ttl: Int
        var locKey: String
        var sound = "empty"
        var collapseId: String? = nil
        var interval = 0
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "iOS VoIP call → PushKit", event: Fixture.event(uri: Fixture.iosVoip), pushType: .voip,
             token: Fixture.voipToken, topic: "org.linphone.phone.voip", ttl: 90, locKey: "IC_MSG"),
        Case(name: "iOS both, call → PushKit", event: Fixture.event(uri: Fixture.iosBoth), pushType: .voip,
             token: Fixture.voipToken, topic: "org.linphone.phone.voip", ttl: 90, locKey: "IC_MSG"),
        Case(name: "iOS both, message → alert", event: Fixture.event("MESSAGE", uri: Fixture.iosBoth), pushType: .message,
             ttl: 604_800, locKey: "IM_MSG"),
        Case(name: "fork timeout overrides call TTL", event: Fixture.event(uri: Fixture.iosVoip, forkTimeout: 30), pushType: .voip,
             token: Fixture.voipToken, topic: "org.linphone.phone.voip", ttl: 30, locKey: "IC_MSG"),
        Case(name: "FCM call → background, empty loc-key", event: Fixture.event(uri: Fixture.android), pushType: .background,
             provider: "fcm", token: "fcm-token_1", topic: nil, ttl: 90, locKey: "", sound: ""),
        Case(name: "FCM message → background, IM TTL", event: Fixture.event("MESSAGE", uri: Fixture.android), pushType: .background,
             provider: "fcm", token: "fcm-token_1", topic: nil, ttl: 604_800, locKey: "", sound: ""),
        Case(name: "remote-only iOS call → ringing", event: Fixture.event(uri: Fixture.iosRemote),
             options: Fixture.options { $0.callRemotePushInterval = 10 }, pushType: .ringing,
             ttl: 0, locKey: "IC_MSG", collapseId: "call-1", interval: 10),
        Case(name: "pn-call-remote-push-interval overrides", event: Fixture.event(uri: Fixture.iosRemote + ";pn-call-remote-push-interval=4"),
             options: Fixture.options { $0.callRemotePushInterval = 10 }, pushType: .ringing,
             ttl: 0, locKey: "IC_MSG", collapseId: "call-1", interval: 4),
        Case(name: "ringing interval clamped to 30", event: Fixture.event(uri: Fixture.iosRemote + ";pn-call-remote-push-interval=99"),
             pushType: .ringing, ttl: 0, locKey: "IC_MSG", collapseId: "call-1", interval: 30),
        Case(name: "REFER → IM TTL, IC_SIL", event: Fixture.event("REFER", uri: Fixture.iosRemote), pushType: .message,
             ttl: 604_800, locKey: "IC_SIL"),
        Case(name: "message-time-to-live wins for IM", event: Fixture.event("REFER", uri: Fixture.iosRemote),
             options: Fixture.options { $0.messageTimeToLive = 3600 }, pushType: .message, ttl: 3600, locKey: "IC_SIL"),
        Case(name: "group-chat INVITE → message, GC_MSG, IM TTL", event: Fixture.event(uri: Fixture.iosRemote, groupChat: true, forkTimeout: 30),
             pushType: .message, ttl: 604_800, locKey: "GC_MSG"),
        Case(name: "custom call string and sound", event: Fixture.event(uri: Fixture.iosRemote + ";pn-call-str=CALL;pn-call-snd=ring.caf"),
             pushType: .ringing, ttl: 0, locKey: "CALL", sound: "ring.caf", collapseId: "call-1"),
        Case(name: "message sound for MESSAGE", event: Fixture.event("MESSAGE", uri: Fixture.iosRemote + ";pn-call-snd=ring.caf;pn-msg-snd=ding"),
             pushType: .message, ttl: 604_800, locKey: "IM_MSG", sound: "ding"),
        Case(name: "legacy apple dev", event: Fixture.event("MESSAGE", uri: "sip:b@h;pn-type=apple;app-id=org.linphone.phone.dev;pn-tok=\(Fixture.remoteToken)"),
             pushType: .message, provider: "apns.dev", ttl: 604_800, locKey: "IM_MSG"),
    ]

    @Test(arguments: cases)
    func decides(_ c: Case) throws {
        let r = try #require(Fixture.request(c.event, c.options))
        #expect(r.pushType == c.pushType)
        #expect(r.destination.provider.rawValue == c.provider)
        #expect(r.destination.token == c.token)
        #expect(r.destination.apnsTopic == c.topic)
        #expect(r.ttl == c.ttl)
        #expect(r.payload.locKey == c.locKey)
        #expect(r.payload.sound == c.sound)
        #expect(r.collapseId == c.collapseId)
        #expect(r.ringingInterval == c.interval)
    }

    @Test func destinationsCarryCredentialsSelectors() throws {
        let voip = try #require(Fixture.request(Fixture.event(uri: Fixture.iosBoth)))
        #expect(voip.destination.apnsCertificateKey == "org.linphone.phone.voip.prod")
        #expect(voip.destination.apnsTeamId == "ABCD1234")
        let dev = try #require(Fixture.request(Fixture.event("MESSAGE", uri: Fixture.iosBoth.replacingOccurrences(of: "apns;", with: "apns.dev;"))))
        #expect(dev.destination.apnsCertificateKey == "org.linphone.phone.dev")
        let fcm = try #require(Fixture.request(Fixture.event(uri: Fixture.android)))
        #expect(fcm.destination.firebaseProject == "123456789")
        #expect(fcm.dedupKey == "call-1:fcm:123456789:fcm-token_1")
        #expect(voip.dedupKey == "call-1:apns:ABCD1234.org.linphone.phone.remote&voip:\(Fixture.remoteToken):remote&\(Fixture.voipToken):voip")
    }

    @Test(arguments: [(0, nil, 0), (5, nil, 5), (5, "12", 12), (5, "-3", 0), (-4, nil, 0)] as [(Int, String?, Int)])
    func delayIsTimeoutOrPerContactOverrideClamped(timeout: Int, perContact: String?, expected: Int) throws {
        let uri = Fixture.iosVoip + (perContact.map { ";pn-timeout=\($0)" } ?? "")
        let r = try #require(Fixture.request(Fixture.event(uri: uri), Fixture.options { $0.timeout = timeout }))
        #expect(r.delay == expected)
    }

    @Test func payloadInputsComeFromTheRequest() throws {
        let e = Fixture.event("MESSAGE", uri: Fixture.iosRemote, displayName: "  \"Alice A.\" ", body: "hello", chatRoom: "sip:room@conf")
        let p = try #require(Fixture.request(e)).payload
        #expect(p == PayloadInputs(
            callId: "call-1", fromURI: "sip:alice@example.org", fromDisplayName: "Alice A.", fromTag: "ftag",
            toURI: "sip:bob@example.org", uuid: "<urn:uuid:123>", messageId: "msg-9", chatRoomAddr: "sip:room@conf",
            locKey: "IM_MSG", locArgs: "Alice A.", sound: "empty", body: "hello", event: .message,
            missingCall: "Missing call", acceptedElsewhere: "Accepted elsewhere", declinedElsewhere: "Declined elsewhere"))
        let noName = try #require(Fixture.request(Fixture.event(uri: Fixture.iosVoip, displayName: nil))).payload
        #expect(noName.locArgs == "sip:alice@example.org")
        #expect(noName.body == "" && noName.event == .call)
    }

    @Test func displayFromURIFalseBlanksTheCaller() throws {
        let p = try #require(Fixture.request(Fixture.event(uri: Fixture.iosVoip), Fixture.options { $0.displayFromURI = false })).payload
        #expect(p.fromURI == "" && p.fromDisplayName == "" && p.locArgs == "")
        #expect(p.fromTag == "ftag" && p.callId == "call-1")
    }

    @Test(arguments: [
        (Fixture.event("MESSAGE", uri: Fixture.iosVoip), Fixture.options(), OutcomeReason(.pushParams, "device has only a VoIP token: no message push")),
        (Fixture.event("REFER", uri: Fixture.iosVoip), Fixture.options(), OutcomeReason(.pushParams, "device has only a VoIP token: no message push")),
        (Fixture.event(uri: Fixture.iosVoip), Fixture.options { $0.apple = false }, OutcomeReason(.disabled, "Apple pushes are disabled (apple=false)")),
        (Fixture.event(uri: Fixture.android), Fixture.options { $0.firebase = false }, OutcomeReason(.disabled, "Firebase pushes are disabled (firebase=false)")),
        (Fixture.event(uri: "sip:b@h;pn-provider=wp;pn-param=x;pn-prid=y"), Fixture.options(), OutcomeReason(.disabled, "provider wp has no sender")),
        (Fixture.event(uri: "sip:b@h;pn-provider=apns;pn-param=T.b;pn-prid=nothex"), Fixture.options(),
         OutcomeReason(.pushParams, "invalid push parameters: pn-prid: APNs token must be 64 alphanumeric characters")),
        (Fixture.event(uri: "sip:b@h"), Fixture.options(), OutcomeReason(.pushParams, "invalid push parameters: requestUri: no push parameters")),
        (Fixture.event(uri: Fixture.iosVoip, toTag: "t"), Fixture.options(), OutcomeReason(.needsPush, "To has a tag (in-dialog request)")),
    ] as [(BranchUnanswered, PushNotificationOptions, OutcomeReason)])
    func skipsWithReason(event: BranchUnanswered, options: PushNotificationOptions, reason: OutcomeReason) {
        // The text is the outcome's `reason` as before; the code is what the metrics count.
        #expect(Fixture.skip(event, options) == reason)
    }

    @Test func externalPushURIServesEveryProvider() throws {
        let o = Fixture.options { $0.apple = false; $0.externalPushURI = "https://gw/$type" }
        #expect(Fixture.request(Fixture.event(uri: Fixture.iosVoip), o)?.pushType == .voip)
        #expect(Fixture.request(Fixture.event(uri: "sip:b@h;pn-provider=wp;pn-param=x;pn-prid=y"), o)?.pushType == .voip)
    }

    @Test(arguments: [
        (CallEndReason.answeredElsewhere, "Accepted elsewhere"), (.answered, "Accepted elsewhere"),
        (.declinedElsewhere, "Declined elsewhere"), (.cancelled, "Missing call"), (.timeout, "Missing call"),
    ])
    func finalPushStrings(reason: CallEndReason, locKey: String) throws {
        let ringing = try #require(Fixture.request(Fixture.event(uri: Fixture.iosRemote), Fixture.options { $0.callRemotePushInterval = 5 }))
        let final = try #require(ringing.finalPush(for: reason))
        #expect(final.pushType == .final && final.payload.locKey == locKey)
        #expect(final.ttl == 0 && final.collapseId == "call-1" && final.ringingInterval == 0 && final.delay == 0)
    }

    @Test func finalPushUsesPerContactStringsAndNeedsRepetition() throws {
        let uri = Fixture.iosRemote + ";pn-missing-call-str=Raté;pn-call-declined-elsewhere-str=Refusé;pn-call-accepted-elsewhere-str=Pris"
        let ringing = try #require(Fixture.request(Fixture.event(uri: uri), Fixture.options { $0.callRemotePushInterval = 5 }))
        #expect(ringing.finalPush(for: .cancelled)?.payload.locKey == "Raté")
        #expect(ringing.finalPush(for: .declinedElsewhere)?.payload.locKey == "Refusé")
        #expect(ringing.finalPush(for: .answeredElsewhere)?.payload.locKey == "Pris")
        let once = try #require(Fixture.request(Fixture.event(uri: uri)))
        #expect(once.finalPush(for: .cancelled) == nil)
        let voip = try #require(Fixture.request(Fixture.event(uri: Fixture.iosVoip)))
        #expect(voip.finalPush(for: .cancelled) == nil)
    }
}

@Suite struct HostileInputTests {
    @Test(arguments: [
        "sip:", "sip:@;;;;", "<sip:u@h", "sip:u@h;pn-provider", "sip:u@h;pn-provider=apns;pn-param=.;pn-prid=:",
        "sip:u@h;pn-provider=apns;pn-param=T.b;pn-prid=:", "sip:u@h;pn-provider=apns;pn-param=T.b;pn-prid=&",
        "sip:u@h;pn-provider=apns;pn-param=T.b.&;pn-prid=\(Fixture.remoteToken)00",
        "sip:u@h;pn-provider=apns;pn-param=T..voip;pn-prid=\(Fixture.voipToken):voip",
        "sip:u@h;pn-provider=apns;pn-param=T.b.voip;pn-prid=\(Fixture.voipToken):voip:voip",
        "sip:u@h;pn-provider=%;pn-param=%%;pn-prid=%zz", "sip:u@h;pn-tok=;pn-type=apple;app-id=.dev",
        "sip:u@h;pn-type=apple;app-id=.dev;pn-tok=\(String(repeating: "é", count: 32))",
    ])
    func oddContactsAreSkippedNeverTrapped(uri: String) {
        let reason = Fixture.skipReason(Fixture.event(uri: uri))
        #expect(reason?.hasPrefix("invalid push parameters: ") == true)
    }

    @Test(arguments: [Int.max, Int.min, 0])
    func extremeForkTimeoutsStillBuildPayloads(forkTimeout: Int) throws {
        let r = try #require(Fixture.request(Fixture.event(uri: Fixture.iosVoip, forkTimeout: forkTimeout)))
        #expect(r.ttl == max(0, forkTimeout))
        let p = try APNsPayload.build(r, options: Fixture.options(), now: EventTime(millisecondsSince1970: .max))
        #expect(Fixture.json(p.body) != nil)
        #expect(p.header("apns-expiration") == (forkTimeout > 0 ? String(Int64.max) : "0"))
        var fcm = r
        fcm.destination = PushDestination(provider: .fcm, token: "t", param: "1", prid: "t")
        let v1 = try FirebasePayload.v1(fcm, now: EventTime(millisecondsSince1970: .min))
        #expect(Fixture.json(v1.body) != nil)
    }
}
