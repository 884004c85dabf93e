/// A loopback generic push endpoint (Flexisip's `generic` push type): HTTP/1.1 or HTTP/2, plain
/// or TLS; records everything, validates nothing, answers per scripted path.
///
/// With TLS and `.http2`, ALPN offers `h2` and `http/1.1` and serves whichever the client picks
/// (`RecordedRequest.httpVersion` tells); plain `.http2` expects prior knowledge (h2c).
public final class GenericPushSandbox: Sendable {
    public enum HTTPVersion: Sendable { case http1, http2 }

    private let server: SandboxServer
    private let service: GenericService
    private let scheme: String

    /// `maxConcurrentStreams` is the HTTP/2 stream limit announced in SETTINGS (clients must queue beyond it).
    public init(version: HTTPVersion, tls: SandboxTLS, maxConcurrentStreams: Int = 1000, listen: SandboxListen = .loopback) throws {
        let protocols: SandboxListenerConfiguration.Protocols
        switch (version, tls) {
        case (.http1, _): protocols = .http1
        case (.http2, .none): protocols = .http2
        case (.http2, .tls): protocols = .http2OrHTTP1
        }
        var configuration = SandboxListenerConfiguration(protocols: protocols, tls: nil)
        configuration.maxConcurrentStreams = maxConcurrentStreams
        configuration.listen = listen
        if case .tls(let credential) = tls {
            configuration.tls = try credential.serverTLSContext(alpn: version == .http2 ? ["h2", "http/1.1"] : ["http/1.1"])
        }
        scheme = configuration.tls == nil ? "http" : "https"
        service = GenericService()
        server = SandboxServer(configuration: configuration, service: service)
    }

    public func start() async throws { try await server.start() }
    public var port: Int { server.port }
    /// http://127.0.0.1:<port> or https://…
    public var baseURL: String { server.baseURL(scheme: scheme) }
    /// Replies for a request target (path and query, exactly as sent), consumed in order.
    public func script(path: String, _ replies: [SandboxReply]) { service.recorder.script(path, replies) }
    public var requests: [RecordedRequest] { service.recorder.requests }
    public func waitForRequests(count: Int, timeout: Duration) async throws -> [RecordedRequest] {
        try await service.recorder.waitForRequests(count: count, timeout: timeout)
    }
    /// TCP connections accepted so far.
    public var connectionCount: Int { server.connectionCount }
    /// A fault window: while set, every valid request without a script left gets `reply`
    /// (`.unavailable(retryAfter:)`, `.hang`, `.goAway`…); nil ends it.
    public func setFault(_ reply: SandboxReply?) { service.recorder.setFault(reply) }
    /// The reply given to each valid request, in order (to tell deliveries from faults).
    public var answers: [SandboxAnswer] { service.recorder.answers }
    public func shutdown() async throws { try await server.shutdown() }
}

final class GenericService: SandboxService {
    let recorder = SandboxRecorder()

    func handle(_ request: RecordedRequest) -> SandboxAction {
        recorder.record(request)
        return recorder.nextReply(for: request.path, request: request).action { reply in
            switch reply {
            case .status(let status, let reason): SandboxResponse(status: status, body: Array((reason ?? "").utf8))
            case .unregistered: SandboxResponse(status: 410, body: Array("Unregistered".utf8))
            case .badDeviceToken: SandboxResponse(status: 400, body: Array("BadDeviceToken".utf8))
            case .tooManyRequests: SandboxResponse(status: 429, headers: reply.retryAfterHeaders)
            case .internalError: SandboxResponse(status: 500)
            case .unavailable: SandboxResponse(status: 503, headers: reply.retryAfterHeaders)
            default: SandboxResponse(status: 200, body: Array("OK".utf8))
            }
        }
    }
}
