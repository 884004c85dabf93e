/// Provider URLs that would carry pushes, tokens or keys unencrypted.
///
/// `http://` passes the URL syntax check (private gateways and sandboxes speak h2c or plain
/// HTTP/1.1), so without this rule a one-letter typo silently sends every device token in
/// cleartext. It is refused at start-up unless `[pushfleet] allow-cleartext=true` says it is meant.
public struct CleartextEndpoint: Sendable, Hashable {
    public var section: String
    public var key: String
    public var value: String

    /// What the error says is allowed.
    public static let problem = "cleartext http:// is refused; use https://, or set [pushfleet] allow-cleartext=true "
        + "for a sandbox or private gateway (pushes and credentials then travel unencrypted)"

    /// True for an `http://` URL (any case), the scheme this rule refuses.
    public static func isCleartext(_ url: String) -> Bool {
        url.utf8.count >= 7 && url.prefix(7).lowercased() == "http://"
    }
}

extension PushFleetConfig {
    /// The first provider URL of the config that is `http://` while `allow-cleartext` is off.
    /// A service account's `token_uri` lives in its file: the senders check it when they load it.
    public var cleartextEndpoint: CleartextEndpoint? {
        guard !pushfleet.allowCleartext else { return nil }
        let urls = [
            (ConfigSchema.pushNotification, "external-push-uri", pushNotification.externalPushURI),
            (ConfigSchema.pushfleet, "apple-push-uri", pushfleet.applePushURI),
            (ConfigSchema.pushfleet, "apple-dev-push-uri", pushfleet.appleDevPushURI),
            (ConfigSchema.pushfleet, "firebase-uri", pushfleet.firebaseURI),
        ]
        return urls.first { CleartextEndpoint.isCleartext($0.2) }.map { CleartextEndpoint(section: $0.0, key: $0.1, value: $0.2) }
    }
}
