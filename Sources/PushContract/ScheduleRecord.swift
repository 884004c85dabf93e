/// One pending push schedule, as kept in `pushfleet.state` (docs/contract.md §1): worker-internal, but
/// versioned and validated like every record, because a worker of another version may restore it.
///
/// The schedule keeps the original `branch.unanswered` bytes rather than a decoded push request:
/// a worker that restores it re-derives the request with its own policy code and config, and the
/// in-memory footprint stays near the size of the event (the ≤ 1 KiB-per-schedule budget).
public struct ScheduleRecord: Sendable, Hashable {
    /// Lifecycle of a branch's pushes.
    public enum Phase: String, Sendable, Hashable, CaseIterable {
        /// Waiting for the next push (first send, retransmission or ringing repetition).
        case pending
        /// The device answered (≥ 180): no more pushes; kept until the call ends or expires.
        case awake
        /// The call ended: the final alert of a ringing branch is due at `nextAt`.
        case final
        /// Finished; kept until `nextAt` so that re-deliveries of its events have no effect,
        /// then tombstoned.
        case done
    }

    /// `id` = the source event id, `time` = when this state was written.
    public var header: RecordHeader
    /// The state key: Flexisip's push-context key `callId:provider:param:prid`.
    public var key: String
    public var callId: String
    public var branch: String
    /// Time of the `branch.unanswered` (delays and TTLs count from it).
    public var eventTime: EventTime
    /// Which of the policy's push requests for that event this schedule sends.
    public var requestIndex: Int
    public var provider: String
    public var pushType: PushType
    public var phase: Phase
    /// Pushes sent (attempted) so far; the next push is `attempt + 1`.
    public var attempt: Int
    /// When the next action (push, final push, purge) is due; nil = nothing scheduled.
    public var nextAt: EventTime?
    public var retransmissionsLeft: Int
    /// Ringing repetitions stop here (event time + call-fork-timeout); then the final push.
    public var ringingUntil: EventTime?
    /// Why the call ended, for the final push.
    public var finalReason: CallEndReason?
    /// The original `branch.unanswered` record value.
    public var event: [UInt8]

    public init(
        header: RecordHeader, key: String, callId: String, branch: String, eventTime: EventTime, requestIndex: Int,
        provider: String, pushType: PushType, phase: Phase, attempt: Int, nextAt: EventTime?,
        retransmissionsLeft: Int, ringingUntil: EventTime?, finalReason: CallEndReason?, event: [UInt8]
    ) {
        self.header = header
        self.key = key
        self.callId = callId
        self.branch = branch
        self.eventTime = eventTime
        self.requestIndex = requestIndex
        self.provider = provider
        self.pushType = pushType
        self.phase = phase
        self.attempt = attempt
        self.nextAt = nextAt
        self.retransmissionsLeft = retransmissionsLeft
        self.ringingUntil = ringingUntil
        self.finalReason = finalReason
        self.event = event
    }
}

extension ScheduleRecord {
    init(header: RecordHeader, _ r: JSONObjectReader) throws(ContractError) {
        // Empty for `done` markers, which drop the event.
        guard let event = Base64.decode(try r.string("event", nonEmpty: false)) else {
            throw ContractError(field: "event", problem: "not valid base64")
        }
        self.init(
            header: header,
            key: try r.string("key"),
            callId: try r.string("callId"),
            branch: try r.string("branch"),
            eventTime: try r.time("eventTime"),
            requestIndex: Int(try r.integer("requestIndex", in: 0...64)),
            provider: try r.string("provider"),
            pushType: try r.enumeration("pushType"),
            phase: try r.enumeration("phase"),
            attempt: Int(try r.integer("attempt", in: 0...Int64(Int32.max))),
            nextAt: try r.optionalTime("nextAt"),
            retransmissionsLeft: Int(try r.integer("retransmissionsLeft", in: 0...Int64(Int32.max))),
            ringingUntil: try r.optionalTime("ringingUntil"),
            finalReason: try r.optionalEnumeration("finalReason"),
            event: event)
    }
}

extension RecordDecoder {
    public static func decodeSchedule(_ bytes: UnsafeRawBufferPointer) throws(ContractError) -> ScheduleRecord {
        try decode(bytes, expecting: .only(.pushSchedule)) { reader, _, header throws(ContractError) in
            try ScheduleRecord(header: header, reader)
        }
    }

    public static func decodeSchedule(_ bytes: [UInt8]) throws(ContractError) -> ScheduleRecord {
        try bytes.withContractBytes { (raw) throws(ContractError) in try decodeSchedule(raw) }
    }
}

extension RecordEncoder {
    public static func encode(_ s: ScheduleRecord) -> [UInt8] {
        var w = JSONWriter(capacity: 512 + s.event.count * 4 / 3)
        w.beginObject()
        w.recordHeader(type: "push.schedule", s.header)
        w.member("key", s.key)
        w.member("callId", s.callId)
        w.member("branch", s.branch)
        w.member("eventTime", s.eventTime)
        w.member("requestIndex", s.requestIndex)
        w.member("provider", s.provider)
        w.member("pushType", s.pushType.rawValue)
        w.member("phase", s.phase.rawValue)
        w.member("attempt", s.attempt)
        w.member("nextAt", s.nextAt)
        w.member("retransmissionsLeft", s.retransmissionsLeft)
        w.member("ringingUntil", s.ringingUntil)
        w.member("finalReason", s.finalReason?.rawValue)
        w.member("event", Base64.encode(s.event))
        w.endObject()
        return w.bytes
    }
}
