/// The records of docs/contract.md §2 as value types.
///
/// These types are the vocabulary shared by the policy (pure decisions) and the engine (Kafka
/// shell). Codecs live beside them (`*+Codec.swift`); this file only says what a record *is*.

/// Contract major version written in every record's `v` field.
public enum ContractVersion {
    public static let current = 1
}

/// A point in time with millisecond precision, as carried by the contract's RFC 3339 timestamps.
///
/// Stored as milliseconds since the Unix epoch so that schedule deadlines compare and add
/// without calendar arithmetic.
public struct EventTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var millisecondsSince1970: Int64

    public init(millisecondsSince1970: Int64) {
        self.millisecondsSince1970 = millisecondsSince1970
    }

    public static func < (lhs: EventTime, rhs: EventTime) -> Bool {
        lhs.millisecondsSince1970 < rhs.millisecondsSince1970
    }

    /// This time plus a number of seconds (TTLs and delays are whole seconds in Flexisip's options).
    public func adding(seconds: Int) -> EventTime {
        EventTime(millisecondsSince1970: millisecondsSince1970 + Int64(seconds) * 1000)
    }

    public func adding(milliseconds: Int64) -> EventTime {
        EventTime(millisecondsSince1970: millisecondsSince1970 + milliseconds)
    }

    public var description: String { "\(millisecondsSince1970)ms" }
}

/// A SIP name-addr as the router saw it in From or To.
public struct SIPAddress: Sendable, Hashable {
    public var uri: String
    public var displayName: String?
    public var tag: String?

    public init(uri: String, displayName: String? = nil, tag: String? = nil) {
        self.uri = uri
        self.displayName = displayName
        self.tag = tag
    }
}

/// SIP headers copied by the router. Names compare case-insensitively (RFC 3261 §7.3.5).
public struct SIPHeaders: Sendable, Hashable {
    /// Header fields in the order the record listed them; names as written.
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// The first value of the header `name`, compared case-insensitively.
    public subscript(name: String) -> String? {
        for field in fields where field.name.caseInsensitiveEquals(name) {
            return field.value
        }
        return nil
    }

    public mutating func append(name: String, value: String) {
        fields.append((name, value))
    }

    public static func == (lhs: SIPHeaders, rhs: SIPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name)
            hasher.combine(field.value)
        }
    }
}

extension String {
    /// ASCII case-insensitive comparison, enough for SIP header names and tokens.
    /// Runs for every URI parameter and header lookup of every push decision, so it compares
    /// contiguous UTF-8 (native strings are) rather than through generic iterators.
    package func caseInsensitiveEquals(_ other: String) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        let fast = utf8.withContiguousStorageIfAvailable { a in
            other.utf8.withContiguousStorageIfAvailable { b in Self.asciiCaseInsensitiveEqual(a, b) }
        }
        if let result = fast ?? nil { return result }
        return Self.asciiCaseInsensitiveEqual(Array(utf8), Array(other.utf8))
    }

    private static func asciiCaseInsensitiveEqual<C: RandomAccessCollection<UInt8>>(_ a: C, _ b: C) -> Bool where C.Index == Int {
        for i in a.indices {
            let x = a[i], y = b[i - a.startIndex + b.startIndex]
            guard x != y else { continue }
            let lx = (x >= 65 && x <= 90) ? x | 0x20 : x
            let ly = (y >= 65 && y <= 90) ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }
}

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

    public init(
        header: RecordHeader, eventId: String, callId: String? = nil, registration: String? = nil,
        branch: String? = nil, provider: String? = nil, pushType: PushType? = nil, attempt: Int = 1,
        result: PushResult, status: Int? = nil, reason: String? = nil,
        invalidSince: EventTime? = nil, latencyMs: Int64? = nil, requests: Int? = nil, device: PushDevice? = nil
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
    }
}

/// Where a dead-lettered input came from.
public struct RecordSource: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// `dead-letter` (docs/contract.md §2.6): an input that could not be used, kept with its original bytes.
public struct DeadLetter: Sendable, Hashable {
    public var header: RecordHeader
    public var source: RecordSource
    /// Human-readable; names the field.
    public var error: String
    public var key: [UInt8]?
    public var value: [UInt8]?
    /// Original size of the key when `key` holds only its first bytes (see `capturing`).
    public var keySize: Int?
    /// Original size of the value when `value` holds only its first bytes.
    public var valueSize: Int?

    public init(header: RecordHeader, source: RecordSource, error: String, key: [UInt8]?, value: [UInt8]?,
                keySize: Int? = nil, valueSize: Int? = nil) {
        self.header = header
        self.source = source
        self.error = error
        self.key = key
        self.value = value
        self.keySize = keySize
        self.valueSize = valueSize
    }

    /// Largest original key / value a dead letter carries whole: base64 makes bytes 4/3 larger,
    /// and the dead letter itself must stay within the 64 KiB record limit.
    public static let maxKeyBytes = 1024
    public static let maxValueBytes = 44 * 1024
    /// Longest `error` kept (up to 4 UTF-8 bytes each): with the key and value above and the
    /// envelope, a dead letter is at most about 63 KiB.
    public static let maxErrorScalars = 256

    /// A dead letter for an input, keeping its bytes whole when they fit and otherwise their
    /// first bytes plus the original size; `source` always locates the complete input.
    /// (An oversized input is one reason to dead-letter, so it cannot be copied whole.)
    public static func capturing(header: RecordHeader, source: RecordSource, error: String, key: [UInt8]?, value: [UInt8]?) -> DeadLetter {
        DeadLetter(
            header: header, source: source,
            // Error texts quote what they reject; bounded so the record stays within 64 KiB.
            error: error.unicodeScalars.count > maxErrorScalars
                ? String(String.UnicodeScalarView(error.unicodeScalars.prefix(maxErrorScalars))) + "…" : error,
            key: key.map { Array($0.prefix(maxKeyBytes)) }, value: value.map { Array($0.prefix(maxValueBytes)) },
            keySize: key.flatMap { $0.count > maxKeyBytes ? $0.count : nil },
            valueSize: value.flatMap { $0.count > maxValueBytes ? $0.count : nil })
    }
}

/// Why a record was rejected: which field, and what is wrong with it.
///
/// The `description` is what goes into a dead-letter record's `error`, so it always names the
/// field (`$` for the record as a whole).
public struct ContractError: Error, Sendable, Hashable, CustomStringConvertible {
    /// JSON path of the offending field, e.g. `from.uri`; `$` for the whole record.
    public var field: String
    public var problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { field == "$" ? problem : "\(field): \(problem)" }
}
