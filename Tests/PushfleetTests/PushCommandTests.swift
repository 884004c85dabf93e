import Crypto
import Foundation
import PushSandbox
import Testing

/// The providers `pushfleet push` talks to in these tests: two sandbox APNs (production and
/// development, so a token of one environment really is unknown to the other), FCM with
/// OAuth, and a generic HTTP/2 gateway; the fleet's credential files, a .p8 key, and configs
/// pointing at them (a second one with `external-push-uri`).
final class PushCommandFixture: Sendable {
    static let team = "TEAM123456"
    static let keyId = "KEY1234567"
    static let devToken = String(repeating: "d0", count: 32)
    static let prodToken = String(repeating: "a1", count: 32)
    /// Secrets that must never appear in the output: an FCM legacy server key, and a gateway
    /// key substituted into the generic URL as `$api-key`.
    static let legacyProject = "987654321"
    static let legacyKey = "legacy-secret-server-key"
    static let gatewayProject = "555"
    static let gatewayKey = "gateway-secret-key"

    let apns: APNsSandbox
    let apnsDev: APNsSandbox
    let fcm: FCMSandbox
    let generic: GenericPushSandbox
    let files: SandboxFleetFiles
    let configPath: String
    let genericConfigPath: String

    init() async throws {
        let ca = try SandboxCertificateAuthority.generate()
        let key = P256.Signing.PrivateKey()
        apns = try APNsSandbox(ca: ca, tokenKeys: [Self.keyId: (teamId: Self.team, key: key.publicKey)])
        try await apns.start()
        apnsDev = try APNsSandbox(ca: ca)
        try await apnsDev.start()
        fcm = try FCMSandbox(ca: ca)
        try await fcm.start()
        generic = try GenericPushSandbox(version: .http2, tls: .tls(ca.issueServerCredential()))
        try await generic.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-push-\(UUID().uuidString.prefix(8))")
        files = try SandboxFleetFiles(directory: directory, ca: ca, fcm: fcm)
        // An expired certificate, and a file named for one app holding another app's certificate.
        try ca.issueClientCredential(topic: "com.example.expired", notBefore: Date() - 86_400 * 400, notAfter: Date() - 86_400).combinedPEM
            .write(toFile: files.certificateDirectory + "/com.example.expired.prod.pem", atomically: true, encoding: .utf8)
        try ca.issueClientCredential(topic: "com.example.other").combinedPEM
            .write(toFile: files.certificateDirectory + "/com.example.mismatch.prod.pem", atomically: true, encoding: .utf8)
        let keyPath = directory.appendingPathComponent("AuthKey_\(Self.keyId).p8").path
        try key.pemRepresentation.write(toFile: keyPath, atomically: true, encoding: .utf8)
        let fleet = ["apple-dev-push-uri": apnsDev.baseURL, "apple-token-keys": "\(Self.team):\(Self.keyId):\(keyPath)"]
        // No broker: `pushfleet push` needs none, and this address would refuse a connection.
        try files.writeConfig(bootstrap: "127.0.0.1:1", apns: apns, fcm: fcm,
                              pushNotification: ["external-push-uri": "\(generic.baseURL)/push?token=$token&call=$call-id&type=$type&key=$api-key",
                                                 "firebase-projects-api-keys": "\(Self.gatewayProject):\(Self.gatewayKey)"],
                              pushfleet: fleet)
        genericConfigPath = directory.appendingPathComponent("generic.conf").path
        try FileManager.default.moveItem(atPath: files.configFile, toPath: genericConfigPath)
        fcm.addLegacyKey(Self.legacyKey)
        try files.writeConfig(bootstrap: "127.0.0.1:1", apns: apns, fcm: fcm,
                              pushNotification: ["firebase-projects-api-keys": "\(Self.legacyProject):\(Self.legacyKey)"], pushfleet: fleet)
        configPath = files.configFile
    }

