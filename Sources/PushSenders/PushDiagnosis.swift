import PushContract
import PushPolicy

/// One line that names the usual mistake behind a refused push, for `pushfleet push`: the
/// questions of almost every push problem report (wrong APNs environment, topic not matching
/// the certificate, expired certificate, token of another app or a dead one), answered from
/// the provider's status and reason and the credential that was used. Pure: no I/O, no clock.
package enum PushDiagnosis {
    /// What the diagnosis looks at.
    package struct Facts: Sendable {
        /// `apns`, `apns.dev`, `fcm`, or anything else (`generic`: served by `external-push-uri`).
        package var provider: PushProvider
        package var status: Int?
        /// The outcome's reason (`BadDeviceToken`, `SENDER_ID_MISMATCH`, `INVALID_ARGUMENT: …`, a transport error…).
        package var reason: String?
        /// `apns-topic` sent.
        package var topic: String?
        package var credential: SenderCredential?

        package init(provider: PushProvider, status: Int?, reason: String?, topic: String? = nil, credential: SenderCredential? = nil) {
            self.provider = provider
            self.status = status
            self.reason = reason
            self.topic = topic
            self.credential = credential
        }
    }

    /// Said before sending: a client certificate past its `notAfter` fails the TLS handshake
    /// (APNs answers nothing a sender could read), so it is caught locally.
    package static func beforeSending(_ credential: SenderCredential?, now: EventTime) -> String? {
        guard case .apnsCertificate(let c)? = credential, c.notAfter <= now else { return nil }
        return "expired certificate: \(c.path) expired on \(c.notAfter.rfc3339) (\(c.subject)); APNs refuses it in the TLS "
            + "handshake, so nothing was sent: renew it in the Apple developer account and replace the file"
    }

    /// The mistake the answer points to; nil for an accepted push or an answer with no usual cause.
    package static func diagnose(_ f: Facts) -> String? {
        if let status = f.status, (200..<300).contains(status), f.reason == nil { return nil }
        switch f.provider {
        case .apns, .apnsDev: return apns(f)
        case .fcm: return firebase(f)
        case .other: return f.status.map { "the gateway (external-push-uri) refused the push with HTTP \($0)" }
        }
    }

    private static func apns(_ f: Facts) -> String? {
        // The environment the push went to, and the one to try instead.
        let environment: String, other: PushProvider
        switch f.provider {
        case .apnsDev: (environment, other) = ("development (apns.dev)", .apns)
        case .apns, .fcm, .other: (environment, other) = ("production (apns)", .apnsDev)
        }
        let topic = f.topic ?? "?"
        switch f.reason ?? "" {
        case "BadDeviceToken":
            return "wrong environment? the \(environment) APNs does not know this token: a token from a development build "
                + "(Xcode) is only valid with pn-provider=apns.dev, a TestFlight or App Store one only with apns; "
                + "try pn-provider=\(other.rawValue) (and its .\(other.apnsRelease ?? "") certificate)"
        case "DeviceTokenNotForTopic":
            return "token for another app: this token was not issued for apns-topic \(topic); check the bundle id in "
                + "pn-param (and .voip for a VoIP token)" + credentialTopics(f.credential)
        case "TopicDisallowed":
            return "topic not matching the certificate: apns-topic \(topic) is not allowed" + credentialTopics(f.credential)
        case "BadCertificateEnvironment":
            return "wrong environment: the certificate is for the other APNs environment than \(environment)"
        case "BadCertificate", "CertificateRevoked":
            return "certificate refused (\(f.reason!)): renew it in the Apple developer account"
        case "InvalidProviderToken":
            return "token key refused: the .p8 key, its key id or the team id is wrong"
                + (f.credential.flatMap(keyText).map { " (\($0))" } ?? "")
        case "ExpiredProviderToken":
            return "provider token expired: this machine's clock is probably wrong (the token is signed with it)"
        case "Unregistered":
            return "dead token: the app was uninstalled or its token replaced; the device must register again"
        case "MissingTopic", "BadTopic":
            return "no usable apns-topic: check the bundle id in pn-param"
        default:
            return transport(f.reason)
        }
    }

    private static func firebase(_ f: Facts) -> String? {
        let reason = f.reason ?? ""
        let project: String
        switch f.credential {
        case .firebaseServiceAccount(let number, let id, _)?: project = "project \(id) (pn-param \(number))"
        case .firebaseServerKey(let number)?: project = "project \(number)"
        default: project = "the configured project"
        }
        if reason == "SENDER_ID_MISMATCH" || reason == "MismatchSenderId" {
            return "token for another app: this registration token belongs to another Firebase project than \(project); "
                + "pn-param must be the project number of the app's google-services.json"
        }
        if reason == "UNREGISTERED" || reason == "NotRegistered" {
            return "dead token: the app was uninstalled or its token replaced; the device must register again"
        }
        if reason.hasPrefix("INVALID_ARGUMENT") || reason == "InvalidRegistration" {
            return "token for another app or not a token: FCM refuses this pn-prid for \(project) (truncated, an APNs "
                + "token, or one from another project)"
        }
        if f.status == 401 || reason == "server key refused" {
            return "credentials refused: the access token or server key of \(project) is not accepted"
        }
        if f.status == 403 || reason == "PERMISSION_DENIED" {
            return "permission denied: the service account of \(project) may not send with Firebase Cloud Messaging"
        }
        return transport(f.reason)
    }

    /// Failures of our side of the connection that have one usual cause.
    private static func transport(_ reason: String?) -> String? {
        guard let reason else { return nil }
        let lower = reason.lowercased()
        if lower.contains("certificate") && (lower.contains("verif") || lower.contains("trust")) {
            return "TLS: the provider's server certificate is not trusted (tls-ca-file, or a proxy in between?)"
        }
        if lower.contains("no apns certificate or token key") {
            return "no credential: put <apns-topic>.<dev|prod>.pem in apple-certificate-dir or a .p8 key of pn-param's team in apple-token-keys"
        }
        if lower.contains("no firebase service account") {
            return "no credential: pn-param must be a project number listed in firebase-service-accounts or firebase-projects-api-keys"
        }
        return nil
    }

    /// `; the certificate <file> is for UID=… (may push …)` or the token key's team.
    private static func credentialTopics(_ credential: SenderCredential?) -> String {
        switch credential {
        case .apnsCertificate(let c)?:
            let allowed = c.topic.map { " (may push \($0), \($0).voip, \($0).complication)" } ?? ""
            return "; certificate \(c.name).pem is for \(c.subject.isEmpty ? "an unreadable subject" : c.subject)\(allowed)"
        case .apnsToken(let team, let key)?:
            return "; .p8 key \(key) may push to the apps of team \(team) only"
        default:
            return ""
        }
    }

    private static func keyText(_ credential: SenderCredential) -> String? {
        guard case .apnsToken(let team, let key) = credential else { return nil }
        return "kid \(key), team \(team)"
    }
}
