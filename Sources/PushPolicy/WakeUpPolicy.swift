public import PushContract

/// Flexisip's register wake-up (`register-wakeup-interval`, `register-wakeup-threshold`): a
/// Background push, TTL 0, so that a device whose registration is about to expire wakes and
/// REGISTERs again. Devices without a Background destination (iOS with only a VoIP token) are
/// skipped, as Flexisip does.
public enum WakeUpPolicy {
    /// When the binding becomes due: `updatedAt + threshold% × expires`.
    public static func wakeAt(_ r: RegistrationUpdated, options: PushNotificationOptions) -> EventTime {
        r.updatedAt.adding(milliseconds: Int64(r.expires) * 1000 * Int64(max(0, min(100, options.registerWakeupThreshold))) / 100)
    }

    /// When the binding expires: `updatedAt + expires`.
    public static func expiresAt(_ r: RegistrationUpdated) -> EventTime {
        r.updatedAt.adding(seconds: r.expires)
    }

    public static func decide(_ r: RegistrationUpdated, options: PushNotificationOptions) -> PushDecision {
        let params: PushParameters
        do {
            params = try PushParameters(requestUri: r.contact)
        } catch {
            return .skipped(reason: OutcomeReason(.pushParams, "invalid push parameters: \(error)"))
        }
        if let reason = PushStrategy.senderUnavailable(params.provider, options: options) {
            return .skipped(reason: reason)
        }
        guard let background = PushStrategy.Destinations(params).background else {
            // `push_params` like the call path's "device has only a VoIP token" (the prefix match
            // counted this one as `needs_push`).
            return .skipped(reason: OutcomeReason(.pushParams, "no background destination (iOS device with only a VoIP token): no wake-up push, as Flexisip"))
        }
        var payload = PayloadInputs(callId: r.callId)
        payload.toURI = r.aor
        payload.uuid = PushStrategy.unquoted(r.instanceId ?? "")
        return .push([PushRequest(destination: background, pushType: .background, ttl: 0, payload: payload)])
    }
}