    func shutdown() async {
        try? await apns.shutdown()
        try? await apnsDev.shutdown()
        try? await fcm.shutdown()
        try? await generic.shutdown()
        try? FileManager.default.removeItem(at: files.directory)
    }

    /// `pushfleet push` to an APNs device given as RFC 8599 parameters.
    func pushAPNs(_ provider: String = "apns", param: String, prid: String = prodToken, type: String,
                  exit: Int32) async throws -> (status: Int32, out: String, err: String) {
        try await push(["--pn-provider", provider, "--pn-param", param, "--pn-prid", prid, "--type", type], exit: exit)
    }

    /// Runs `pushfleet push --config <config> <arguments>` and expects its exit status.
    func push(_ arguments: [String], config: String? = nil, exit: Int32) async throws -> (status: Int32, out: String, err: String) {
        let (status, out, err) = try await run("pushfleet", ["push", "--config", config ?? configPath] + arguments, timeout: .seconds(60))
        #expect(status == exit, "\(out)\n\(err)")
        return (status, out, err)
    }
}

/// `pushfleet push` (Flexisip's flexisip_pusher) as an operator runs it: the real binary
/// against the sandbox providers over TLS and HTTP/2, accepted pushes and each usual mistake.
extension FleetProcesses {
@Suite("Push command: one push to each provider, the usual mistakes diagnosed, bad arguments", .serialized, .timeLimit(.minutes(3)))
struct PushCommandTests {
    /// Runs `body` with fresh providers, shut down afterwards whatever happens.
    private func withFixture(_ body: (PushCommandFixture) async throws -> Void) async throws {
        let f = try await PushCommandFixture()
        do {
            try await body(f)
        } catch {
            await f.shutdown()
            throw error
        }
        await f.shutdown()
    }

    private func line(_ text: String, _ label: String) -> String? {
        text.split(separator: "\n").map(String.init).first { $0.hasPrefix(label + " ") }
    }

    @Test("APNs with a certificate: exit 0, the certificate file and why, the request sent, HTTP 200 and apns-id")
    func apnsCertificateAccepted() async throws {
        try await withFixture { f in
            let r = try await f.push(["--pn-provider", "apns", "--pn-param", "ABCD1234.org.linphone.phone.voip",
                                      "--pn-prid", PushCommandFixture.prodToken + ":voip", "--type", "voip", "--call-id", "debug-1"], exit: 0)
            #expect(line(r.out, "credential")?.hasSuffix("/apn/org.linphone.phone.voip.prod.pem") == true, "\(r.out)")
            #expect(r.out.contains("why: its name is apns-topic org.linphone.phone.voip + .prod (pn-provider apns)"))
            #expect(r.out.contains("subject UID=org.linphone.phone.voip, CN=Apple Push Services: org.linphone.phone.voip"))
            #expect(line(r.out, "request") == "request    POST \(f.apns.baseURL)/3/device/\(PushCommandFixture.prodToken)")
            #expect(r.out.contains("apns-push-type: voip") && r.out.contains("apns-topic: org.linphone.phone.voip"))
            #expect(r.out.contains(#""call-id":"debug-1""#))
            #expect(line(r.out, "response") == "response   HTTP 200")
            #expect(r.out.contains("apns-id: "))
            #expect(line(r.out, "result")?.hasPrefix("result     sent HTTP 200 (accepted by the provider") == true, "\(r.out)")
            #expect(!r.out.contains("diagnosis"))
            let sent = try #require(f.apns.requests.first)
            #expect(sent.header("apns-topic") == "org.linphone.phone.voip" && sent.httpVersion == "2")
        }
    }

