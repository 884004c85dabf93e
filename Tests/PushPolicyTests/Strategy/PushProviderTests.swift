import PushContract
import PushPolicy
import Testing

/// The provider is parsed once from the contact's text and printed back byte for byte.
@Suite struct PushProviderTests {
    @Test(arguments: [
        ("apns", PushProvider.apns), ("apns.dev", .apnsDev), ("fcm", .fcm),
        ("wp", .other("wp")), ("wp10", .other("wp10")), ("APNS", .other("APNS")), ("apns.prod", .other("apns.prod")),
    ])
    func parsesAndPrintsBack(text: String, provider: PushProvider) {
        #expect(PushProvider(rawValue: text) == provider)
        #expect(PushProvider(rawValue: text).rawValue == text, "the wire keeps the contact's bytes")
        #expect("\(provider)" == text)
    }

    @Test func apnsFacts() {
        #expect(PushProvider.apns.isAPNs && PushProvider.apnsDev.isAPNs)
        #expect(!PushProvider.fcm.isAPNs && !PushProvider(rawValue: "wp").isAPNs)
        #expect(PushProvider.apns.apnsRelease == "prod" && PushProvider.apnsDev.apnsRelease == "dev")
        #expect(PushProvider.fcm.apnsRelease == nil)
    }

    @Test("contacts, legacy ones and pushfleet push flags give the same provider")
    func enteredOnce() throws {
        let token = String(repeating: "ab", count: 32)
        #expect(try PushParameters(requestUri: "sip:u@h;pn-provider=apns.dev;pn-param=T.org.app;pn-prid=\(token)").provider == .apnsDev)
        #expect(try PushParameters(requestUri: "sip:u@h;pn-type=apple;app-id=org.app.dev;pn-tok=\(token)").provider == .apnsDev)
        #expect(try PushParameters(requestUri: "sip:u@h;pn-type=fcm;app-id=9;pn-tok=t").provider == .fcm)
        #expect(try PushParameters(provider: "fcm", param: "9", prid: "t").provider == .fcm)
        let wp = try PushParameters(requestUri: "sip:u@h;pn-provider=wp;pn-param=x;pn-prid=y")
        #expect(wp.provider == .other("wp") && wp.device(aor: "sip:u@h", instanceId: nil).provider == "wp")
    }
}
