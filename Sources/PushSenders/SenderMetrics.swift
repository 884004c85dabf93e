import Metrics
import PushContract

/// The metrics the senders export, recomputed when they are read (`PushSenders.refreshMetrics()`
/// before each scrape), so that a scrape sees the state of now: a certificate's lifetime counts
/// down between reloads, and a breaker whose open period has ended shows as half-open before the
/// next request probes it.
package enum SenderMetrics {
    package static let certificateExpiry = "pushfleet_apns_certificate_expiry_seconds"  // certificate
    package static let breakerState = "pushfleet_breaker_state"                          // provider, destination
    package static let credentialsReloadFailures = "pushfleet_credentials_reload_failures_total"  // kind

    /// `# HELP` text per metric name (the Prometheus factory of `pushfleet worker` looks names up here).
    package static let help: [String: String] = [
        certificateExpiry: "Seconds until the APNs client certificate's notAfter (negative once expired), recomputed at each scrape.",
        breakerState: "Circuit breaker of a push destination: 0 closed, 1 half-open (next request probes), 2 open (requests fail fast).",
        credentialsReloadFailures: "Failed credential loads (kind: apns_certificate_directory, apns_certificate_file, firebase_token); "
            + "the previous credentials stay in use while they are valid.",
    ]

    /// Kinds of `credentialsReloadFailures`.
    package enum CredentialsFailure: String, Sendable {
        case apnsCertificateDirectory = "apns_certificate_directory"
        case apnsCertificateFile = "apns_certificate_file"
        case firebaseToken = "firebase_token"
    }

    package static func countFailure(_ kind: CredentialsFailure) {
        Counter(label: credentialsReloadFailures, dimensions: [("kind", kind.rawValue)]).increment()
    }

    /// The gauge value of a breaker state at `now`: an open period that has ended counts as
    /// half-open, since the next request is let through as the probe.
    package static func level(_ state: CircuitBreaker.State, now: EventTime) -> Int {
        switch state {
        case .closed: 0
        case .halfOpen: 1
        case .open(let until): now < until ? 2 : 1
        }
    }

    /// Splits a lane name (`apns:<app>`, `fcm:<project>`, `generic:<endpoint>`) into the
    /// gauge's `provider` and `destination` labels.
    package static func labels(lane name: String) -> [(String, String)] {
        guard let colon = name.firstIndex(of: ":") else { return [("provider", name), ("destination", "")] }
        return [("provider", String(name[..<colon])), ("destination", String(name[name.index(after: colon)...]))]
    }
}
