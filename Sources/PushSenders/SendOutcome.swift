public import PushContract
public import PushPolicy

/// What became of one push after every attempt the deadline allowed.
public struct SendOutcome: Sendable, Hashable {
    /// `.sent`, `.failed`, `.invalidToken` or `.dropped` (never `.skipped`: that is the policy's).
    public var result: PushResult
    /// Last HTTP status received, if any answer came.
    public var status: Int?
    /// The provider's reason (`BadDeviceToken`, `UNREGISTERED`, …) or ours ("queue full",
    /// "deadline passed", a TLS error text…).
    public var reason: String?
    /// The code of `reason` when the push was `.dropped` (expired, queue full), for the
    /// engine's outcome and metrics; nil otherwise (a provider's reason is not classified).
    public var reasonCode: OutcomeReason.Code?
    /// APNs 410 `timestamp`: since when the token is invalid.
    public var invalidSince: EventTime?
    /// HTTP attempts made (0 when the push never left the process).
    public var attempts: Int
    /// HTTP requests the provider may have acted on: answered ones, plus those written and lost
    /// without an answer (timeout, reset, connection lost); requests certainly not processed
    /// (never written, refused, connect or handshake failures) are not counted. More than one
    /// after such a loss means the push may have been delivered twice (contract 1.1:
    /// `push.outcome` `requests`).
    public var requests: Int
    /// The destination had no room (`max-queue-size` waiting already): the push was not
    /// attempted. Unlike Flexisip, which drops it, the engine holds it for a later try and
    /// pauses the partitions feeding it (back-pressure), so only an expired push is dropped.
    public var noCapacity: Bool = false
    /// `apns`, `apns.dev`, `fcm`, `fcm.legacy`, `generic`.
    public var provider: String
    /// Time from `send` to the final answer, by the sender's clock.
    public var latencyMs: Int64?

    public init(
        result: PushResult, status: Int? = nil, reason: String? = nil, invalidSince: EventTime? = nil,
        attempts: Int = 0, requests: Int = 0, provider: String, latencyMs: Int64? = nil
    ) {
        self.result = result
        self.status = status
        self.reason = reason
        self.invalidSince = invalidSince
        self.attempts = attempts
        self.requests = requests
        self.provider = provider
        self.latencyMs = latencyMs
    }
}

/// Sends one push request to its provider.
public protocol PushSending: Sendable {
    /// Never throws, never outlives `deadline` (the push's expiry, absolute wall-clock).
    func send(_ request: PushRequest, deadline: EventTime) async -> SendOutcome
}

/// A configuration the senders cannot run with; names the option and the problem.
public struct SenderConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The option (`apple-token-keys`, `firebase-service-accounts`, `tls-ca-file`, …).
    public var key: String
    /// The offending value or file, when there is one.
    public var value: String?
    public var problem: String

    public init(key: String, value: String? = nil, problem: String) {
        self.key = key
        self.value = value
        self.problem = problem
    }

    public var description: String {
        if let value { return "\(key)=\(value): \(problem)" }
        return "\(key): \(problem)"
    }
}

/// What `config check --connect` found for one credential and destination.
package struct SenderProbe: Sendable {
    /// The credential and where it was tried, e.g. `APNs certificate org.x.prod → https://api.push.apple.com`.
    package var what: String
    /// Nil when it worked, else why not (the transport's or the token endpoint's reason).
    package var failure: String?

    package init(what: String, failure: String?) {
        self.what = what
        self.failure = failure
    }
}
