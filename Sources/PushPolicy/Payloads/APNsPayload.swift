public import PushContract

/// APNs requests (`POST /3/device/<token>`) with Flexisip's bodies and keys, in its order.
///
/// Unlike Flexisip: values are JSON-escaped, the size limits are Apple's (4 KiB, 5 KiB for
/// VoIP) instead of a 2048-byte buffer, oversize bodies are shortened field by field instead
/// of dropped, and background pushes use `apns-priority: 5` as Apple requires.
public enum APNsPayload {
    public static let maxBodyBytes = 4096
    public static let maxVoIPBodyBytes = 5120
    /// Apple rejects longer `apns-collapse-id` values.
    public static let maxCollapseIdBytes = 64

    /// A constant, not a computed list: building the key paths cost an allocation per push.
    private static let shrinkable: [WritableKeyPath<PayloadInputs, String> & Sendable] =
        [\.fromDisplayName, \.locArgs, \.fromURI, \.chatRoomAddr]

    public static func build(_ r: PushRequest, options: PushNotificationOptions, now: EventTime) throws(PayloadError) -> PushPayload {
        guard PushParameters.isAPNsToken(r.destination.token) else {
            throw PayloadError(field: "token", problem: "APNs token must be 64 alphanumeric characters")
        }
        guard let topic = r.destination.apnsTopic, !topic.isEmpty else {
            throw PayloadError(field: "apns-topic", problem: "missing bundle id")
        }
        let sendTime = SendTime.format(now)
        // Captured alone: a closure using `r.ttl` copied the whole request (every string in it).
        let ttl = r.ttl
        let badge = options.noBadge ? 0 : 1
        let pushType: String
        let priority: String
        let body: [UInt8]
        switch r.pushType {
        case .voip:
            (pushType, priority) = ("voip", "10")
            body = try PayloadFitting.render(r.payload, limit: maxVoIPBodyBytes, shrinking: shrinkable) {
                silentBody($0, background: false, ttl: ttl, sendTime: sendTime, into: &$1)
            }
        case .background, .wakeup:
            (pushType, priority) = ("background", "5")
            body = try PayloadFitting.render(r.payload, limit: maxBodyBytes, shrinking: shrinkable) {
                silentBody($0, background: true, ttl: ttl, sendTime: sendTime, into: &$1)
            }
        case .message, .ringing, .final:
            (pushType, priority) = ("alert", "10")
            body = try PayloadFitting.render(r.payload, limit: maxBodyBytes, shrinking: shrinkable) {
                alertBody($0, badge: badge, ttl: ttl, sendTime: sendTime, into: &$1)
            }
        }
        // Saturating: a hostile `forkTimeout` must not overflow the expiration and trap.
        let (sum, overflow) = (now.millisecondsSince1970 / 1000).addingReportingOverflow(Int64(r.ttl))
        let expiration = r.ttl > 0 ? (overflow ? Int64.max : sum) : 0
        var headers = [
            HeaderField("apns-expiration", String(expiration)),
            HeaderField("apns-topic", topic),
            HeaderField("apns-push-type", pushType),
            HeaderField("apns-priority", priority),
        ]
        if let collapse = r.collapseId {
            headers.append(HeaderField("apns-collapse-id", collapseId(collapse)))
        }
        return PushPayload(path: "/3/device/" + r.destination.token, headers: headers, body: body)
    }

    /// VoIP and background bodies differ only in the first `aps` keys.
    static func silentBody(_ p: PayloadInputs, background: Bool, ttl: Int, sendTime: String, into w: inout JSONWriter) {
        w.beginObject()
        w.key("aps")
        w.beginObject()
        if background {
            w.member("badge", 0)
            w.member("content-available", 1)
        } else {
            w.member("sound", "")
        }
        w.member("loc-key", p.locKey)
        w.key("loc-args")
        w.beginArray()
        w.value(p.locArgs)
        w.endArray()
        w.member("call-id", p.callId)
        w.member("uuid", p.uuid)
        w.member("send-time", sendTime)
        w.endObject()
        w.member("from-uri", p.fromURI)
        w.member("display-name", p.fromDisplayName)
        w.member("pn_ttl", ttl)
        w.key("customPayload")
        w.beginObject()
        w.endObject()
        w.endObject()
    }

    /// Flexisip's "remote with mutable content" alert, used for messages and ringing calls.
    static func alertBody(_ p: PayloadInputs, badge: Int, ttl: Int, sendTime: String, into w: inout JSONWriter) {
        w.beginObject()
        w.key("aps")
        w.beginObject()
        w.key("alert")
        w.beginObject()
        w.member("loc-key", p.locKey)
        w.key("loc-args")
        w.beginArray()
        w.value(p.locArgs)
        w.endArray()
        w.endObject()
        w.member("sound", p.sound)
        w.member("mutable-content", 1)
        w.member("badge", badge)
        w.endObject()
        w.member("from-uri", p.fromURI)
        w.member("display-name", p.fromDisplayName)
        w.member("call-id", p.callId)
        w.member("pn_ttl", ttl)
        w.member("uuid", p.uuid)
        w.member("send-time", sendTime)
        w.member("chat-room-addr", p.chatRoomAddr)
        w.key("customPayload")
        w.beginObject()
        w.endObject()
        w.endObject()
    }

    /// The Call-ID as a header value Apple accepts: bytes outside visible ASCII are
    /// percent-encoded (no CR/LF can reach a header) and an id over 64 bytes keeps a prefix plus
    /// a hash of the whole, so repetitions of one call still collapse and two calls rarely do.
    static func collapseId(_ callId: String) -> String {
        var safe = ""
        for b in callId.utf8 {
            if b > 0x20, b < 0x7F, b != UInt8(ascii: "%") {
                safe.unicodeScalars.append(Unicode.Scalar(b))
            } else {
                safe += "%" + String(b, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        guard safe.utf8.count > maxCollapseIdBytes else { return safe }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a: stable across processes, unlike Hasher.
        for b in callId.utf8 {
            hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3
        }
        let digest = String(hash, radix: 16).leftPadded(to: 16)
        return String(safe.utf8.prefix(maxCollapseIdBytes - 17))! + "-" + digest
    }
}
