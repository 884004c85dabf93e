import Crypto
import Foundation
import PushContract
import PushPolicy
import Testing
@testable import PushSenders

@Suite struct CredentialTests {
    func signer(clock: ManualClock) throws -> (APNsTokenSigner, P256.Signing.PublicKey, String) {
        let dir = try temporaryDirectory()
        let key = P256.Signing.PrivateKey()
        try write(key.pemRepresentation, to: dir + "/AuthKey_KEY1234567.p8")
        let s = try APNsTokenSigner(key: AppleTokenKey(teamId: "TEAM123456", keyId: "KEY1234567", path: dir + "/AuthKey_KEY1234567.p8"), clock: clock)
        return (s, key.publicKey, dir)
    }

    static func decode(_ part: Substring) -> [UInt8] {
        var s = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        return Base64.decode(s) ?? []
    }

    @Test func jwtIsAValidES256TokenWithTeamAndKey() throws {
        let clock = ManualClock(now: t0)
        let (s, publicKey, dir) = try signer(clock: clock)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let parts = s.token().split(separator: ".")
        #expect(parts.count == 3)
        #expect(String(decoding: Self.decode(parts[0]), as: UTF8.self) == #"{"alg":"ES256","kid":"KEY1234567"}"#)
        #expect(String(decoding: Self.decode(parts[1]), as: UTF8.self) == #"{"iss":"TEAM123456","iat":\#(t0.millisecondsSince1970 / 1000)}"#)
        let signature = try P256.Signing.ECDSASignature(rawRepresentation: Self.decode(parts[2]))
        #expect(publicKey.isValidSignature(signature, for: Data("\(parts[0]).\(parts[1])".utf8)))
    }

    @Test func jwtRefreshTiming() throws {
        let clock = ManualClock(now: t0)
        let (s, _, dir) = try signer(clock: clock)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = s.token()
        clock.advance(by: 49 * 60_000 + 59_000)
        #expect(s.token() == first)
        #expect(s.signedCount == 1)
        clock.advance(by: 1_000) // 50 minutes: renewed, well before APNs' hour
        let second = s.token()
        #expect(second != first)
        #expect(s.signedCount == 2)
        // APNs calls the 10-minute-old token expired: no re-signing before 20 minutes.
        clock.advance(by: 10 * 60_000)
        #expect(s.refresh(rejected: second) == false)
        #expect(s.token() == second)
        clock.advance(by: 10 * 60_000)
        #expect(s.refresh(rejected: second) == true)
        let third = s.token()
        #expect(third != second)
        #expect(s.signedCount == 3)
        // A stale rejection of an already replaced token re-signs nothing.
        #expect(s.refresh(rejected: second) == true)
        #expect(s.signedCount == 3)
    }

    @Test func badP8FileNamesTheKey() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try write("not a key", to: dir + "/bad.p8")
        #expect(throws: SenderConfigError.self) {
            try APNsTokenSigner(key: AppleTokenKey(teamId: "T", keyId: "K", path: dir + "/bad.p8"), clock: SystemClock())
        }
        do {
            _ = try APNsTokenSigner(key: AppleTokenKey(teamId: "T", keyId: "K", path: dir + "/missing.p8"), clock: SystemClock())
        } catch {
            #expect(error.key == "apple-token-keys")
            #expect(error.value == "T:K:\(dir)/missing.p8")
        }
    }

    @Test(arguments: [
        (#"{"client_email":"a@b","private_key":"k","token_uri":"https://x/token"}"#, "missing string field project_id"),
        (#"{"project_id":"p","private_key":"k","token_uri":"https://x/token"}"#, "missing string field client_email"),
        (#"{"project_id":"p","client_email":"a@b","token_uri":"https://x/token"}"#, "missing string field private_key"),
        (#"{"project_id":"p","client_email":"a@b","private_key":"k","token_uri":"ftp://x"}"#, "token_uri is not an http(s) URL"),
        ("[]", "not a JSON object"),
        ("", "not a JSON object"),
    ])
    func serviceAccountErrors(json: String, problem: String) {
        #expect(throws: SenderConfigError(key: "firebase-service-accounts", value: "sa.json", problem: problem)) {
            try FirebaseServiceAccount(json: json, origin: "sa.json")
        }
    }

    @Test func endpoints() {
        let a = HTTP2Endpoint(url: "https://api.push.apple.com")!
        #expect(a.host == "api.push.apple.com" && a.port == 443 && a.useTLS && a.path == "" && a.authority == "api.push.apple.com")
        let b = HTTP2Endpoint(url: "http://127.0.0.1:8080/base/")!
        #expect(b.host == "127.0.0.1" && b.port == 8080 && !b.useTLS && b.path == "/base" && b.authority == "127.0.0.1:8080" && b.hostIsIPAddress)
        let c = HTTP2Endpoint(url: "https://[::1]:8443/p?x=1")!
        #expect(c.host == "::1" && c.port == 8443 && c.target == "/p?x=1" && c.authority == "[::1]:8443")
        #expect(HTTP2Endpoint(url: "https://h?q=1")?.target == "/?q=1")
        for bad in ["ftp://x", "https://", "https://h:0", "https://h:99999", "https://u@h", "https://[::1", "h:80"] {
            #expect(HTTP2Endpoint(url: bad) == nil, "\(bad)")
        }
    }

    @Test func sameFirebaseProjectInBothListsIsRefused() {
        var config = PushFleetConfig()
        config.pushNotification.apple = false
        config.pushNotification.firebaseProjectsAPIKeys = [ProjectCredential(project: "1234", value: "k")]
        config.pushNotification.firebaseServiceAccounts = [ProjectCredential(project: "1234", value: "/nonexistent.json")]
        #expect(throws: SenderConfigError(key: "firebase-service-accounts", value: "1234",
                                          problem: "project 1234 is also in firebase-projects-api-keys; list each project once")) {
            try PushSenders(config: config)
        }
    }
}
