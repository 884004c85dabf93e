/// The push provider of a contact: RFC 8599 `pn-provider` (legacy `pn-type` mapped).
///
/// Parsed once where the text enters (`PushParameters`, from a contact URI or `pushfleet push`
/// flags) and printed with `rawValue` where it leaves (state keys, `push.schedule` and
/// `push.outcome` records, metric labels, logs), so the wire keeps the contact's exact bytes;
/// in between, code switches on the cases instead of comparing strings.
///
/// - Important: build one from text with `init(rawValue:)`, never as `.other("apns")`: `other`
///   holds only values that are none of the named cases, or equality would tell them apart.
public enum PushProvider: Sendable, Hashable, RawRepresentable, CustomStringConvertible {
    /// `apns`: APNs production.
    case apns
    /// `apns.dev`: APNs development (the sandbox gateway, `.dev` certificates).
    case apnsDev
    /// `fcm`: Firebase Cloud Messaging.
    case fcm
    /// Any other value as written (`wp`, `wp10`, a legacy `pn-type` passed through): only an
    /// `external-push-uri` serves it.
    case other(String)

    public init(rawValue: String) {
        switch rawValue {
        case "apns": self = .apns
        case "apns.dev": self = .apnsDev
        case "fcm": self = .fcm
        default: self = .other(rawValue)
        }
    }

    public var rawValue: String {
        switch self {
        case .apns: "apns"
        case .apnsDev: "apns.dev"
        case .fcm: "fcm"
        case .other(let value): value
        }
    }

    public var description: String { rawValue }

    /// The release an APNs certificate of this provider is named for (`<topic>.prod`,
    /// `<topic>.dev`, Flexisip's naming); nil for providers other than APNs.
    public var apnsRelease: String? {
        switch self {
        case .apns: "prod"
        case .apnsDev: "dev"
        case .fcm, .other: nil
        }
    }

    /// Served by the APNs sender, production or development.
    public var isAPNs: Bool {
        switch self {
        case .apns, .apnsDev: true
        case .fcm, .other: false
        }
    }
}
