import PushContract
@testable import PushPolicy
import Testing

@Suite struct APNsPayloadTests {
    let t = Fixture.sendTime

    @Test func pushKitCallExactBody() throws {
        let r = try #require(Fixture.request(Fixture.event(uri: Fixture.iosVoip)))
        let p = try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now)
        #expect(String(decoding: p.body, as: UTF8.self) ==
            #"{"aps":{"sound":"","loc-key":"IC_MSG","loc-args":["Alice"],"call-id":"call-1","uuid":"<urn:uuid:123>","send-time":"\#(t)"},"from-uri":"sip:alice@example.org","display-name":"Alice","pn_ttl":90,"customPayload":{}}"#)
        #expect(p.path == "/3/device/\(Fixture.voipToken)")
        #expect(p.headers == [
            HeaderField("apns-expiration", "1700000090"), HeaderField("apns-topic", "org.linphone.phone.voip"),
            HeaderField("apns-push-type", "voip"), HeaderField("apns-priority", "10"),
        ])
    }

    @Test func backgroundExactBodyAndPriority5() throws {
        var r = try #require(Fixture.request(Fixture.event("MESSAGE", uri: Fixture.iosRemote)))
        r.pushType = .background
        let p = try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now)
        #expect(String(decoding: p.body, as: UTF8.self) ==
            #"{"aps":{"badge":0,"content-available":1,"loc-key":"IM_MSG","loc-args":["Alice"],"call-id":"call-1","uuid":"<urn:uuid:123>","send-time":"\#(t)"},"from-uri":"sip:alice@example.org","display-name":"Alice","pn_ttl":604800,"customPayload":{}}"#)
        #expect(p.header("apns-push-type") == "background")
        #expect(p.header("apns-priority") == "5")
        #expect(p.header("apns-topic") == "org.linphone.phone")
        #expect(p.header("apns-expiration") == "1700604800")
    }

    @Test func alertWithNoBadgeAndChatRoomExactBody() throws {
        let e = Fixture.event(uri: Fixture.iosRemote, groupChat: true, chatRoom: "sip:chatroom-x@conf.example.org")
        let r = try #require(Fixture.request(e))
        let p = try APNsPayload.build(r, options: Fixture.options { $0.noBadge = true }, now: Fixture.now)
        #expect(String(decoding: p.body, as: UTF8.self) ==
            #"{"aps":{"alert":{"loc-key":"GC_MSG","loc-args":["Alice"]},"sound":"empty","mutable-content":1,"badge":0},"from-uri":"sip:alice@example.org","display-name":"Alice","call-id":"call-1","pn_ttl":604800,"uuid":"<urn:uuid:123>","send-time":"\#(t)","chat-room-addr":"sip:chatroom-x@conf.example.org","customPayload":{}}"#)
        #expect(p.header("apns-push-type") == "alert" && p.header("apns-priority") == "10")
        let badged = try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now)
        #expect(Fixture.json(badged.body).flatMap { ($0["aps"] as? [String: Any])?["badge"] as? Int } == 1)
    }

    @Test func ringingPushHasTTL0AndCollapseId() throws {
        let r = try #require(Fixture.request(Fixture.event(uri: Fixture.iosRemote)))
        let p = try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now)
        #expect(p.header("apns-expiration") == "0")
        #expect(p.header("apns-collapse-id") == "call-1")
        #expect(p.header("apns-push-type") == "alert")
        #expect(Fixture.json(p.body)?["pn_ttl"] as? Int == 0)
    }

    @Test(arguments: [
        ("abc@host", "abc@host"),
        ("a b\r\nX: y", "a%20b%0D%0AX:%20y"),
        ("%41é", "%2541%C3%A9"),
    ])
    func collapseIdIsHeaderSafe(callId: String, expected: String) {
        #expect(APNsPayload.collapseId(callId) == expected)
    }

    @Test func longCollapseIdIsCappedButStable() {
        let a = APNsPayload.collapseId(String(repeating: "x", count: 100) + "a")
        let b = APNsPayload.collapseId(String(repeating: "x", count: 100) + "b")
        #expect(a.utf8.count == 64 && b.utf8.count == 64 && a != b)
        #expect(a == APNsPayload.collapseId(String(repeating: "x", count: 100) + "a"))
    }

    @Test(arguments: [PushType.voip, .background, .message, .ringing, .final])
    func hostileStringsInEveryFieldStayValidJSON(type: PushType) throws {
        let h = Fixture.hostile
        let uri = Fixture.iosBoth + ";pn-call-str=\(GenericPushTemplate.percentEncoded(h));pn-msg-snd=\(GenericPushTemplate.percentEncoded(h))"
        let e = Fixture.event("MESSAGE", uri: uri, displayName: h, fromURI: h, callId: h, chatRoom: h)
        var r = try #require(Fixture.request(e))
        r.pushType = type
        r.payload.uuid = h
        r.payload.locKey = h
        let p = try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now)
        let json = try #require(Fixture.json(p.body))
        #expect(json["from-uri"] as? String == h)
        #expect(json["display-name"] as? String == h)
        let aps = try #require(json["aps"] as? [String: Any])
        #expect((aps["call-id"] as? String ?? json["call-id"] as? String) == h)
        #expect((aps["uuid"] as? String ?? json["uuid"] as? String) == h)
    }

    @Test(arguments: [(PushType.voip, 5120), (.message, 4096), (.background, 4096)])
    func oversizeFieldsAreTruncatedUTF8Safely(type: PushType, limit: Int) throws {
        let long = String(repeating: "é😀\"", count: 2000)
        var r = try #require(Fixture.request(Fixture.event(uri: Fixture.iosBoth, displayName: long, fromURI: "sip:" + long)))
        r.pushType = type
        let p = try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now)
        #expect(p.body.count <= limit && p.body.count > limit - 16)
        let json = try #require(Fixture.json(p.body))
        let name = try #require(json["display-name"] as? String)
        #expect(long.hasPrefix(name) && name.count < long.count)
        #expect(json["call-id"] as? String ?? (json["aps"] as? [String: Any])?["call-id"] as? String == "call-1")
    }

    @Test func hugeCallIdIsAnErrorNotAnInvalidBody() throws {
        var r = try #require(Fixture.request(Fixture.event(uri: Fixture.iosVoip)))
        r.payload.callId = String(repeating: "c", count: 6000)
        #expect(throws: PayloadError.self) { try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now) }
    }

    @Test func invalidTokenOrMissingTopicIsAnError() throws {
        var r = try #require(Fixture.request(Fixture.event(uri: Fixture.iosVoip)))
        r.destination.token = "../../x"
        #expect(throws: PayloadError(field: "token", problem: "APNs token must be 64 alphanumeric characters")) {
            try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now)
        }
        r.destination.token = Fixture.voipToken
        r.destination.apnsTopic = nil
        #expect(throws: PayloadError.self) { try APNsPayload.build(r, options: Fixture.options(), now: Fixture.now) }
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01 00:00:00"), (951_782_400_000, "2000-02-29 00:00:00"),
        (1_700_000_000_999, "2023-11-14 22:13:20"), (4_102_444_799_000, "2099-12-31 23:59:59"), (-1, "1969-12-31 23:59:59"),
    ])
    func sendTimeIsUTC(ms: Int64, expected: String) {
        #expect(SendTime.format(EventTime(millisecondsSince1970: ms)) == expected)
    }
}
