public import PushContract
public import PushPolicy

/// What happened to one push request at the provider.
public struct SendOutcome: Sendable, Hashable {
    /// `.sent`, `.failed`, `.invalidToken` or `.dropped`.
    public var result: PushResult
    /// Last HTTP status received, if any.
    public var status: Int?
    /// Provider reason or our explanation ("queue full", "deadline passed", TLS error text…).
    public var reason: String?
    /// APNs 410 timestamp: when the token stopped being valid.
    public var invalidSince: EventTime?
    /// HTTP attempts made for this push (retries included).
    public var attempts: Int
    /// `apns`, `apns.dev`, `fcm`, `generic`…
    public var provider: String

    public init(result: PushResult, status: Int? = nil, reason: String? = nil, invalidSince: EventTime? = nil, attempts: Int = 1, provider: String) {
        self.result = result
        self.status = status
        self.reason = reason
        self.invalidSince = invalidSince
        self.attempts = attempts
        self.provider = provider
    }
}

/// Sends push requests to providers.
public protocol PushSending: Sendable {
    /// Never throws and never outlives `deadline` (the push's expiry, absolute wall-clock).
    func send(_ request: PushRequest, deadline: EventTime) async -> SendOutcome
}
