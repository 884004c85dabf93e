import Testing

@testable import PushPolicy

/// `http://` provider URLs are a start-up error naming the key unless `allow-cleartext=true`.
@Suite("Cleartext provider URLs")
struct CleartextConfigTests {
    static let refused = "cleartext http:// is refused; use https://, or set [pushfleet] allow-cleartext=true "
        + "for a sandbox or private gateway (pushes and credentials then travel unencrypted)"

    @Test(arguments: [
        ("[module::PushNotification]\nexternal-push-uri=http://gw.example.org/$type", "line 2: [module::PushNotification] external-push-uri = http://gw.example.org/$type"),
        ("[pushfleet]\napple-push-uri=http://api.push.apple.com", "line 2: [pushfleet] apple-push-uri = http://api.push.apple.com"),
        ("[pushfleet]\n\napple-dev-push-uri=HTTP://localhost:8080/apns", "line 3: [pushfleet] apple-dev-push-uri = HTTP://localhost:8080/apns"),
        ("[pushfleet]\nfirebase-uri=http://fcm.googleapis.com", "line 2: [pushfleet] firebase-uri = http://fcm.googleapis.com"),
    ])
    func cleartextURLIsAStartupErrorNamingTheKey(text: String, subject: String) throws {
        #expect(loadError(text) == subject + ": " + Self.refused)
        let allowed = try PushFleetConfig.load(text: text + "\n[pushfleet]\nallow-cleartext=true")
        #expect(allowed.pushfleet.allowCleartext)
        #expect(allowed.cleartextEndpoint == nil)
    }

    @Test func anOverrideIsNamedAsTheOrigin() {
        #expect(loadError("", overrides: ["pushfleet/firebase-uri=http://10.0.0.1:8080"])
            == "--set pushfleet/firebase-uri=http://10.0.0.1:8080: [pushfleet] firebase-uri = http://10.0.0.1:8080: " + Self.refused)
        #expect(loadError("", overrides: ["pushfleet/firebase-uri=http://10.0.0.1:8080", "pushfleet/allow-cleartext=1"]) == nil)
    }

    @Test func defaultsAndHTTPSAreAccepted() throws {
        #expect(try PushFleetConfig.load(text: "").pushfleet.allowCleartext == false)
        #expect(loadError("[pushfleet]\napple-push-uri=https://127.0.0.1:8443") == nil)
        #expect(PushFleetConfig().cleartextEndpoint == nil)
    }
}
