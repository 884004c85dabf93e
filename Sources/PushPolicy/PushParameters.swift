public import PushContract

/// Why a contact's push parameters cannot be used: which parameter, and what is wrong with it.
///
/// Never thrown past the policy: the strategy turns it into a `skipped` decision.
public struct PushParameterError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The URI parameter at fault (`pn-prid`, `pn-param`, …), or `requestUri` for the whole URI.
    public var parameter: String
    public var reason: String

    public init(parameter: String, reason: String) {
        self.parameter = parameter
        self.reason = reason
    }

    public var description: String { "\(parameter): \(reason)" }
}

/// An APNs service a token is registered for (RFC 8599 `pn-param` suffix / `pn-prid` `:service`).
public enum PushService: String, Sendable, Hashable, CaseIterable {
    /// Alert and background pushes.
    case remote
    /// PushKit pushes.
    case voip
}

/// One device token and the service it was issued for.
public struct PushToken: Sendable, Hashable {
    public var service: PushService
    public var token: String

    public init(service: PushService, token: String) {
        self.service = service
        self.token = token
    }
}

/// The iOS app of an APNs `pn-param`: `TEAMID.bundle.id[.SERVICES]`.
public struct APNsApp: Sendable, Hashable {
    public var teamId: String
    /// Bundle id without the services suffix; the `apns-topic` of remote pushes.
    public var bundleId: String

    public init(teamId: String, bundleId: String) {
        self.teamId = teamId
        self.bundleId = bundleId
    }
}

/// iOS strings and sounds a contact may set; empty or absent values take Flexisip's defaults.
public struct PushStrings: Sendable, Hashable {
    public var call = "IC_MSG"
    public var message = "IM_MSG"
    public var groupChat = "GC_MSG"
    public var callSound = "empty"
    public var messageSound = "empty"
    public var missingCall = "Missing call"
    public var acceptedElsewhere = "Accepted elsewhere"
    public var declinedElsewhere = "Declined elsewhere"

    public init() {}

    /// Loc-key of a REFER, fixed in Flexisip (not configurable per contact).
    public static let referLocKey = "IC_SIL"
}

/// The push parameters of a registered contact URI (RFC 8599, or Linphone's legacy ones).
public struct PushParameters: Sendable, Hashable {
    /// `apns`, `apns.dev`, `fcm`, `wp`, `wp10`, or another value passed through from legacy `pn-type`.
    public var provider: PushProvider
    /// `pn-param` (legacy: derived from `app-id`); the Firebase project number for `fcm`.
    public var param: String
    /// `pn-prid` as written (legacy: `pn-tok`), part of the dedup key.
    public var prid: String
    /// The tokens of `pn-prid`, one per service.
    public var tokens: [PushToken]
    /// Set for `apns`/`apns.dev`.
    public var apnsApp: APNsApp?
    /// True when read from `pn-type`/`pn-tok`/`app-id`.
    public var isLegacy: Bool
    /// `pn-timeout`: seconds before the push, overriding the module's `timeout`.
    public var timeout: Int?
    /// `pn-call-remote-push-interval`: overrides `call-remote-push-interval`.
    public var callRemotePushInterval: Int?
    public var strings: PushStrings

    public var isAPNs: Bool { provider.isAPNs }

    /// The token for `service`, if the device registered one.
    public func token(for service: PushService) -> String? {
        tokens.first { $0.service == service }?.token
    }

    /// Parses a branch's `requestUri`. RFC 8599 wins when `pn-provider` is present, else legacy
    /// when `pn-tok` is present, else there are no push parameters (as Flexisip).
    public init(requestUri: String) throws(PushParameterError) {
        guard let uri = SIPURI(requestUri) else {
            throw PushParameterError(parameter: "requestUri", reason: "not a SIP URI")
        }
        try self.init(uri: uri)
    }

    public init(uri: SIPURI) throws(PushParameterError) {
        if uri.parameter("pn-provider") != nil {
            let provider = PushProvider(rawValue: try Self.required("pn-provider", in: uri))
            let prid = try Self.required("pn-prid", in: uri)
            let param = try Self.required("pn-param", in: uri)
            self.init(provider: provider, param: param, prid: prid, isLegacy: false)
        } else if uri.parameter("pn-tok") != nil {
            let type = try Self.required("pn-type", in: uri)
            let appId = try Self.required("app-id", in: uri)
            let token = try Self.required("pn-tok", in: uri)
            let (provider, param) = Self.legacyMapping(type: type, appId: appId)
            self.init(provider: provider, param: param, prid: token, isLegacy: true)
        } else {
            throw PushParameterError(parameter: "requestUri", reason: "no push parameters")
        }
        try resolveTokens()
        timeout = uri.parameter("pn-timeout").flatMap(Self.integer)
        callRemotePushInterval = uri.parameter("pn-call-remote-push-interval").flatMap(Self.integer)
        strings = Self.strings(from: uri)
    }

