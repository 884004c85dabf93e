/// JSON body of `push.outcome` (docs/contract.md §2.5).
///
/// `callId` or `registration` must be present (a call/message push or a register wake-up);
/// `branch`, `provider`, `pushType` and `device` are optional because a `skipped` decision may be
/// taken before a branch or device is known. `device` is not required for the other results
/// either when decoding, so that outcomes written before contract 1.1 still read.
extension PushOutcome {
    init(header: RecordHeader, _ r: JSONObjectReader) throws(ContractError) {
        let callId = try r.optionalString("callId")
        let registration = try r.optionalString("registration")
        guard callId != nil || registration != nil else {
            throw ContractError(field: "callId", problem: "missing (one of callId or registration is required)")
        }
        var device: PushDevice?
        if let d = try r.optionalObject("device") {
            device = PushDevice(provider: try d.string("provider"), param: try d.string("param"), prid: try d.string("prid"),
                                aor: try d.string("aor"), instanceId: try d.optionalString("instanceId"))
        }
        self.init(
            header: header,
            eventId: try r.string("eventId"),
            callId: callId,
            registration: registration,
            branch: try r.optionalString("branch"),
            provider: try r.optionalString("provider"),
            pushType: try r.optionalEnumeration("pushType"),
            attempt: Int(try r.integer("attempt", in: 1...Int64(Int32.max))),
            result: try r.enumeration("result"),
            status: try r.optionalInteger("status", in: 100...599).map { Int($0) },
            reason: try r.optionalString("reason"),
            invalidSince: try r.optionalTime("invalidSince"),
            latencyMs: try r.optionalInteger("latencyMs", in: 0...Int64(Int32.max) * 1000),
            requests: try r.optionalInteger("requests", in: 0...Int64(Int32.max)).map { Int($0) },
            device: device)
    }
}

extension RecordEncoder {
    public static func encode(_ outcome: PushOutcome) -> [UInt8] {
        var w = JSONWriter(capacity: 384)
        w.beginObject()
        w.recordHeader(type: "push.outcome", outcome.header)
        w.member("eventId", outcome.eventId)
        w.member("callId", outcome.callId)
        w.member("registration", outcome.registration)
        w.member("branch", outcome.branch)
        w.member("provider", outcome.provider)
        w.member("pushType", outcome.pushType?.rawValue)
        w.member("attempt", outcome.attempt)
        w.member("result", outcome.result.rawValue)
        w.member("status", outcome.status)
        w.member("reason", outcome.reason)
        w.member("invalidSince", outcome.invalidSince)
        w.member("latencyMs", outcome.latencyMs)
        w.member("requests", outcome.requests)
        if let device = outcome.device {
            w.key("device")
            w.beginObject()
            w.member("provider", device.provider)
            w.member("param", device.param)
            w.member("prid", device.prid)
            w.member("aor", device.aor)
            w.member("instanceId", device.instanceId)
            w.endObject()
        }
        w.endObject()
        return w.bytes
    }
}