    @Test("APNs with a .p8 key: the key id and team, the JWT header shown with the token redacted, HTTP 200")
    func apnsTokenAccepted() async throws {
        try await withFixture { f in
            let r = try await f.pushAPNs(param: "\(PushCommandFixture.team).com.example.tokenapp", type: "message", exit: 0)
            #expect(line(r.out, "credential") == "credential .p8 key \(PushCommandFixture.keyId) of team \(PushCommandFixture.team) (apple-token-keys)")
            #expect(r.out.contains("why: no com.example.tokenapp.prod.pem in \(f.files.certificateDirectory), and pn-param's team is \(PushCommandFixture.team)"))
            #expect(r.out.contains(#"authorization: bearer <redacted JWT, header {"alg":"ES256","kid":"\#(PushCommandFixture.keyId)"}>"#), "\(r.out)")
            let sent = try #require(f.apns.requests.first)
            let jwt = try #require(sent.header("authorization")?.split(separator: " ").last)
            #expect(!r.out.contains(String(jwt.split(separator: ".").last!)), "the signature is never printed")
            #expect(r.out.contains("apns-push-type: alert"))
            #expect(line(r.out, "response") == "response   HTTP 200")
        }
    }

    @Test("wrong environment: a development token sent to production is refused with a diagnosis; apns.dev then accepts it")
    func wrongEnvironment() async throws {
        try await withFixture { f in
            // Production APNs does not know a development build's token.
            f.apns.script(token: PushCommandFixture.devToken, [.badDeviceToken])
            let prod = try await f.pushAPNs("apns", param: "ABCD1234.org.linphone.phone", prid: PushCommandFixture.devToken, type: "ringing", exit: 1)
            #expect(line(prod.out, "response") == "response   HTTP 400")
            #expect(prod.out.contains(#"{"reason":"BadDeviceToken"}"#))
            #expect(line(prod.out, "result")?.contains("invalid-token HTTP 400 — BadDeviceToken") == true, "\(prod.out)")
            let diagnosis = try #require(line(prod.out, "diagnosis"), "\(prod.out)")
            #expect(diagnosis.contains("wrong environment?") && diagnosis.contains("try pn-provider=apns.dev"))
            let dev = try await f.pushAPNs("apns.dev", param: "ABCD1234.org.linphone.phone", prid: PushCommandFixture.devToken, type: "ringing", exit: 0)
            #expect(line(dev.out, "credential")?.hasSuffix("/apn/org.linphone.phone.dev.pem") == true)
            #expect(dev.out.contains("apns-collapse-id: pushfleet-push"))
            #expect(f.apnsDev.requests.count == 1)
        }
    }

    @Test("topic not matching the certificate: TopicDisallowed from the sandbox's own check, the certificate's subject printed")
    func topicMismatch() async throws {
        try await withFixture { f in
            let r = try await f.pushAPNs(param: "ABCD1234.com.example.mismatch", type: "background", exit: 1)
            #expect(line(r.out, "response") == "response   HTTP 400")
            let diagnosis = try #require(line(r.out, "diagnosis"), "\(r.out)")
            #expect(diagnosis.contains("topic not matching the certificate: apns-topic com.example.mismatch is not allowed"))
            #expect(diagnosis.contains("certificate com.example.mismatch.prod.pem is for UID=com.example.other"), "\(diagnosis)")
        }
    }

    @Test("token for another app with a .p8 key: DeviceTokenNotForTopic diagnosed")
    func apnsTokenForAnotherApp() async throws {
        try await withFixture { f in
            f.apns.script(token: PushCommandFixture.prodToken, [.status(400, reason: "DeviceTokenNotForTopic")])
            let r = try await f.pushAPNs(param: "\(PushCommandFixture.team).com.example.tokenapp.voip", type: "voip", exit: 1)
            #expect(line(r.out, "diagnosis")?.contains("token for another app: this token was not issued for apns-topic com.example.tokenapp.voip") == true, "\(r.out)")
        }
    }