    /// RFC 8599 parameters given one by one (`pushfleet push --pn-provider … --pn-param …
    /// --pn-prid …`), checked exactly as a contact's would be.
    public init(provider: String, param: String, prid: String) throws(PushParameterError) {
        for (name, value) in [("pn-provider", provider), ("pn-param", param), ("pn-prid", prid)] where value.isEmpty {
            throw PushParameterError(parameter: name, reason: "missing or empty")
        }
        self.init(provider: PushProvider(rawValue: provider), param: param, prid: prid, isLegacy: false)
        try resolveTokens()
    }

    private init(provider: PushProvider, param: String, prid: String, isLegacy: Bool) {
        self.provider = provider
        self.param = param
        self.prid = prid
        self.isLegacy = isLegacy
        self.tokens = []
        self.strings = PushStrings()
    }

    /// Legacy `pn-type`/`app-id` → RFC 8599 provider and param, as Flexisip 2.3's
    /// `setFromLegacyParams`: `apple` → `apns.dev` when `app-id` ends in `.dev`, else `apns`, with
    /// param `ABCD1234.` (Flexisip's placeholder team id) + `app-id` up to its last `.`, whatever
    /// follows it (`.prod`, `.dev`, or a bundle segment when the app id has no release suffix:
    /// `org.linphone.phone` → `ABCD1234.org.linphone`); an `app-id` without a `.` is kept whole.
    /// Matching Flexisip keeps the dedup key and the certificate a legacy device gets the same
    /// as in the proxy it moves from. `android`/`firebase`/`google` → `fcm`; anything else passes through.
    static func legacyMapping(type: String, appId: String) -> (provider: PushProvider, param: String) {
        switch type {
        case "apple":
            let isDev = appId.hasSuffix(".dev")
            let bundle = appId.utf8.lastIndex(of: UInt8(ascii: ".")).map { Substring(appId.utf8[..<$0]) } ?? Substring(appId)
            return (isDev ? .apnsDev : .apns, "ABCD1234." + bundle)
        case "android", "firebase", "google":
            return (.fcm, appId)
        default:
            return (PushProvider(rawValue: type), appId)
        }
    }

    /// Splits `pn-prid` into tokens per service and checks them against `pn-param`.
    private mutating func resolveTokens() throws(PushParameterError) {
        switch provider {
        case .apns, .apnsDev:
            break
        case .fcm, .other("wp"), .other("wp10"):
            tokens = [PushToken(service: .remote, token: prid)]
            return
        case .other(let value):
            throw PushParameterError(parameter: isLegacy ? "pn-type" : "pn-provider",
                                     reason: "'\(value)' provider not supported")
        }
        let (app, services) = try Self.parseAPNsParam(param)
        apnsApp = app
        if isLegacy {
            // Legacy tokens carry no `:service`; the app id alone says which service it is.
            tokens = [PushToken(service: services[0], token: prid)]
        } else {
            tokens = try Self.parsePrid(prid, services: services)
        }
        for t in tokens where !Self.isAPNsToken(t.token) {
            throw PushParameterError(parameter: isLegacy ? "pn-tok" : "pn-prid",
                                     reason: "APNs token must be 64 alphanumeric characters")
        }
    }

    /// `TEAMID.bundle.id.SERVICES`; no recognised suffix means `remote`. Split on UTF-8 bytes
    /// (every delimiter is ASCII): this runs for every push decision.
    static func parseAPNsParam(_ param: String) throws(PushParameterError) -> (APNsApp, [PushService]) {
        let u = param.utf8
        guard let firstDot = u.firstIndex(of: UInt8(ascii: ".")),
              firstDot != u.startIndex, u.index(after: firstDot) < u.endIndex else {
            throw PushParameterError(parameter: "pn-param", reason: "invalid syntax, expected TEAMID.bundle.id[.services]")
        }
        let teamId = String(Substring(u[..<firstDot]))
        let rest = u[u.index(after: firstDot)...]
        if let lastDot = rest.lastIndex(of: UInt8(ascii: ".")), rest.startIndex < lastDot,
           let services = parseServices(Substring(rest[rest.index(after: lastDot)...])) {
            return (APNsApp(teamId: teamId, bundleId: String(Substring(rest[..<lastDot]))), services)
        }
        return (APNsApp(teamId: teamId, bundleId: String(Substring(rest))), [.remote])
    }

