public import Crypto

/// A loopback APNs: HTTP/2 over TLS (ALPN h2) that validates requests like Apple's servers.
public final class APNsSandbox: Sendable {
    /// Validates like APNs: mutual TLS client certificate issued by `ca` (apns-topic must equal its UID or UID+".voip"),
    /// OR an `authorization: bearer <ES256 JWT>` whose `kid` is one of `tokenKeys` and `iss` the team id.
    public init(ca: SandboxCertificateAuthority, tokenKeys: [String: (teamId: String, key: P256.Signing.PublicKey)] = [:]) throws {
        fatalError("not yet")
    }

    /// Binds 127.0.0.1 on a free port.
    public func start() async throws { fatalError("not yet") }
    public var port: Int { fatalError("not yet") }
    /// "https://127.0.0.1:<port>".
    public var baseURL: String { fatalError("not yet") }
    public func script(token: String, _ replies: [SandboxReply]) { fatalError("not yet") }
    public var requests: [RecordedRequest] { fatalError("not yet") }
    public func waitForRequests(count: Int, timeout: Duration) async throws -> [RecordedRequest] { fatalError("not yet") }
    /// TCP connections accepted so far.
    public var connectionCount: Int { fatalError("not yet") }
    public func shutdown() async throws { fatalError("not yet") }
}
