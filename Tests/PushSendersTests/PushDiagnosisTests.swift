import PushContract
import PushPolicy
import Testing
@testable import PushSenders

/// The one-line diagnoses of `pushfleet push`: each usual mistake from the answer it gets.
@Suite struct PushDiagnosisTests {
    static let now = EventTime(millisecondsSince1970: 1_700_000_000_000)
    static func certificate(notAfter: EventTime = EventTime(millisecondsSince1970: 1_800_000_000_000),
                            uid: String = "com.example.other") -> SenderCredential {
        .apnsCertificate(APNsCertificateInfo(name: "org.linphone.phone.prod", path: "/etc/flexisip/apn/org.linphone.phone.prod.pem",
                                             notAfter: notAfter, subject: "UID=\(uid), CN=Apple Push Services: \(uid)", topic: uid))
    }

    @Test("an accepted push has no diagnosis; nor has an answer with no usual cause")
    func accepted() {
        #expect(PushDiagnosis.diagnose(.init(provider: .apns, status: 200, reason: nil)) == nil)
        #expect(PushDiagnosis.diagnose(.init(provider: .fcm, status: 200, reason: nil)) == nil)
        #expect(PushDiagnosis.diagnose(.init(provider: .apns, status: 400, reason: "BadPriority")) == nil)
    }

    @Test("BadDeviceToken: wrong environment, naming the other provider to try", arguments: [(PushProvider.apns, "apns.dev"), (.apnsDev, "apns")])
    func wrongEnvironment(provider: PushProvider, other: String) throws {
        let line = try #require(PushDiagnosis.diagnose(.init(provider: provider, status: 400, reason: "BadDeviceToken")))
        #expect(line.hasPrefix("wrong environment?"))
        #expect(line.contains("try pn-provider=\(other)"), "\(line)")
    }

    @Test("TopicDisallowed with a certificate: the topic sent and the certificate's subject and topics")
    func topicNotMatchingCertificate() throws {
        let line = try #require(PushDiagnosis.diagnose(.init(provider: .apns, status: 400, reason: "TopicDisallowed",
                                                             topic: "org.linphone.phone", credential: Self.certificate())))
        #expect(line.hasPrefix("topic not matching the certificate: apns-topic org.linphone.phone"))
        #expect(line.contains("UID=com.example.other"))
        #expect(line.contains("may push com.example.other, com.example.other.voip"))
    }

    @Test("DeviceTokenNotForTopic with a .p8 key: token for another app, naming the key's team")
    func tokenForAnotherAppAPNs() throws {
        let line = try #require(PushDiagnosis.diagnose(.init(provider: .apns, status: 400, reason: "DeviceTokenNotForTopic",
                                                             topic: "org.linphone.phone.voip",
                                                             credential: .apnsToken(teamId: "ABCD1234EF", keyId: "KEY1234567"))))
        #expect(line.hasPrefix("token for another app: this token was not issued for apns-topic org.linphone.phone.voip"))
        #expect(line.contains("KEY1234567") && line.contains("ABCD1234EF"))
    }

    @Test("an expired certificate is caught before sending; a valid one or a token key is not")
    func expiredCertificate() throws {
        let expired = Self.certificate(notAfter: Self.now.adding(seconds: -86_400))
        let line = try #require(PushDiagnosis.beforeSending(expired, now: Self.now))
        #expect(line.hasPrefix("expired certificate: /etc/flexisip/apn/org.linphone.phone.prod.pem expired on 2023-11-13T22:13:20"))
        #expect(line.contains("nothing was sent"))
        #expect(PushDiagnosis.beforeSending(Self.certificate(), now: Self.now) == nil)
        #expect(PushDiagnosis.beforeSending(.apnsToken(teamId: "T", keyId: "K"), now: Self.now) == nil)
        #expect(PushDiagnosis.beforeSending(nil, now: Self.now) == nil)
    }

    @Test("FCM: SENDER_ID_MISMATCH is a token of another project; UNREGISTERED a dead token; INVALID_ARGUMENT not a token of this app")
    func firebase() throws {
        let account = SenderCredential.firebaseServiceAccount(project: "123456789", projectId: "pushfleet-sandbox", clientEmail: "a@b")
        let mismatch = try #require(PushDiagnosis.diagnose(.init(provider: .fcm, status: 403, reason: "SENDER_ID_MISMATCH", credential: account)))
        #expect(mismatch.hasPrefix("token for another app: this registration token belongs to another Firebase project than project pushfleet-sandbox (pn-param 123456789)"))
        let dead = try #require(PushDiagnosis.diagnose(.init(provider: .fcm, status: 404, reason: "UNREGISTERED")))
        #expect(dead.hasPrefix("dead token"))
        let invalid = try #require(PushDiagnosis.diagnose(.init(provider: .fcm, status: 400, reason: "INVALID_ARGUMENT: The registration token is not a valid FCM registration token")))
        #expect(invalid.hasPrefix("token for another app or not a token"))
        let legacy = try #require(PushDiagnosis.diagnose(.init(provider: .fcm, status: 200, reason: "MismatchSenderId",
                                                               credential: .firebaseServerKey(project: "42"))))
        #expect(legacy.contains("another Firebase project than project 42"))
    }

    @Test("APNs Unregistered, InvalidProviderToken and a generic gateway's refusal")
    func others() throws {
        #expect(PushDiagnosis.diagnose(.init(provider: .apns, status: 410, reason: "Unregistered"))?.hasPrefix("dead token") == true)
        let key = try #require(PushDiagnosis.diagnose(.init(provider: .apns, status: 403, reason: "InvalidProviderToken",
                                                            credential: .apnsToken(teamId: "TEAM123456", keyId: "KEY1234567"))))
        #expect(key.contains("kid KEY1234567, team TEAM123456"))
        #expect(PushDiagnosis.diagnose(.init(provider: PushProvider(rawValue: "generic"), status: 404, reason: "HTTP 404")) == "the gateway (external-push-uri) refused the push with HTTP 404")
    }

    @Test("authorization values are redacted; a JWT keeps only its header, which names the key")
    func redaction() {
        let header = JWT.base64URL(#"{"alg":"ES256","kid":"KEY1234567"}"#.utf8)
        #expect(ExchangeTrace.redacted(authorization: "bearer \(header).eyJpc3MiOiJUIn0.c2lnbmF0dXJl")
                == #"bearer <redacted JWT, header {"alg":"ES256","kid":"KEY1234567"}>"#)
        #expect(ExchangeTrace.redacted(authorization: "Bearer ya29.sandbox-1-secret") == "Bearer <redacted>")
        #expect(ExchangeTrace.redacted(authorization: "key=AAAAsecret") == "key=<redacted>")
        #expect(ExchangeTrace.redacted(authorization: "Basic dXNlcjpwdw==") == "<redacted>")
    }
}
