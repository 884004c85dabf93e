import NIOSSL

/// Sorts TLS failures into the trust problems that do not heal by retrying (a certificate that
/// fails verification, a server refusing ours) and the transient ones (EOF or reset during the
/// handshake, a middlebox hiccup), which are retried with backoff like any dropped connection.
///
/// Why: every TLS error used to be final, so one EOF during a handshake (a load balancer
/// restarting) failed every push that met it.
enum TLSFailure {
    static func classify(_ error: any Error) -> TransportError {
        let text = "\(error)"
        if isTrustProblem(error, text: text) {
            return TransportError(.untrusted, "TLS certificate refused: \(text)")
        }
        return TransportError(.tls, "TLS handshake failed: \(text)")
    }

    /// BoringSSL names verification failures and the server's certificate alerts
    /// (`CERTIFICATE_VERIFY_FAILED`, `SSLV3_ALERT_BAD_CERTIFICATE`, `…CERTIFICATE_EXPIRED`,
    /// `TLSV1_ALERT_UNKNOWN_CA`); NIOSSL adds its own hostname checks.
    private static func isTrustProblem(_ error: any Error, text: String) -> Bool {
        if let extra = error as? NIOSSLExtraError {
            return extra == .failedToValidateHostname || extra == .serverHostnameImpossibleToMatch
        }
        if let ssl = error as? NIOSSLError {
            switch ssl {
            case .unableToValidateCertificate, .noCertificateToValidate, .cannotMatchULabel: return true
            default: break
            }
        }
        return text.contains("CERTIFICATE") || text.contains("UNKNOWN_CA")
    }
}
