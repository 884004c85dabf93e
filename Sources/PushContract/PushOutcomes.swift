/// `push.outcome` `result` values (docs/contract.md §2.5).
public enum PushResult: String, Sendable, Hashable, CaseIterable {
    case sent
    case failed
    case invalidToken = "invalid-token"
    /// Queue full or expired before sending.
    case dropped
    /// Filter, needsPush, missing or invalid push parameters.
    case skipped
}

/// `push.outcome` `pushType` values (docs/contract.md §2.5).
public enum PushType: String, Sendable, Hashable, CaseIterable {
    case voip
    case background
    case message
    case ringing
    case final
    case wakeup
}

/// The device a `push.outcome` concerns (contract 1.1 §2.5): enough for a router to act on an
/// `invalid-token` by dropping exactly that binding, without parsing our keys.
public struct PushDevice: Sendable, Hashable {
    /// RFC 8599 `pn-provider` as the contact carried it (legacy `pn-type` mapped: `apns`, `fcm`, …).
    public var provider: String
    /// `pn-param` as the contact carried it (legacy: derived from `app-id`).
    public var param: String
    /// `pn-prid` as the contact carried it (legacy: `pn-tok`).
    public var prid: String
    /// The AOR: `to.uri` of the event, the `aor` of a registration.
    public var aor: String
    /// The contact's `+sip.instance`, when it has one.
    public var instanceId: String?

    public init(provider: String, param: String, prid: String, aor: String, instanceId: String? = nil) {
        self.provider = provider
        self.param = param
        self.prid = prid
        self.aor = aor
        self.instanceId = instanceId
    }
}

/// `push.outcome` (docs/contract.md §2.5): one per push attempt or decision.
public struct PushOutcome: Sendable, Hashable {
    public var header: RecordHeader
    /// Id of the event that caused this attempt or decision.
    public var eventId: String
    /// Call-ID for call/message pushes; nil for register wake-ups.
    public var callId: String?
    /// Registration key (`<aor>|<instance>`) for register wake-ups.
    public var registration: String?
    public var branch: String?
    /// `apns`, `apns.dev`, `fcm`, `generic`, …
    public var provider: String?
    public var pushType: PushType?
    /// 1-based attempt number.
    public var attempt: Int
    public var result: PushResult
    public var status: Int?
    public var reason: String?
    /// APNs 410 timestamp.
    public var invalidSince: EventTime?
    /// Event time → provider answer.
    public var latencyMs: Int64?
    /// HTTP requests this attempt made that the provider may have acted on (contract 1.1); more
    /// than 1 means an ambiguous failure was retried and the device may have the push twice.
    public var requests: Int?
    /// The device (contract 1.1): set whenever the outcome concerns one, i.e. for every result
    /// but a skip decided before any device was known (filter, needsPush, no push parameters).
    public var device: PushDevice?
    /// The code of `reason` for a skip or a drop, set where the engine decided it, so metrics
    /// count the decision, not its wording. In memory only: the codec neither writes nor reads
    /// it (the contract's `reason` is free text), so a decoded outcome has none.
    public var reasonCode: OutcomeReason.Code?
    /// Set when `reason` carries an event-time note (contract §2 `time`): which way the router's
    /// time was replaced. In memory only, as `reasonCode`.
    public var timeReplaced: EventTimeNote.Direction?

    public init(
        header: RecordHeader, eventId: String, callId: String? = nil, registration: String? = nil,
        branch: String? = nil, provider: String? = nil, pushType: PushType? = nil, attempt: Int = 1,
        result: PushResult, status: Int? = nil, reason: String? = nil,
        invalidSince: EventTime? = nil, latencyMs: Int64? = nil, requests: Int? = nil, device: PushDevice? = nil,
        reasonCode: OutcomeReason.Code? = nil, timeReplaced: EventTimeNote.Direction? = nil
    ) {
        self.header = header
        self.eventId = eventId
        self.callId = callId
        self.registration = registration
        self.branch = branch
        self.provider = provider
        self.pushType = pushType
        self.attempt = attempt
        self.result = result
        self.status = status
        self.reason = reason
        self.invalidSince = invalidSince
        self.latencyMs = latencyMs
        self.requests = requests
        self.device = device
        self.reasonCode = reasonCode
        self.timeReplaced = timeReplaced
    }
}
