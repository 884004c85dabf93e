import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization
import X509

/// How a sandbox listens: which HTTP versions, and TLS with or without client certificates.
struct SandboxListenerConfiguration: Sendable {
    enum Protocols: Sendable {
        /// HTTP/2 only: prior knowledge on plain TCP, ALPN `h2` under TLS.
        case http2
        case http1
        /// Under TLS, ALPN picks `h2` or `http/1.1`.
        case http2OrHTTP1
    }

    var protocols: Protocols
    var tls: NIOSSLContext?
    /// Where to listen, and the name clients use (in `baseURL` and the server certificate).
    var listen = SandboxListen.loopback
    /// Mutual TLS: read the client certificate's UID into `RecordedRequest.clientCertificateTopic`.
    var readsClientCertificate = false
    /// HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS announced to clients.
    var maxConcurrentStreams = 1000
}

/// The NIO side shared by all sandboxes: accepts connections, speaks HTTP/1.1 or HTTP/2, turns each
/// request into a `RecordedRequest`, asks the service, and carries out the `SandboxAction`.
final class SandboxServer: Sendable {
    let configuration: SandboxListenerConfiguration
    let service: any SandboxService

    private struct State {
        var channel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var accepted = 0
        var port = 0
        var started = false
    }

    private let state = Mutex(State())

    init(configuration: SandboxListenerConfiguration, service: any SandboxService) {
        self.configuration = configuration
        self.service = service
    }

    var port: Int { state.withLock { $0.port } }
    var connectionCount: Int { state.withLock { $0.accepted } }

    func baseURL(scheme: String) -> String { "\(scheme)://\(configuration.listen.hostname):\(port)" }

    func start() async throws {
        try state.withLock { state in
            guard !state.started else { throw SandboxError("start() called twice") }
            state.started = true
        }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)  // TCP level (see HTTP2Connection)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try self.configure(channel) }
            }
            .bind(host: configuration.listen.host, port: configuration.listen.port)
            .get()
        state.withLock { state in
            state.channel = channel
            state.port = channel.localAddress?.port ?? 0
        }
    }

    func shutdown() async throws {
        let (server, connections) = state.withLock { state in
            defer {
                state.channel = nil
                state.connections = [:]
            }
            return (state.channel, Array(state.connections.values))
        }
        try await server?.close()
        for connection in connections { try? await connection.close() }
    }

    private func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLock { state in
            state.accepted += 1
            state.connections[id] = channel
        }
        channel.closeFuture.whenComplete { [self] _ in
            _ = state.withLock { $0.connections.removeValue(forKey: id) }
        }
    }

    private func configure(_ channel: any Channel) throws {
        track(channel)
        let connection = SandboxConnection()
        let pipeline = channel.pipeline.syncOperations
        guard let tls = configuration.tls else {
            switch configuration.protocols {
            case .http1: try configureHTTP1(channel, connection: connection)
            case .http2, .http2OrHTTP1: try configureHTTP2(channel, connection: connection)
            }
            return
        }
        try pipeline.addHandler(NIOSSLServerHandler(context: tls))
        switch configuration.protocols {
        case .http1: try configureHTTP1(channel, connection: connection)
        case .http2: try configureHTTP2(channel, connection: connection)
        case .http2OrHTTP1:
            _ = channel.configureHTTP2SecureUpgrade(
                h2ChannelConfigurator: { [self] channel in
                    channel.eventLoop.makeCompletedFuture { try self.configureHTTP2(channel, connection: connection) }
                },
                http1ChannelConfigurator: { [self] channel in
                    channel.eventLoop.makeCompletedFuture { try self.configureHTTP1(channel, connection: connection) }
                }
            )
        }
    }

    private func configureHTTP1(_ channel: any Channel, connection: SandboxConnection) throws {
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
        try channel.pipeline.syncOperations.addHandler(HTTP1RequestHandler(server: self, connection: connection))
    }

    private func configureHTTP2(_ channel: any Channel, connection: SandboxConnection) throws {
        var connectionConfiguration = NIOHTTP2Handler.ConnectionConfiguration()
        connectionConfiguration.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: configuration.maxConcurrentStreams),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 16),
            HTTP2Setting(parameter: .initialWindowSize, value: 1 << 20),
        ]
        // Clients legitimately reset many streams here (every `.hang` ends in a deadline), and
        // benchmarks push far past NIO's anti-abuse defaults; the sandbox must not be the bottleneck.
        connectionConfiguration.maximumRecentlyResetStreams = 10_000
        connectionConfiguration.maximumConnectionGlitches = 1_000_000
        var streamConfiguration = NIOHTTP2Handler.StreamConfiguration()
        streamConfiguration.targetWindowSize = 1 << 20
        streamConfiguration.streamResetFrameRateLimit.maximumCount = 1_000_000
        streamConfiguration.streamErrorRateLimit.maximumCount = 1_000_000
        _ = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
            mode: .server,
            connectionConfiguration: connectionConfiguration,
            streamConfiguration: streamConfiguration
        ) { [self] stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(HTTP2RequestHandler(server: self, connection: connection))
            }
        }
    }
}

/// Per-connection facts the request handlers need, worked out once per connection.
///
/// `@unchecked Sendable`: only touched on the connection's event loop, which its HTTP/2 stream
/// channels share.
final class SandboxConnection: @unchecked Sendable {
    private var checked = false
    private var topic: String?

    /// The UID of the client certificate, read on the first request (the handshake is over by then;
    /// BoringSSL has already verified the certificate against the sandbox CA, and
    /// `.optionalVerification` lets token-authenticated clients in without one).
    func clientCertificateTopic(connectionChannel: any Channel) -> String? {
        guard !checked else { return topic }
        checked = true
        if let handler = try? connectionChannel.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
            let peer = handler.peerCertificate,
            let der = try? peer.toDERBytes(),
            let certificate = try? Certificate(derEncoded: der)
        {
            topic = Self.userID(of: certificate)
        }
        return topic
    }

    static func userID(of certificate: Certificate) -> String? {
        for rdn in certificate.subject {
            for attribute in rdn where attribute.type == SandboxCertificateAuthority.userIDOID {
                return String(attribute.value)
            }
        }
        return nil
    }
}

/// Where a sandbox listens. Tests use the loopback default (a free port); `pushfleet sandbox`
/// listens on fixed ports of all interfaces for containers, under a host name of its own.
public struct SandboxListen: Sendable, Hashable {
    /// Address to bind.
    public var host: String
    /// 0 = a free port.
    public var port: Int
    /// The name clients connect to: in `baseURL` and in the server certificate.
    public var hostname: String

    public init(host: String, port: Int, hostname: String) {
        self.host = host
        self.port = port
        self.hostname = hostname
    }

    public static let loopback = SandboxListen(host: "127.0.0.1", port: 0, hostname: "127.0.0.1")

    var certificateHosts: [String] { Array(Set(["localhost", "127.0.0.1", hostname])).sorted() }
}
