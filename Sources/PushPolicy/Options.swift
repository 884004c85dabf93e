/// Typed options of docs/contract.md §3, with Flexisip 2.3's defaults.
///
/// The INI loader (`Config/`) fills these; the policy reads only these values, never raw strings.

/// `[module::PushNotification]`: same names, types and defaults as Flexisip's module.
public struct PushNotificationOptions: Sendable, Hashable {
    public var enabled = false
    /// Flexisip boolean filter expression; empty = every request enters.
    public var filter = ""
    /// Seconds before a push is sent; ≤ 0 = immediately.
    public var timeout = 0
    /// Seconds; 0 = use `[module::Router] message-delivery-timeout`.
    public var messageTimeToLive = 0
    public var maxQueueSize = 100
    public var retransmissionCount = 0
    /// Seconds.
    public var retransmissionInterval = 5
    /// Seconds, 0–30; 0 disables ringing repetitions and the final push.
    public var callRemotePushInterval = 0
    public var displayFromURI = false
    public var apple = true
    public var appleCertificateDir = "/etc/flexisip/apn"
    public var noBadge = false
    public var firebase = true
    /// `projectNumber:serverKey` pairs (FCM legacy). Secret values.
    public var firebaseProjectsAPIKeys: [ProjectCredential] = []
    /// `projectNumber:/path/sa.json` pairs (FCM v1).
    public var firebaseServiceAccounts: [ProjectCredential] = []
    /// Seconds.
    public var firebaseTokenExpirationAnticipationTime = 300
    /// Seconds.
    public var firebaseDefaultRefreshInterval = 60
    /// Empty = not set. When set it replaces every other sender, as Flexisip.
    public var externalPushURI = ""
    public var externalPushMethod = HTTPMethod.get
    public var externalPushProtocol = ExternalPushProtocol.http2
    /// Minutes; 0 disables register wake-up.
    public var registerWakeupInterval = 0
    /// Percent of a registration's lifetime.
    public var registerWakeupThreshold = 50

    public init() {}

    public enum HTTPMethod: String, Sendable, Hashable, CaseIterable {
        case get = "GET"
        case post = "POST"
    }

    public enum ExternalPushProtocol: String, Sendable, Hashable, CaseIterable {
        case http2
        /// HTTP/1.1 (Flexisip calls it deprecated; kept for old gateways).
        case http
    }
}

/// A `<Firebase project number>:<value>` pair from a Flexisip string list.
public struct ProjectCredential: Sendable, Hashable {
    public var project: String
    public var value: String

    public init(project: String, value: String) {
        self.project = project
        self.value = value
    }
}

/// `[module::Router]` options the push policy depends on.
public struct RouterOptions: Sendable, Hashable {
    /// Seconds; TTL of call pushes.
    public var callForkTimeout = 90
    /// Seconds; TTL of IM pushes when `message-time-to-live` is 0.
    public var messageDeliveryTimeout = 604_800

    public init() {}
}

extension PushNotificationOptions {
    /// A Firebase project listed both with a service account (FCM v1) and with a legacy server
    /// key: which API would serve it is ambiguous, so the config load and the senders refuse it
    /// (this is the one place that decides it).
    public var firebaseProjectInBothLists: String? {
        let legacy = Set(firebaseProjectsAPIKeys.map(\.project))
        return firebaseServiceAccounts.first { legacy.contains($0.project) }?.project
    }
}
