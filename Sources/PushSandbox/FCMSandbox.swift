/// A loopback FCM v1 (and legacy) server with its OAuth token endpoint, HTTP/2 over TLS.
public final class FCMSandbox: Sendable {
    public init(ca: SandboxCertificateAuthority, tokenLifetime: Int = 3600) throws { fatalError("not yet") }
    public func start() async throws { fatalError("not yet") }
    public var baseURL: String { fatalError("not yet") }
    /// A service-account JSON (project_id, client_email, private_key (RSA 2048 PEM), token_uri = baseURL + "/token").
    public func makeServiceAccount(projectId: String) throws -> String { fatalError("not yet") }
    public func addLegacyKey(_ key: String) { fatalError("not yet") }
    public func script(token: String, _ replies: [SandboxReply]) { fatalError("not yet") }
    /// Makes the OAuth endpoint fail or hang.
    public func scriptTokenEndpoint(_ replies: [SandboxReply]) { fatalError("not yet") }
    /// Messages (v1 and legacy) only.
    public var requests: [RecordedRequest] { fatalError("not yet") }
    public var tokenRequests: [RecordedRequest] { fatalError("not yet") }
    public func waitForRequests(count: Int, timeout: Duration) async throws -> [RecordedRequest] { fatalError("not yet") }
    public func shutdown() async throws { fatalError("not yet") }
}
