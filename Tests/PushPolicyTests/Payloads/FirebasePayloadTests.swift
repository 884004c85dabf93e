import PushContract
@testable import PushPolicy
import Testing

@Suite struct FirebasePayloadTests {
    let t = Fixture.sendTime

    @Test func v1ExactBody() throws {
        let r = try #require(Fixture.request(Fixture.event(uri: Fixture.android)))
        let p = try FirebasePayload.v1(r, now: Fixture.now)
        #expect(String(decoding: p.body, as: UTF8.self) ==
            #"{"message":{"token":"fcm-token_1","android":{"priority":"high","ttl":"90s","data":{"uuid":"<urn:uuid:123>","from-uri":"sip:alice@example.org","display-name":"Alice","call-id":"call-1","sip-from":"Alice","loc-key":"","loc-args":"Alice","send-time":"\#(t)","custom-payload":"{}"}}}}"#)
        #expect(p.header("content-type") == "application/json")
    }

    @Test func legacyExactBodyWithTTLCapped() throws {
        let r = try #require(Fixture.request(Fixture.event("MESSAGE", uri: Fixture.android),
                                             Fixture.options { $0.messageTimeToLive = 9_999_999 }))
        let p = try FirebasePayload.legacy(r, now: Fixture.now)
        #expect(String(decoding: p.body, as: UTF8.self) ==
            #"{"to":"fcm-token_1","time_to_live":2419200,"priority":"high","data":{"uuid":"<urn:uuid:123>","from-uri":"sip:alice@example.org","display-name":"Alice","call-id":"call-1","sip-from":"Alice","loc-key":"","loc-args":"Alice","send-time":"\#(t)","custom-payload":"{}"}}"#)
        #expect(p.path == "/fcm/send")
        let v1 = try FirebasePayload.v1(r, now: Fixture.now)
        #expect(((Fixture.json(v1.body)?["message"] as? [String: Any])?["android"] as? [String: Any])?["ttl"] as? String == "2419200s")
    }

    @Test func hostileAndOversizeValuesStayValidJSON() throws {
        let h = Fixture.hostile + String(repeating: "ü", count: 3000)
        let r = try #require(Fixture.request(Fixture.event(uri: Fixture.android, displayName: h, fromURI: h, callId: Fixture.hostile)))
        for p in [try FirebasePayload.v1(r, now: Fixture.now), try FirebasePayload.legacy(r, now: Fixture.now)] {
            #expect(p.body.count <= FirebasePayload.maxBodyBytes)
            let json = try #require(Fixture.json(p.body))
            let data = try #require((json["data"] ?? ((json["message"] as? [String: Any])?["android"] as? [String: Any])?["data"]) as? [String: Any])
            #expect(data["call-id"] as? String == Fixture.hostile)
            #expect(h.hasPrefix(try #require(data["display-name"] as? String)))
        }
    }
}
