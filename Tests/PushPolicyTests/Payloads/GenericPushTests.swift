import PushContract
@testable import PushPolicy
import Testing

@Suite struct GenericPushTests {
    static let allVariables = "https://gw.example/$type/$event?tok=$token&key=$api-key&app=$app-id&name=$from-name&from=$from-uri"
        + "&tag=$from-tag&to=$to-uri&cid=$call-id&snd=$sound&msg=$msgid&uid=$uid&again=$from-uri"

    @Test func parsesEveryVariableIncludingRepeats() throws {
        let t = try GenericPushTemplate(uri: Self.allVariables, method: .get)
        #expect(t.variables == [.type, .event, .token, .apiKey, .appId, .fromName, .fromURI, .fromTag, .toURI, .callId,
                                .sound, .msgid, .uid, .fromURI])
        #expect(try GenericPushTemplate(uri: "http://x/$unknown$callid", method: .get).variables.isEmpty)
        #expect(throws: PayloadError.self) { try GenericPushTemplate(uri: "", method: .get) }
    }

    @Test func getSubstitutesEveryOccurrence() throws {
        let t = try GenericPushTemplate(uri: Self.allVariables, method: .get)
        let o = Fixture.options { $0.firebaseProjectsAPIKeys = [ProjectCredential(project: "123456789", value: "AIza-key")] }
        let r = try #require(Fixture.request(Fixture.event(uri: Fixture.android), o))
        let p = t.payload(for: r, options: o)
        #expect(p.method == "GET")
        #expect(p.path == "https://gw.example/firebase/call?tok=fcm-token_1&key=AIza-key&app=123456789&name=Alice"
            + "&from=sip%3Aalice%40example.org&tag=ftag&to=sip%3Abob%40example.org&cid=call-1&snd=&msg=msg-9"
            + "&uid=%3Curn%3Auuid%3A123%3E&again=sip%3Aalice%40example.org")
        #expect(p.body.isEmpty && p.headers.isEmpty)
    }

    @Test(arguments: [(Fixture.iosVoip, "apple", "org.linphone.phone.voip.prod"), ("sip:b@h;pn-provider=wp;pn-param=w;pn-prid=y", "wp", "w")])
    func typeAndAppId(uri: String, type: String, appId: String) throws {
        let o = Fixture.options { $0.externalPushURI = "x" }
        let r = try #require(Fixture.request(Fixture.event(uri: uri), o))
        let p = try GenericPushTemplate(uri: "/$type/$app-id/$api-key", method: .get).payload(for: r, options: o)
        #expect(p.path == "/\(type)/\(GenericPushTemplate.percentEncoded(appId))/")
    }

    @Test func postWithHostileValuesAddsNoSegmentParameterOrHeader() throws {
        let h = Fixture.hostile
        let template = "https://gw.example/p/$from-name?a=$from-uri&b=$call-id&c=$from-tag&d=$to-uri&e=$from-name"
        let t = try GenericPushTemplate(uri: template, method: .post)
        var e = Fixture.event("MESSAGE", uri: Fixture.iosRemote, displayName: h, fromURI: h, callId: h, body: "Bonjour \"ü\"\r\n&")
        e.from.tag = h
        e.to.uri = h
        let r = try #require(Fixture.request(e))
        let p = t.payload(for: r, options: Fixture.options())
        let url = try #require(p.path)
        #expect(p.method == "POST")
        #expect(url.filter { $0 == "/" }.count == template.filter { $0 == "/" }.count)
        #expect(url.filter { $0 == "&" }.count == template.filter { $0 == "&" }.count)
        #expect(url.filter { $0 == "?" || $0 == "#" || $0 == "=" }.count == template.filter { $0 == "?" || $0 == "=" }.count)
        #expect(url.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F })
        let query = url.split(separator: "?")[1].split(separator: "&").map { String($0.split(separator: "=")[1]) }
        #expect(query.map(SIPURI.percentDecode) == [h, h, h, h, h])
        #expect(p.body == Array("Bonjour \"ü\"\r\n&".utf8))
        #expect(p.headers == [HeaderField("content-type", "text/plain")])
    }

    @Test(arguments: [("a-z.A_Z~09", "a-z.A_Z~09"), ("a b", "a%20b"), ("é", "%C3%A9"), ("/?&=#%+;", "%2F%3F%26%3D%23%25%2B%3B")])
    func percentEncodesAllButUnreserved(raw: String, encoded: String) {
        #expect(GenericPushTemplate.percentEncoded(raw) == encoded)
    }
}
