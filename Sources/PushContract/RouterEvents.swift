/// Fields every record carries (docs/contract.md §2).
public struct RecordHeader: Sendable, Hashable {
    /// Unique event id, 1–128 characters; re-delivery of the same id has no second effect.
    public var id: String
    /// When the router observed the event; delays and TTLs count from it.
    public var time: EventTime

    public init(id: String, time: EventTime) {
        self.id = id
        self.time = time
    }

    /// An id derived from another record's id (`<base>.<suffix>`), within the contract's 128
    /// characters. Characters are Unicode scalars, as the decoder counts them: truncating by
    /// Swift `Character`s let an id of combining marks or emoji exceed the limit.
    public static func derivedId(_ base: some StringProtocol, _ suffix: some StringProtocol, baseLimit: Int = 100) -> String {
        let room = 128 - 1 - min(baseLimit, base.unicodeScalars.count)
        var id = String(String.UnicodeScalarView(base.unicodeScalars.prefix(baseLimit)))
        id += "."
        id += String(String.UnicodeScalarView(suffix.unicodeScalars.prefix(room)))
        return id
    }
}

/// `branch.unanswered` (docs/contract.md §2.1).
public struct BranchUnanswered: Sendable, Hashable {
    public var header: RecordHeader
    public var callId: String
    public var branch: String
    /// SIP method: `INVITE`, `MESSAGE`, `REFER`, …
    public var method: String
    /// The registered contact URI with its push parameters.
    public var requestUri: String
    public var from: SIPAddress
    public var to: SIPAddress
    public var headers: SIPHeaders
    public var body: String?
    public var instanceId: String?
    public var messageId: String?
    public var chatRoomAddr: String?
    public var isGroupChatInvite: Bool
    /// Seconds; overrides `[module::Router] call-fork-timeout` for this call.
    public var forkTimeout: Int?

    public init(
        header: RecordHeader, callId: String, branch: String, method: String, requestUri: String,
        from: SIPAddress, to: SIPAddress, headers: SIPHeaders = SIPHeaders(), body: String? = nil,
        instanceId: String? = nil, messageId: String? = nil, chatRoomAddr: String? = nil,
        isGroupChatInvite: Bool = false, forkTimeout: Int? = nil
    ) {
        self.header = header
        self.callId = callId
        self.branch = branch
        self.method = method
        self.requestUri = requestUri
        self.from = from
        self.to = to
        self.headers = headers
        self.body = body
        self.instanceId = instanceId
        self.messageId = messageId
        self.chatRoomAddr = chatRoomAddr
        self.isGroupChatInvite = isGroupChatInvite
        self.forkTimeout = forkTimeout
    }
}

/// `branch.response` (docs/contract.md §2.2).
public struct BranchResponse: Sendable, Hashable {
    public var header: RecordHeader
    public var callId: String
    public var branch: String
    /// SIP status code sent by the device on that branch.
    public var status: Int

    public init(header: RecordHeader, callId: String, branch: String, status: Int) {
        self.header = header
        self.callId = callId
        self.branch = branch
        self.status = status
    }
}

/// Why a call ended (docs/contract.md §2.3).
public enum CallEndReason: String, Sendable, Hashable, CaseIterable {
    case answered
    case answeredElsewhere = "answered-elsewhere"
    case declinedElsewhere = "declined-elsewhere"
    case cancelled
    case timeout
}

/// `call.ended` (docs/contract.md §2.3).
public struct CallEnded: Sendable, Hashable {
    public var header: RecordHeader
    public var callId: String
    public var reason: CallEndReason

    public init(header: RecordHeader, callId: String, reason: CallEndReason) {
        self.header = header
        self.callId = callId
        self.reason = reason
    }
}

/// `registration.updated` (docs/contract.md §2.4).
public struct RegistrationUpdated: Sendable, Hashable {
    public var header: RecordHeader
    public var aor: String
    /// Contact URI with push parameters.
    public var contact: String
    public var instanceId: String?
    /// The REGISTER's Call-ID.
    public var callId: String
    /// Seconds.
    public var expires: Int
    public var updatedAt: EventTime

    public init(
        header: RecordHeader, aor: String, contact: String, instanceId: String? = nil,
        callId: String, expires: Int, updatedAt: EventTime
    ) {
        self.header = header
        self.aor = aor
        self.contact = contact
        self.instanceId = instanceId
        self.callId = callId
        self.expires = expires
        self.updatedAt = updatedAt
    }
}

/// Any record a router writes.
public enum RouterEvent: Sendable, Hashable {
    case branchUnanswered(BranchUnanswered)
    case branchResponse(BranchResponse)
    case callEnded(CallEnded)
    case registrationUpdated(RegistrationUpdated)

    /// The record's `type` field.
    public var type: String {
        switch self {
        case .branchUnanswered: "branch.unanswered"
        case .branchResponse: "branch.response"
        case .callEnded: "call.ended"
        case .registrationUpdated: "registration.updated"
        }
    }

    public var header: RecordHeader {
        switch self {
        case .branchUnanswered(let e): e.header
        case .branchResponse(let e): e.header
        case .callEnded(let e): e.header
        case .registrationUpdated(let e): e.header
        }
    }
}
