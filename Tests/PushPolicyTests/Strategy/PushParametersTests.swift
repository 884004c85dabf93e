@testable import PushPolicy
import Testing

@Suite struct PushParametersTests {
    let r = Fixture.remoteToken, v = Fixture.voipToken

    struct Valid: Sendable, CustomTestStringConvertible {
        var params: String
        var provider: String
        var param: String
        var tokens: [PushToken]
        var bundle: String?
        var legacy = false
        var testDescription: String { params }
    }

    static let valid: [Valid] = {
        let r = Fixture.remoteToken, v = Fixture.voipToken
        return [
            Valid(params: "pn-provider=apns;pn-param=TEAM.org.app;pn-prid=\(r)", provider: "apns", param: "TEAM.org.app",
                  tokens: [PushToken(service: .remote, token: r)], bundle: "org.app"),
            Valid(params: "pn-provider=apns.dev;pn-param=TEAM.org.app.voip;pn-prid=\(v)", provider: "apns.dev",
                  param: "TEAM.org.app.voip", tokens: [PushToken(service: .voip, token: v)], bundle: "org.app"),
            Valid(params: "pn-provider=apns;pn-param=TEAM.org.app.remote&voip;pn-prid=\(r):remote&\(v):voip", provider: "apns",
                  param: "TEAM.org.app.remote&voip",
                  tokens: [PushToken(service: .remote, token: r), PushToken(service: .voip, token: v)], bundle: "org.app"),
            // Services and tokens in different orders, `&` and `:` percent-encoded.
            Valid(params: "pn-provider=apns;pn-param=TEAM.org.app.voip%26remote;pn-prid=\(v)%3Avoip%26\(r)%3Aremote", provider: "apns",
                  param: "TEAM.org.app.voip&remote",
                  tokens: [PushToken(service: .voip, token: v), PushToken(service: .remote, token: r)], bundle: "org.app"),
            Valid(params: "pn-provider=apns;pn-param=TEAM.org.app.voip;pn-prid=\(v):voip", provider: "apns", param: "TEAM.org.app.voip",
                  tokens: [PushToken(service: .voip, token: v)], bundle: "org.app"),
            Valid(params: "pn-provider=fcm;pn-param=1234;pn-prid=a:b/c", provider: "fcm", param: "1234",
                  tokens: [PushToken(service: .remote, token: "a:b/c")]),
            Valid(params: "pn-provider=wp;pn-param=x;pn-prid=https%3A%2F%2Fwns", provider: "wp", param: "x",
                  tokens: [PushToken(service: .remote, token: "https://wns")]),
            // Legacy mapping.
            Valid(params: "pn-type=apple;app-id=org.linphone.phone.dev;pn-tok=\(r)", provider: "apns.dev",
                  param: "ABCD1234.org.linphone.phone", tokens: [PushToken(service: .remote, token: r)], bundle: "org.linphone.phone", legacy: true),
            Valid(params: "pn-type=apple;app-id=org.linphone.phone.prod;pn-tok=\(r)", provider: "apns",
                  param: "ABCD1234.org.linphone.phone", tokens: [PushToken(service: .remote, token: r)], bundle: "org.linphone.phone", legacy: true),
            Valid(params: "pn-type=apple;app-id=org.linphone.phone.voip.prod;pn-tok=\(v)", provider: "apns",
                  param: "ABCD1234.org.linphone.phone.voip", tokens: [PushToken(service: .voip, token: v)], bundle: "org.linphone.phone", legacy: true),
            // An app-id without a release suffix loses its last segment, as Flexisip (`rfind('.')`);
            // one without a `.` is kept whole.
            Valid(params: "pn-type=apple;app-id=org.linphone.phone;pn-tok=\(r)", provider: "apns",
                  param: "ABCD1234.org.linphone", tokens: [PushToken(service: .remote, token: r)], bundle: "org.linphone", legacy: true),
            Valid(params: "pn-type=apple;app-id=org.linphone.phone.voip.beta;pn-tok=\(v)", provider: "apns",
                  param: "ABCD1234.org.linphone.phone.voip", tokens: [PushToken(service: .voip, token: v)], bundle: "org.linphone.phone", legacy: true),
            Valid(params: "pn-type=apple;app-id=linphone;pn-tok=\(r)", provider: "apns",
                  param: "ABCD1234.linphone", tokens: [PushToken(service: .remote, token: r)], bundle: "linphone", legacy: true),
            // APNs tokens: Flexisip's alphabet (64 alphanumeric characters), not only hex.
            Valid(params: "pn-provider=apns;pn-param=TEAM.org.app;pn-prid=\(String(repeating: "zZ9", count: 21))x", provider: "apns",
                  param: "TEAM.org.app", tokens: [PushToken(service: .remote, token: String(repeating: "zZ9", count: 21) + "x")], bundle: "org.app"),
            Valid(params: "pn-type=android;app-id=99;pn-tok=t", provider: "fcm", param: "99", tokens: [PushToken(service: .remote, token: "t")], legacy: true),
            Valid(params: "pn-type=firebase;app-id=99;pn-tok=t", provider: "fcm", param: "99", tokens: [PushToken(service: .remote, token: "t")], legacy: true),
            Valid(params: "pn-type=google;app-id=99;pn-tok=t", provider: "fcm", param: "99", tokens: [PushToken(service: .remote, token: "t")], legacy: true),
            Valid(params: "pn-type=wp10;app-id=w;pn-tok=t", provider: "wp10", param: "w", tokens: [PushToken(service: .remote, token: "t")], legacy: true),
        ]
    }()

