public import PushContract

extension PushStrategy {
    /// One push of the type an operator asks for (`pushfleet push --type`, Flexisip's
    /// `flexisip_pusher`), shaped as the worker shapes that type for this contact: the same
    /// destinations, TTLs and payload inputs as `decide`, so what the command sends is what a
    /// worker would send.
    ///
    /// Where the worker would send another type, so does this, and the returned request says
    /// which: a device without that push (FCM has no VoIP or alert push) gets the push the
    /// worker gives it instead (background), as `decide` falls through. A type the contact has
    /// no token for at all (`voip` to an APNs contact that registered only `remote`) is an error
    /// naming the parameter.
    ///
    /// - Parameters:
    ///   - contact: the contact URI (built or given), the `to` of the payload.
    ///   - now: the event time a worker would count from.
    public static func forced(
        _ type: PushType, params: PushParameters, callId: String, contact: String,
        options: PushNotificationOptions, router: RouterOptions, now: EventTime
    ) throws(PushParameterError) -> PushRequest {
        let kind: PushKind = type == .message ? .message : .call
        let event = BranchUnanswered(
            header: RecordHeader(id: "pushfleet-push", time: now), callId: callId, branch: "pushfleet-push",
            method: kind.isCall ? "INVITE" : "MESSAGE", requestUri: contact,
            from: SIPAddress(uri: "sip:pushfleet@localhost", displayName: "pushfleet push"), to: SIPAddress(uri: contact))
        let payload = payloadInputs(event, kind: kind, params: params, options: options)
        let destinations = Destinations(params)
        let callTTL = max(0, router.callForkTimeout)
        let messageTTL = max(0, options.messageTimeToLive != 0 ? options.messageTimeToLive : router.messageDeliveryTimeout)
        func missing(_ what: String) -> PushParameterError {
            let services = params.tokens.map(\.service.rawValue).joined(separator: "&")
            return PushParameterError(parameter: params.isAPNs ? "pn-prid" : "pn-provider",
                                      reason: "no \(what) destination on this device (\(params.provider.rawValue), token(s) for \(services)); --type \(type.rawValue) cannot be sent to it")
        }
        switch type {
        case .voip:
            if let voip = destinations.voip {
                return PushRequest(destination: voip, pushType: .voip, ttl: callTTL, payload: payload)
            }
            if let background = destinations.background, !background.isAPNs {
                return PushRequest(destination: background, pushType: .background, ttl: callTTL, payload: payload)
            }
            throw missing("VoIP")
        case .background, .wakeup:
            guard let background = destinations.background else { throw missing("background") }
            return PushRequest(destination: background, pushType: .background, ttl: callTTL, payload: payload)
        case .message:
            if let message = destinations.message {
                return PushRequest(destination: message, pushType: .message, ttl: messageTTL, payload: payload)
            }
            guard let background = destinations.background else { throw missing("message") }
            return PushRequest(destination: background, pushType: .background, ttl: messageTTL, payload: payload)
        case .ringing, .final:
            if let background = destinations.background, !background.isAPNs {
                return PushRequest(destination: background, pushType: .background, ttl: callTTL, payload: payload)
            }
            guard let message = destinations.message else { throw missing("alert") }
            // One alert, no repetition: a ringing push lives for the call's fork timeout.
            return PushRequest(destination: message, pushType: type, ttl: 0, collapseId: callId, callLifetime: callTTL, payload: payload)
        }
    }
}
