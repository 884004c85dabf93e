public import PushContract

/// Firebase Cloud Messaging bodies (v1 and legacy HTTP) with Flexisip's `data` keys.
///
/// Unlike Flexisip: values are JSON-escaped (its legacy body even missed a comma), and bodies
/// are held to FCM's 4 KiB message limit by shortening the caller's name and URI.
public enum FirebasePayload {
    /// FCM refuses longer TTLs (4 weeks).
    public static let maxTTL = 2_419_200
    public static let maxBodyBytes = 4096

    /// A constant, not a computed list: building the key paths cost an allocation per push.
    private static let shrinkable: [WritableKeyPath<PayloadInputs, String> & Sendable] =
        [\.fromDisplayName, \.locArgs, \.fromURI]

    /// `POST /v1/projects/<project_id>/messages:send` body; the sender knows the project id
    /// (from the service account) and the bearer token.
    public static func v1(_ r: PushRequest, now: EventTime) throws(PayloadError) -> PushPayload {
        let ttl = clampedTTL(r.ttl)
        let sendTime = SendTime.format(now)
        let body = try PayloadFitting.render(r.payload, limit: maxBodyBytes, shrinking: shrinkable) { p, w in
            w.beginObject()
            w.key("message")
            w.beginObject()
            w.member("token", r.destination.token)
            w.key("android")
            w.beginObject()
            w.member("priority", "high")
            w.member("ttl", "\(ttl)s")
            w.key("data")
            data(p, sendTime: sendTime, into: &w)
            w.endObject()
            w.endObject()
            w.endObject()
        }
        return PushPayload(path: nil, headers: [HeaderField("content-type", "application/json")], body: body)
    }

    /// `POST /fcm/send` body; the sender adds `authorization: key=<server key>`.
    /// Kept for gateways that mimic it: Google shut the legacy API down in July 2024.
    public static func legacy(_ r: PushRequest, now: EventTime) throws(PayloadError) -> PushPayload {
        let ttl = clampedTTL(r.ttl)
        let sendTime = SendTime.format(now)
        let body = try PayloadFitting.render(r.payload, limit: maxBodyBytes, shrinking: shrinkable) { p, w in
            w.beginObject()
            w.member("to", r.destination.token)
            w.member("time_to_live", ttl)
            w.member("priority", "high")
            w.key("data")
            data(p, sendTime: sendTime, into: &w)
            w.endObject()
        }
        return PushPayload(path: "/fcm/send", headers: [HeaderField("content-type", "application/json")], body: body)
    }

    static func clampedTTL(_ ttl: Int) -> Int { min(max(0, ttl), maxTTL) }

    /// FCM data values must all be strings, hence `custom-payload` as the text `{}`.
    static func data(_ p: PayloadInputs, sendTime: String, into w: inout JSONWriter) {
        w.beginObject()
        w.member("uuid", p.uuid)
        w.member("from-uri", p.fromURI)
        w.member("display-name", p.fromDisplayName)
        w.member("call-id", p.callId)
        w.member("sip-from", p.locArgs)
        w.member("loc-key", p.locKey)
        w.member("loc-args", p.locArgs)
        w.member("send-time", sendTime)
        w.member("custom-payload", "{}")
        w.endObject()
    }
}
