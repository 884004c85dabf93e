/// The reasons providers document for refusing a push, as bounded label values of
/// `pushfleet_provider_errors_total{provider,reason}`: a dashboard sees `BadDeviceToken` rise
/// apart from `TooManyRequests`; anything else a provider says counts as `other`, so a provider
/// cannot grow the series without bound.
package enum ProviderReasons {
    /// APNs (Apple's "Handling notification responses from APNs").
    static let apns: Set<String> = [
        "BadCollapseId", "BadDeviceToken", "BadExpirationDate", "BadMessageId", "BadPriority", "BadTopic",
        "DeviceTokenNotForTopic", "DuplicateHeaders", "IdleTimeout", "InvalidPushType", "MissingDeviceToken",
        "MissingTopic", "PayloadEmpty", "TopicDisallowed", "BadCertificate", "BadCertificateEnvironment",
        "ExpiredProviderToken", "Forbidden", "InvalidProviderToken", "MissingProviderToken", "UnrelatedKeyIdInToken",
        "BadPath", "MethodNotAllowed", "ExpiredToken", "Unregistered", "PayloadTooLarge",
        "TooManyProviderTokenUpdates", "TooManyRequests", "InternalServerError", "ServiceUnavailable", "Shutdown",
    ]
    /// FCM v1 (`FcmError.ErrorCode` and the google.rpc status codes it answers with).
    static let fcm: Set<String> = [
        "UNSPECIFIED_ERROR", "INVALID_ARGUMENT", "UNREGISTERED", "SENDER_ID_MISMATCH", "QUOTA_EXCEEDED",
        "UNAVAILABLE", "INTERNAL", "THIRD_PARTY_AUTH_ERROR", "PERMISSION_DENIED", "UNAUTHENTICATED", "NOT_FOUND",
        "RESOURCE_EXHAUSTED",
    ]
    /// The FCM legacy HTTP protocol's `error` values.
    static let fcmLegacy: Set<String> = [
        "MissingRegistration", "InvalidRegistration", "NotRegistered", "InvalidPackageName", "MismatchSenderId",
        "InvalidParameters", "MessageTooBig", "InvalidDataKey", "InvalidTtl", "Unavailable", "InternalServerError",
        "DeviceMessageRateExceeded", "TopicsMessageRateExceeded", "InvalidApnsCredential", "Authentication",
    ]

    /// The label of a refusal: the documented reason it starts with (a verdict may add detail
    /// after it, as "INVALID_ARGUMENT: The registration token is not a valid FCM registration
    /// token"), else `other`.
    package static func label(_ known: Set<String>, reason: String?) -> String {
        guard let reason else { return "other" }
        let code = String(reason.prefix { $0.isLetter || $0.isNumber || $0 == "_" })
        return known.contains(code) ? code : "other"
    }

    /// Counts a provider's refusal (any answer but a success).
    package static func count(_ provider: String, _ known: Set<String>, _ verdict: AttemptVerdict) {
        guard let status = verdict.status, !(200..<300).contains(status) else { return }
        SenderMetrics.providerError(provider: provider, reason: label(known, reason: verdict.reason))
    }
}
