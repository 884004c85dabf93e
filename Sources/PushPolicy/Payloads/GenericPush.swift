/// `external-push-uri`, parsed once into literal text and `$variables`.
///
/// Unlike Flexisip, every occurrence of a variable is substituted (it replaced only the first),
/// and each value is percent-encoded down to RFC 3986's unreserved set, so a SIP value can
/// add no path segment, query parameter, fragment or header line to the request.
public struct GenericPushTemplate: Sendable, Hashable {
    public enum Variable: String, Sendable, Hashable, CaseIterable {
        case type = "$type"
        case token = "$token"
        case apiKey = "$api-key"
        case appId = "$app-id"
        case fromName = "$from-name"
        case fromURI = "$from-uri"
        case fromTag = "$from-tag"
        case toURI = "$to-uri"
        case callId = "$call-id"
        case event = "$event"
        case sound = "$sound"
        case msgid = "$msgid"
        case uid = "$uid"
    }

    enum Part: Sendable, Hashable {
        case literal(String)
        case variable(Variable)
    }

    let parts: [Part]
    public var method: PushNotificationOptions.HTTPMethod

    /// Longest names first, so a name that prefixes another could never shadow it.
    private static let byLength = Variable.allCases.sorted { $0.rawValue.utf8.count > $1.rawValue.utf8.count }

    public init(uri: String, method: PushNotificationOptions.HTTPMethod) throws(PayloadError) {
        guard !uri.isEmpty else {
            throw PayloadError(field: "external-push-uri", problem: "empty")
        }
        self.method = method
        var parts: [Part] = []
        var literal = ""
        var rest = Substring(uri)
        while let c = rest.first {
            if c == "$", let v = Self.byLength.first(where: { rest.hasPrefix($0.rawValue) }) {
                if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
                parts.append(.variable(v))
                rest = rest.dropFirst(v.rawValue.count)
            } else {
                literal.append(c)
                rest = rest.dropFirst()
            }
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// The variables the template uses, in order (for config checks and tests).
    public var variables: [Variable] {
        parts.compactMap { if case .variable(let v) = $0 { v } else { nil } }
    }

    /// The request for one push: `path` holds the whole substituted URL; the body is the
    /// MESSAGE text as `text/plain`, as Flexisip.
    public func payload(for r: PushRequest, options: PushNotificationOptions) -> PushPayload {
        var url = ""
        for part in parts {
            switch part {
            case .literal(let s): url += s
            case .variable(let v): url += Self.percentEncoded(Self.value(v, r, options))
            }
        }
        let body = Array(r.payload.body.utf8)
        let headers = body.isEmpty ? [] : [HeaderField("content-type", "text/plain")]
        return PushPayload(method: method.rawValue, path: url, headers: headers, body: body)
    }

    static func value(_ v: Variable, _ r: PushRequest, _ options: PushNotificationOptions) -> String {
        let d = r.destination, p = r.payload
        switch v {
        case .type:
            switch d.provider {
            case .apns, .apnsDev: return "apple"
            case .fcm: return "firebase"
            case .other(let value): return value
            }
        case .token: return d.token
        case .apiKey:
            guard case .fcm = d.provider else { return "" }
            return options.firebaseProjectsAPIKeys.first { $0.project == d.param }?.value ?? ""
        case .appId: return d.appId
        case .fromName: return p.fromDisplayName
        case .fromURI: return p.fromURI
        case .fromTag: return p.fromTag
        case .toURI: return p.toURI
        case .callId: return p.callId
        case .event: return p.event.rawValue
        case .sound: return p.sound
        case .msgid: return p.messageId
        case .uid: return p.uuid
        }
    }

    /// Percent-encodes every byte outside RFC 3986 `unreserved` (ALPHA / DIGIT / `-._~`).
    package static func percentEncoded(_ s: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(b)
            default:
                out.append(contentsOf: [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