    /// `remote`, `voip`, `remote&voip`…; nil when the segment is not a services list.
    static func parseServices(_ segment: Substring) -> [PushService]? {
        var services: [PushService] = []
        for part in segment.utf8.split(separator: UInt8(ascii: "&")) {
            guard let service = PushService(rawValue: String(Substring(part))) else { return nil }
            if !services.contains(service) { services.append(service) }
        }
        return services.isEmpty ? nil : services
    }

    /// `token[:service]` for one token, `tok1:service&tok2:service` for several.
    static func parsePrid(_ prid: String, services: [PushService]) throws(PushParameterError) -> [PushToken] {
        let parts = prid.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: false)
        guard parts.count == services.count else {
            throw PushParameterError(parameter: "pn-prid",
                                     reason: "pn-param declares \(services.count) service(s), whereas there is/are \(parts.count) token(s) in pn-prid")
        }
        var tokens: [PushToken] = []
        for part in parts {
            let pieces = part.split(separator: UInt8(ascii: ":"), maxSplits: 1, omittingEmptySubsequences: false)
            guard !pieces[0].isEmpty else {
                throw PushParameterError(parameter: "pn-prid", reason: "invalid syntax (empty token)")
            }
            let service: PushService
            if pieces.count == 2 {
                guard let s = PushService(rawValue: String(Substring(pieces[1]))) else {
                    throw PushParameterError(parameter: "pn-prid", reason: "invalid syntax (service must be voip or remote)")
                }
                service = s
            } else if parts.count == 1 {
                service = services[0]
            } else {
                throw PushParameterError(parameter: "pn-prid", reason: "invalid syntax (several tokens need token:service)")
            }
            guard services.contains(service), !tokens.contains(where: { $0.service == service }) else {
                throw PushParameterError(parameter: "pn-prid", reason: "service mismatch between pn-param and pn-prid")
            }
            tokens.append(PushToken(service: service, token: String(Substring(pieces[0]))))
        }
        return tokens
    }

    /// The token check of Flexisip: 64 alphanumeric characters. APNs tokens are 32 bytes written
    /// in hex, but a stricter check than Flexisip's would skip a device the proxy it replaces
    /// pushed (APNs itself answers `BadDeviceToken` for a bad one, which ends the schedule);
    /// what matters here is that the token is safe in `/3/device/<token>`, and it is.
    static func isAPNsToken(_ token: String) -> Bool {
        // A plain loop over the contiguous UTF-8 (every push checks its token): `allSatisfy` on
        // the UTF8View did not inline across the closure and showed in the sender's profile.
        func isAlphanumeric(_ c: UInt8) -> Bool { (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        let fast = token.utf8.withContiguousStorageIfAvailable { bytes in
            guard bytes.count == 64 else { return false }
            for c in bytes where !isAlphanumeric(c) { return false }
            return true
        }
        return fast ?? (token.utf8.count == 64 && token.utf8.allSatisfy(isAlphanumeric))
    }

    private static func required(_ name: String, in uri: SIPURI) throws(PushParameterError) -> String {
        guard let value = uri.parameter(name), !value.isEmpty else {
            throw PushParameterError(parameter: name, reason: "missing or empty")
        }
        return value
    }

    /// A malformed per-contact number is ignored (the module option applies) rather than
    /// costing the device its push.
    private static func integer(_ text: String) -> Int? {
        Int(text.utf8.count <= 9 ? text : "")
    }

    private static func strings(from uri: SIPURI) -> PushStrings {
        var s = PushStrings()
        func read(_ name: String, _ field: WritableKeyPath<PushStrings, String>) {
            if let v = uri.parameter(name), !v.isEmpty { s[keyPath: field] = v }
        }
        read("pn-call-str", \.call)
        read("pn-msg-str", \.message)
        read("pn-groupchat-str", \.groupChat)
        read("pn-call-snd", \.callSound)
        read("pn-msg-snd", \.messageSound)
        read("pn-missing-call-str", \.missingCall)
        read("pn-call-accepted-elsewhere-str", \.acceptedElsewhere)
        read("pn-call-declined-elsewhere-str", \.declinedElsewhere)
        return s
    }
}

extension PushParameters {
    /// The device as `push.outcome` names it, for outcomes decided without a push request (a
    /// wake-up skipped for a VoIP-only device, a push the policy no longer gives): the same
    /// values `PushRequest.device` gives.
    public func device(aor: String, instanceId: String?) -> PushDevice {
        let instance = PushStrategy.unquoted(instanceId ?? "")
        return PushDevice(provider: provider.rawValue, param: param, prid: prid, aor: aor, instanceId: instance.isEmpty ? nil : instance)
    }
}