    @Test("no usable credential, nothing reaches APNs: an expired certificate is caught before sending; none at all is named")
    func noUsableCredential() async throws {
        try await withFixture { f in
            let expired = try await f.pushAPNs(param: "ABCD1234.com.example.expired", type: "message", exit: 1)
            #expect(line(expired.out, "result") == "result     not sent")
            #expect(line(expired.out, "diagnosis")?.contains("expired certificate: \(f.files.certificateDirectory)/com.example.expired.prod.pem expired on") == true, "\(expired.out)")
            #expect(line(expired.out, "request") == nil)
            let none = try await f.pushAPNs(param: "ZZZZ999999.com.example.unknown", type: "message", exit: 1)
            #expect(line(none.out, "credential") == "credential none: no com.example.unknown.prod.pem in \(f.files.certificateDirectory) and no apple-token-keys key of team ZZZZ999999")
            #expect(line(none.out, "diagnosis")?.contains("no credential: put <apns-topic>.<dev|prod>.pem in apple-certificate-dir") == true, "\(none.out)")
            #expect(f.apns.requests.isEmpty)
        }
    }

    @Test("FCM v1 from a whole contact URI: service account and project, bearer redacted, HTTP 200 with the message name")
    func firebaseAccepted() async throws {
        try await withFixture { f in
            let r = try await f.push(["--contact", "sip:bob@10.0.0.2;transport=tls;pn-provider=fcm;pn-param=\(SandboxFleetFiles.firebaseProject);pn-prid=fcm-token_1",
                                      "--type", "voip"], exit: 0)
            #expect(line(r.out, "push")?.contains("background to token fcm-token_1 (asked voip: the worker sends this device a background push instead)") == true, "\(r.out)")
            #expect(line(r.out, "credential") == "credential service account \(f.files.serviceAccountFile) (FCM v1, OAuth access token)")
            #expect(r.out.contains("project_id pushfleet-sandbox"))
            #expect(line(r.out, "request") == "request    POST \(f.fcm.baseURL)/v1/projects/pushfleet-sandbox/messages:send")
            #expect(r.out.contains("authorization: Bearer <redacted>"))
            #expect(!r.out.contains("ya29."), "the access token is never printed")
            #expect(line(r.out, "response") == "response   HTTP 200")
            #expect(r.out.contains(#""name":"projects/pushfleet-sandbox/messages/"#))
        }
    }

    @Test("FCM token for another app (SENDER_ID_MISMATCH) and a dead token (UNREGISTERED): exit 1 and the diagnosis")
    func firebaseMistakes() async throws {
        try await withFixture { f in
            f.fcm.script(token: "other-app-token", [.status(403, reason: "SENDER_ID_MISMATCH")])
            f.fcm.script(token: "dead-token", [.unregistered(timestamp: 0)])
            let base = ["--pn-provider", "fcm", "--pn-param", SandboxFleetFiles.firebaseProject, "--type", "message", "--pn-prid"]
            let mismatch = try await f.push(base + ["other-app-token"], exit: 1)
            #expect(line(mismatch.out, "response") == "response   HTTP 403")
            #expect(line(mismatch.out, "diagnosis")?.contains("token for another app: this registration token belongs to another Firebase project than project pushfleet-sandbox (pn-param \(SandboxFleetFiles.firebaseProject))") == true, "\(mismatch.out)")
            let dead = try await f.push(base + ["dead-token"], exit: 1)
            #expect(line(dead.out, "diagnosis")?.hasPrefix("diagnosis  dead token") == true, "\(dead.out)")
        }
    }

    @Test("FCM legacy: the server key chosen for its project and shown as key=<redacted>, never in clear")
    func firebaseLegacy() async throws {
        try await withFixture { f in
            let r = try await f.push(["--pn-provider", "fcm", "--pn-param", PushCommandFixture.legacyProject, "--pn-prid", "legacy-token",
                                      "--type", "message"], exit: 0)
            #expect(line(r.out, "credential") == "credential server key of project \(PushCommandFixture.legacyProject) (FCM legacy)")
            #expect(line(r.out, "request") == "request    POST \(f.fcm.baseURL)/fcm/send")
            #expect(r.out.contains("authorization: key=<redacted>"))
            #expect(!r.out.contains(PushCommandFixture.legacyKey) && !r.err.contains(PushCommandFixture.legacyKey))
            #expect(f.fcm.requests.first?.header("authorization") == "key=\(PushCommandFixture.legacyKey)")
        }
    }

