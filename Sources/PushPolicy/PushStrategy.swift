public import PushContract

/// Flexisip's push strategy: which push type, TTL, delay and payload a branch gets.
public enum PushStrategy {
    /// Decides the push for one `branch.unanswered`. Never throws: every refusal is a
    /// `.skipped` with a reason naming the rule or the bad parameter.
    public static func decide(
        _ e: BranchUnanswered, options: PushNotificationOptions, router: RouterOptions
    ) -> PushDecision {
        let kind: PushKind
        switch NeedsPush.evaluate(e) {
        case .skip(let reason): return .skipped(reason: reason)
        case .push(let k): kind = k
        }
        let params: PushParameters
        do {
            params = try PushParameters(requestUri: e.requestUri)
        } catch {
            return .skipped(reason: OutcomeReason(.pushParams, "invalid push parameters: \(error)"))
        }
        if let reason = senderUnavailable(params.provider, options: options) {
            return .skipped(reason: reason)
        }
        let destinations = Destinations(params)
        let payload = payloadInputs(e, kind: kind, params: params, options: options)
        let delay = max(0, params.timeout ?? options.timeout)

        if kind.isCall {
            let ttl = max(0, e.forkTimeout ?? router.callForkTimeout)
            if let voip = destinations.voip {
                return .push([PushRequest(destination: voip, pushType: .voip, ttl: ttl, delay: delay, payload: payload)])
            }
            // Background pushes cannot ring an iOS device, so APNs falls through to ringing alerts.
            if let background = destinations.background, !background.isAPNs {
                return .push([PushRequest(destination: background, pushType: .background, ttl: ttl, delay: delay, payload: payload)])
            }
            if let message = destinations.message {
                let interval = min(30, max(0, params.callRemotePushInterval ?? options.callRemotePushInterval))
                return .push([PushRequest(destination: message, pushType: .ringing, ttl: 0, collapseId: e.callId,
                                          ringingInterval: interval, delay: delay, callLifetime: ttl, payload: payload)])
            }
            return .skipped(reason: OutcomeReason(.pushParams, "no push destination for a call on provider \(params.provider.rawValue)"))
        }
        let ttl = max(0, options.messageTimeToLive != 0 ? options.messageTimeToLive : router.messageDeliveryTimeout)
        if let message = destinations.message {
            return .push([PushRequest(destination: message, pushType: .message, ttl: ttl, delay: delay, payload: payload)])
        }
        if let background = destinations.background {
            return .push([PushRequest(destination: background, pushType: .background, ttl: ttl, delay: delay, payload: payload)])
        }
        return .skipped(reason: OutcomeReason(.pushParams, "device has only a VoIP token: no message push"))
    }

    /// Flexisip builds no APNs/FCM client when disabled, and none at all for `wp`; an
    /// `external-push-uri` replaces every sender, so then every parsed provider can be served.
    /// The one place that decides it: the strategy skips such a push, and the senders refuse one
    /// that reaches them anyway (`pushfleet push`, a config changed under a schedule).
    public static func senderUnavailable(_ provider: PushProvider, options: PushNotificationOptions) -> OutcomeReason? {
        if !options.externalPushURI.isEmpty { return nil }
        switch provider {
        case .apns, .apnsDev: return options.apple ? nil : OutcomeReason(.disabled, "Apple pushes are disabled (apple=false)")
        case .fcm: return options.firebase ? nil : OutcomeReason(.disabled, "Firebase pushes are disabled (firebase=false)")
        case .other(let value): return OutcomeReason(.disabled, "provider \(value) has no sender")
        }
    }

    /// The destinations a contact supports per push type (Flexisip's `getSupportedPNTypes`).
    struct Destinations {
        var voip: PushDestination?
        var background: PushDestination?
        var message: PushDestination?

        init(_ p: PushParameters) {
            switch p.provider {
            case .apns, .apnsDev:
                break
            case .fcm:
                if let token = p.tokens.first?.token {
                    background = PushDestination(provider: p.provider, token: token, param: p.param, prid: p.prid,
                                                 firebaseProject: p.param)
                }
                return
            case .other:
                // wp/wp10 (served only by a generic sender): Message and VoIP, as Flexisip.
                if let token = p.tokens.first?.token {
                    let d = PushDestination(provider: p.provider, token: token, param: p.param, prid: p.prid)
                    voip = d
                    message = d
                }
                return
            }
            // `PushParameters` resolves the app of every APNs contact (or refuses the contact).
            guard let app = p.apnsApp, let release = p.provider.apnsRelease else { return }
            func destination(_ token: String, topic: String) -> PushDestination {
                PushDestination(provider: p.provider, token: token, param: p.param, prid: p.prid, apnsTopic: topic,
                                apnsCertificateKey: topic + "." + release, apnsTeamId: app.teamId)
            }
            if let token = p.token(for: .voip) {
                voip = destination(token, topic: app.bundleId + ".voip")
            }
            if let token = p.token(for: .remote) {
                background = destination(token, topic: app.bundleId)
                message = background
            }
        }
    }

    /// Shapes the SIP request as Flexisip's `PushInfo`: iOS strings only for APNs (Android
    /// pushes carry an empty loc-key), and `display-from-uri=false` blanks the caller.
    static func payloadInputs(
        _ e: BranchUnanswered, kind: PushKind, params: PushParameters, options: PushNotificationOptions
    ) -> PayloadInputs {
        var p = PayloadInputs(callId: e.callId)
        if options.displayFromURI {
            p.fromURI = e.from.uri
            p.fromDisplayName = cleanDisplayName(e.from.displayName ?? "")
        }
        p.locArgs = p.fromDisplayName.isEmpty ? p.fromURI : p.fromDisplayName
        p.fromTag = e.from.tag ?? ""
        p.toURI = e.to.uri
        p.uuid = unquoted(e.instanceId ?? "")
        p.messageId = e.messageId ?? ""
        p.chatRoomAddr = e.chatRoomAddr ?? ""
        p.body = e.method == "MESSAGE" ? (e.body ?? "") : ""
        p.event = kind.isCall ? .call : .message
        if params.isAPNs {
            let s = params.strings
            switch kind {
            case .call: p.locKey = s.call
            case .message: p.locKey = e.method == "MESSAGE" ? s.message : s.groupChat
            case .refer: p.locKey = PushStrings.referLocKey
            }
            p.sound = kind.isCall ? s.callSound : s.messageSound
            p.missingCall = s.missingCall
            p.acceptedElsewhere = s.acceptedElsewhere
            p.declinedElsewhere = s.declinedElsewhere
        }
        return p
    }

    static func cleanDisplayName(_ name: String) -> String {
        var u = Substring(name).trimmingASCIIWhitespace().utf8
        while u.first == UInt8(ascii: "\"") { u = u.dropFirst() }
        while u.last == UInt8(ascii: "\"") { u = u.dropLast() }
        return String(Substring(u))
    }

    static func unquoted(_ s: String) -> String {
        let u = s.utf8
        return u.count >= 2 && u.first == UInt8(ascii: "\"") && u.last == UInt8(ascii: "\"")
            ? String(Substring(u.dropFirst().dropLast())) : s
    }
}
