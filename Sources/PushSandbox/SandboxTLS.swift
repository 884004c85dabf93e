/// Whether a generic sandbox serves plain TCP or TLS with the given server credential.
public enum SandboxTLS: Sendable {
    case none
    case tls(SandboxCredential)
}