    @Test("generic gateway: external-push-uri chosen, the substituted URL, HTTP 200; a refusal exits 1")
    func genericGateway() async throws {
        try await withFixture { f in
            let device = ["--pn-provider", "fcm", "--pn-param", PushCommandFixture.gatewayProject, "--type", "message"]
            let ok = try await f.push(device + ["--pn-prid", "tok-1", "--call-id", "c-1"], config: f.genericConfigPath, exit: 0)
            #expect(line(ok.out, "credential")?.hasPrefix("credential external-push-uri \(f.generic.baseURL)/push?token=$token") == true, "\(ok.out)")
            #expect(line(ok.out, "request") == "request    GET \(f.generic.baseURL)/push?token=tok-1&call=c-1&type=firebase&key=***")
            #expect(f.generic.requests.first?.path.hasSuffix("&key=\(PushCommandFixture.gatewayKey)") == true, "the gateway got the key")
            #expect(!ok.out.contains(PushCommandFixture.gatewayKey) && !ok.err.contains(PushCommandFixture.gatewayKey))
            #expect(line(ok.out, "response") == "response   HTTP 200")
            f.generic.script(path: "/push?token=tok-2&call=c-2&type=firebase&key=\(PushCommandFixture.gatewayKey)", [.status(404, reason: "no device for key=\(PushCommandFixture.gatewayKey)")])
            let refused = try await f.push(device + ["--pn-prid", "tok-2", "--call-id", "c-2"], config: f.genericConfigPath, exit: 1)
            #expect(line(refused.out, "diagnosis") == "diagnosis  the gateway (external-push-uri) refused the push with HTTP 404")
            // The gateway's body quotes the key: redacted there too, as in the outcome's reason.
            #expect(refused.out.contains("no device for key=***"), "\(refused.out)")
            #expect(!refused.out.contains(PushCommandFixture.gatewayKey))
        }
    }

    @Test("bad arguments name the flag and exit 64 (usage), before any config or provider is touched",
          arguments: [
            (["--type", "voip"], "no device: give --pn-provider, --pn-param and --pn-prid, or --contact URI"),
            (["--type", "voip", "--contact", "sip:a@b;pn-provider=fcm;pn-param=1;pn-prid=t", "--pn-provider", "fcm"],
             "not both (--pn-provider with --contact)"),
            (["--type", "loud", "--pn-provider", "fcm", "--pn-param", "1", "--pn-prid", "t"], "'loud' is invalid for '--type"),
            (["--type", "voip", "--pn-provider", "apns", "--pn-param", "ABCD1234.org.linphone.phone"], "missing --pn-prid"),
            (["--type", "voip", "--pn-provider", "apns", "--pn-param", "ABCD1234.org.linphone.phone", "--pn-prid", "short"],
             "--pn-prid: APNs token must be 64 alphanumeric characters"),
            (["--type", "voip", "--pn-provider", "apns", "--pn-param", "ABCD1234.org.linphone.phone", "--pn-prid", String(repeating: "a", count: 64)],
             "--type voip: pn-prid: no VoIP destination on this device (apns, token(s) for remote)"),
          ])
    func badArguments(arguments: [String], message: String) async throws {
        let (status, out, err) = try await run("pushfleet", ["push", "--config", "/nonexistent/flexisip.conf"] + arguments)
        #expect(status == 64, "\(out)\n\(err)")
        #expect(err.contains(message), "\(err)")
        #expect(out.isEmpty)
    }

    @Test("--help: examples and every line fit 80 columns")
    func help() async throws {
        let (status, out, _) = try await run("pushfleet", ["push", "--help"])
        #expect(status == 0)
        #expect(out.contains("pushfleet push --config flexisip.conf --pn-provider apns"))
        for line in out.split(separator: "\n") {
            #expect(line.count <= 80, "\(line.count) columns: \(line)")
        }
    }
}
}