    @Test(arguments: valid)
    func parses(_ c: Valid) throws {
        let p = try PushParameters(requestUri: "sip:u@h;transport=tcp;" + c.params)
        #expect(p.provider.rawValue == c.provider)
        #expect(p.param == c.param)
        #expect(p.tokens == c.tokens)
        #expect(p.apnsApp?.bundleId == c.bundle)
        #expect(p.isLegacy == c.legacy)
    }

    struct Invalid: Sendable, CustomTestStringConvertible {
        var uri: String
        var parameter: String
        var reason: String
        var testDescription: String { uri }
    }

    static let invalid: [Invalid] = {
        let r = Fixture.remoteToken, v = Fixture.voipToken
        return [
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b.remote&voip;pn-prid=\(r)", parameter: "pn-prid",
                    reason: "pn-param declares 2 service(s), whereas there is/are 1 token(s) in pn-prid"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b;pn-prid=\(r):remote&\(v):voip", parameter: "pn-prid",
                    reason: "pn-param declares 1 service(s), whereas there is/are 2 token(s) in pn-prid"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b.remote&voip;pn-prid=\(r)&\(v)", parameter: "pn-prid",
                    reason: "invalid syntax (several tokens need token:service)"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b.voip;pn-prid=\(v):remote", parameter: "pn-prid",
                    reason: "service mismatch between pn-param and pn-prid"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b.remote&voip;pn-prid=\(r):voip&\(v):voip", parameter: "pn-prid",
                    reason: "service mismatch between pn-param and pn-prid"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b;pn-prid=\(r):push", parameter: "pn-prid",
                    reason: "invalid syntax (service must be voip or remote)"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b;pn-prid=abc", parameter: "pn-prid",
                    reason: "APNs token must be 64 alphanumeric characters"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b;pn-prid=\(String(repeating: "z-", count: 32))", parameter: "pn-prid",
                    reason: "APNs token must be 64 alphanumeric characters"),
            Invalid(uri: "sip:u@h;pn-type=apple;app-id=a.b.prod;pn-tok=\(r)00", parameter: "pn-tok",
                    reason: "APNs token must be 64 alphanumeric characters"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=nodot;pn-prid=\(r)", parameter: "pn-param",
                    reason: "invalid syntax, expected TEAMID.bundle.id[.services]"),
            Invalid(uri: "sip:u@h;pn-provider=apns;pn-param=T.b", parameter: "pn-prid", reason: "missing or empty"),
            Invalid(uri: "sip:u@h;pn-provider=;pn-param=T.b;pn-prid=x", parameter: "pn-provider", reason: "missing or empty"),
            Invalid(uri: "sip:u@h;pn-provider=fcm;pn-prid=x", parameter: "pn-param", reason: "missing or empty"),
            Invalid(uri: "sip:u@h;pn-tok=x;app-id=a", parameter: "pn-type", reason: "missing or empty"),
            Invalid(uri: "sip:u@h;pn-provider=acme;pn-param=p;pn-prid=x", parameter: "pn-provider", reason: "'acme' provider not supported"),
            Invalid(uri: "sip:u@h;transport=tls", parameter: "requestUri", reason: "no push parameters"),
            Invalid(uri: "tel:+331234", parameter: "requestUri", reason: "not a SIP URI"),
        ]
    }()

    @Test(arguments: invalid)
    func rejects(_ c: Invalid) {
        #expect(throws: PushParameterError(parameter: c.parameter, reason: c.reason)) {
            try PushParameters(requestUri: c.uri)
        }
    }

    @Test func stringsHaveFlexisipDefaults() throws {
        let p = try PushParameters(requestUri: Fixture.iosRemote)
        let s = p.strings
        #expect([s.call, s.message, s.groupChat, s.callSound, s.messageSound] == ["IC_MSG", "IM_MSG", "GC_MSG", "empty", "empty"])
        #expect([s.missingCall, s.acceptedElsewhere, s.declinedElsewhere] == ["Missing call", "Accepted elsewhere", "Declined elsewhere"])
        #expect(p.timeout == nil && p.callRemotePushInterval == nil)
    }

    @Test func perContactStringsAndOverridesArePercentDecoded() throws {
        let p = try PushParameters(requestUri: Fixture.iosRemote
            + ";pn-call-str=Call%20from%20%25s;pn-msg-str=M;pn-groupchat-str=G;pn-call-snd=ring.caf;pn-msg-snd=msg.caf"
            + ";pn-missing-call-str=Missed%21;pn-call-accepted-elsewhere-str=Taken;pn-call-declined-elsewhere-str=No"
            + ";pn-timeout=7;pn-call-remote-push-interval=3")
        let s = p.strings
        #expect([s.call, s.message, s.groupChat, s.callSound, s.messageSound] == ["Call from %s", "M", "G", "ring.caf", "msg.caf"])
        #expect([s.missingCall, s.acceptedElsewhere, s.declinedElsewhere] == ["Missed!", "Taken", "No"])
        #expect(p.timeout == 7 && p.callRemotePushInterval == 3)
    }

    @Test(arguments: ["abc", "", "99999999999999999999", "1e3"])
    func malformedNumbersFallBackToOptions(_ text: String) throws {
        let p = try PushParameters(requestUri: Fixture.iosRemote + ";pn-timeout=\(text);pn-call-remote-push-interval=\(text)")
        #expect(p.timeout == nil && p.callRemotePushInterval == nil)
    }
}
