public import PushContract

/// Firebase Cloud Messaging bodies (v1 and legacy HTTP) with Flexisip's `data` keys.
///
/// Unlike Flexisip: values are JSON-escaped (its legacy body even missed a comma), and bodies
/// are held to FCM's 4 KiB message limit by shortening the caller's name and URI.
public enum FirebasePayload {
    /// FCM refuses longer TTLs (4 weeks).
    public static let maxTTL = 2_419_200
    public static let maxBodyBytes = 4096

    private static var shrinkable: [WritableKeyPath<PayloadInputs, String>] {
        [\.fromDisplayName, \.locArgs, \.fromURI]
    }

    /// `POST /v1/projects/<project_id>/messages:send` body; the sender knows the project id
    /// (from the service account) and the bearer token.
    public static func v1(_ r: PushRequest, now: EventTime) throws(PayloadError) -> PushPayload {
        let ttl = clampedTTL(r.ttl)
        let body = try PayloadFitting.render(r.payload, limit: maxBodyBytes, shrinking: shrinkable) {
            .object([("message", .object([
                ("token", .string(r.destination.token)),
                ("android", .object([
                    ("priority", .string("high")),
                    ("ttl", .string("\(ttl)s")),
                    ("data", data($0, sendTime: SendTime.format(now))),
                ])),
            ]))])
        }
        return PushPayload(path: nil, headers: [HeaderField("content-type", "application/json")], body: body)
    }

    /// `POST /fcm/send` body; the sender adds `authorization: key=<server key>`.
    /// Kept for gateways that mimic it: Google shut the legacy API down in July 2024.
    public static func legacy(_ r: PushRequest, now: EventTime) throws(PayloadError) -> PushPayload {
        let ttl = clampedTTL(r.ttl)
        let body = try PayloadFitting.render(r.payload, limit: maxBodyBytes, shrinking: shrinkable) {
            .object([
                ("to", .string(r.destination.token)),
                ("time_to_live", .int(ttl)),
                ("priority", .string("high")),
                ("data", data($0, sendTime: SendTime.format(now))),
            ])
        }
        return PushPayload(path: "/fcm/send", headers: [HeaderField("content-type", "application/json")], body: body)
    }

    static func clampedTTL(_ ttl: Int) -> Int { min(max(0, ttl), maxTTL) }

    /// FCM data values must all be strings, hence `custom-payload` as the text `{}`.
    static func data(_ p: PayloadInputs, sendTime: String) -> JSONValue {
        .object([
            ("uuid", .string(p.uuid)),
            ("from-uri", .string(p.fromURI)),
            ("display-name", .string(p.fromDisplayName)),
            ("call-id", .string(p.callId)),
            ("sip-from", .string(p.locArgs)),
            ("loc-key", .string(p.locKey)),
            ("loc-args", .string(p.locArgs)),
            ("send-time", .string(sendTime)),
            ("custom-payload", .string("{}")),
        ])
    }
}
