/// A loopback generic push endpoint: HTTP/1.1 or HTTP/2, plain or TLS; records everything, validates nothing.
public final class GenericPushSandbox: Sendable {
    public enum HTTPVersion: Sendable { case http1, http2 }
    public init(version: HTTPVersion, tls: SandboxTLS) throws { fatalError("not yet") }
    public func start() async throws { fatalError("not yet") }
    /// http://… or https://…
    public var baseURL: String { fatalError("not yet") }
    public func script(path: String, _ replies: [SandboxReply]) { fatalError("not yet") }
    public var requests: [RecordedRequest] { fatalError("not yet") }
    public func waitForRequests(count: Int, timeout: Duration) async throws -> [RecordedRequest] { fatalError("not yet") }
    public func shutdown() async throws { fatalError("not yet") }
}
