/// `[pushfleet]`: what PushFleet needs beyond Flexisip's options (docs/contract.md §3).
public struct PushFleetOptions: Sendable, Hashable {
    /// APNs token-based authentication keys (`.p8`), which Flexisip lacks.
    public var appleTokenKeys: [AppleTokenKey] = []
    public var applePushURI = "https://api.push.apple.com"
    public var appleDevPushURI = "https://api.development.push.apple.com"
    public var firebaseURI = "https://fcm.googleapis.com"
    /// Extra trust anchors (PEM). Server certificates are always verified, unlike Flexisip.
    public var tlsCAFile: String?
    /// Lets provider and token URLs be `http://` (sandboxes, private gateways); off, they are a
    /// start-up error, so a typo cannot send device tokens and keys in cleartext.
    public var allowCleartext = false
    /// `https-proxy` as written, credentials included (`dump()` masks them); empty = the
    /// environment's `HTTPS_PROXY`, if any; `none` = direct, whatever the environment.
    public var httpsProxy = ""
    /// The proxy provider connections use, resolved when the config is loaded: `https-proxy`,
    /// else `HTTPS_PROXY`/`https_proxy` of the environment given to the loader, with its
    /// `NO_PROXY`/`no_proxy`; nil = direct connections.
    public var outboundProxy: OutboundProxy?
    /// `host:port` of the metrics endpoint; empty disables it.
    public var metricsListen = "127.0.0.1:9464"
    public var logFormat = LogFormat.text
    /// Lowest level logged; swift-log's level names.
    public var logLevel = LogLevel.info

    public init() {}

    /// swift-log's `Logger.Level` names (PushPolicy does not depend on swift-log).
    public enum LogLevel: String, Sendable, Hashable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    public enum LogFormat: String, Sendable, Hashable, CaseIterable {
        case text
        case json
    }
}

/// One APNs signing key: `TEAMID:KEYID:/path/AuthKey_KEYID.p8`.
public struct AppleTokenKey: Sendable, Hashable {
    /// 10-character Apple Developer team id; matched against the `pn-param` team prefix.
    public var teamId: String
    /// 10-character key id (`kid` of the JWT).
    public var keyId: String
    public var path: String

    public init(teamId: String, keyId: String, path: String) {
        self.teamId = teamId
        self.keyId = keyId
        self.path = path
    }
}
