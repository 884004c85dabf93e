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
    package static let connectionFailures = "pushfleet_http2_connection_failures_total"  // endpoint, reason
    package static let ambiguousRetries = "pushfleet_ambiguous_retries_total"            // provider
    package static let providerErrors = "pushfleet_provider_errors_total"                // provider, reason

    /// `# HELP` text per metric name (the Prometheus factory of `pushfleet worker` looks names up here).
    package static let help: [String: String] = [
        certificateExpiry: "Seconds until the APNs client certificate's notAfter (negative once expired), recomputed at each scrape.",
        breakerState: "Circuit breaker of a push destination: 0 closed, 1 half-open (next request probes), 2 open (requests fail fast).",
        credentialsReloadFailures: "Failed credential loads (kind: apns_certificate_directory, apns_certificate_file, firebase_token); "
            + "the previous credentials stay in use while they are valid.",
        ambiguousRetries: "Retries of a request that was written and lost without an answer (timeout, reset, connection lost): each may deliver a push twice.",
        connectionFailures: "HTTP/2 connections to a provider that failed to open, ended before any answer, or were closed for a missed PING acknowledgement.",
        providerErrors: "Provider answers that refused a request, by the provider's documented reason (BadDeviceToken, TooManyRequests, UNREGISTERED, …; other for anything else).",
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

    /// Why an HTTP/2 connection failed (the `reason` label of `connectionFailures`).
    package enum ConnectionFailure: String, Sendable {
        /// TCP connect refused or timed out, or the connection closed before the TLS/HTTP/2 handshake completed.
        case connect
        /// A TLS failure that may be transient (EOF or reset during the handshake, protocol error).
        case tls
        /// The server certificate failed verification, or the server refused our certificate.
        case untrusted
        /// Opened, then ended (GOAWAY, close) before answering a single request.
        case unanswered = "ended_unanswered"
        /// Closed by us: the server missed a PING acknowledgement (a silently dead connection).
        case pingTimeout = "ping_timeout"
    }

    package static func providerError(provider: String, reason: String) {
        Counter(label: providerErrors, dimensions: [("provider", provider), ("reason", reason)]).increment()
    }

    package static func connectionFailure(endpoint: String, reason: ConnectionFailure) {
        Counter(label: connectionFailures, dimensions: [("endpoint", endpoint), ("reason", reason.rawValue)]).increment()
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
