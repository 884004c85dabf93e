import NIOCore
import NIOPosix
import Synchronization

/// A loopback HTTP proxy that speaks only `CONNECT` (what squid does for `https://`), to test
/// senders configured with `[pushfleet] https-proxy` or `HTTPS_PROXY`.
///
/// It records each `CONNECT` (target and `Proxy-Authorization`), then relays bytes both ways, or
/// answers as told: `refuse(status)` (403, 407…), `requireAuthorization` (407 without the exact
/// header value), `silent` (reads the request, never answers: a hung proxy); `closeTunnels()`
/// drops the open tunnels. `hosts` maps a
/// target name to the address the proxy connects to, so a sender can use a provider name that
/// only the proxy resolves, as behind a real corporate proxy.
public final class SandboxConnectProxy: Sendable {
    public enum Mode: Sendable, Equatable {
        case relay
        case refuse(Int)
        case silent
    }

    /// One `CONNECT` request as received.
    public struct Request: Sendable, Equatable {
        /// `host:port` of the request line.
        public var target: String
        public var proxyAuthorization: String?
        /// The status answered (0 when `silent`).
        public var answered: Int

        public init(target: String, proxyAuthorization: String?, answered: Int) {
            self.target = target
            self.proxyAuthorization = proxyAuthorization
            self.answered = answered
        }
    }

    private struct State {
        var server: (any Channel)?
        var port = 0
        var mode = Mode.relay
        var requireAuthorization: String?
        var requests: [Request] = []
        var pairs: [RelayPair] = []
        var accepted = 0
    }

    private let hosts: [String: String]
    private let state = Mutex(State())

    public init(hosts: [String: String] = [:], requireAuthorization: String? = nil) {
        self.hosts = hosts
        state.withLock { $0.requireAuthorization = requireAuthorization }
    }

    public var port: Int { state.withLock { $0.port } }
    /// `http://127.0.0.1:<port>`, the value for `https-proxy`.
    public var url: String { "http://127.0.0.1:\(port)" }
    /// The `CONNECT` requests received so far, in order.
    public var requests: [Request] { state.withLock { $0.requests } }
    /// TCP connections accepted so far.
    public var connectionCount: Int { state.withLock { $0.accepted } }

    public func setMode(_ mode: Mode) { state.withLock { $0.mode = mode } }

    /// Closes every open tunnel, both sides (a proxy restarting); new `CONNECT`s are served as before.
    public func closeTunnels() {
        state.withLock { s in
            defer { s.pairs = [] }
            return s.pairs
        }.forEach { $0.close() }
    }

    public func start() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] inbound in
                state.withLock { $0.accepted += 1 }
                return inbound.eventLoop.makeCompletedFuture {
                    try inbound.pipeline.syncOperations.addHandler(ConnectRequestHandler(proxy: self))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        state.withLock { s in
            s.server = channel
            s.port = channel.localAddress?.port ?? 0
        }
    }

    public func shutdown() async throws {
        let (server, pairs) = state.withLock { s in
            defer { s.server = nil; s.pairs = [] }
            return (s.server, s.pairs)
        }
        try await server?.close()
        for pair in pairs { pair.close() }
    }

    /// Decides the answer to a parsed request and records it: the status to send (0 = none).
    fileprivate func decide(target: String, authorization: String?) -> Int {
        state.withLock { s in
            let status: Int
            switch s.mode {
            case .silent: status = 0
            case .refuse(let code): status = code
            case .relay: status = s.requireAuthorization.map { $0 == authorization ? 200 : 407 } ?? 200
            }
            s.requests.append(Request(target: target, proxyAuthorization: authorization, answered: status))
            return status
        }
    }

    fileprivate func address(of host: String) -> String { hosts[host] ?? host }

    fileprivate func track(_ pair: RelayPair) { state.withLock { $0.pairs.append(pair) } }
}

/// Reads one `CONNECT` head, answers it, and on 200 turns the connection into a relay.
private final class ConnectRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let proxy: SandboxConnectProxy
    private var head: [UInt8] = []
    private var handled = false

    init(proxy: SandboxConnectProxy) { self.proxy = proxy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !handled else { return }
        head.append(contentsOf: unwrapInboundIn(data).readableBytesView)
        guard let end = head.firstRange(of: Array("\r\n\r\n".utf8)) else {
            if head.count > 16 * 1024 { answer(400, context) }
            return
        }
        handled = true
        let lines = String(decoding: head[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count == 3, parts[0] == "CONNECT", let colon = parts[1].lastIndex(of: ":"),
              let port = Int(parts[1][parts[1].index(after: colon)...]) else {
            return answer(400, context)
        }
        var host = String(parts[1][..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let authorization = lines.dropFirst().first { $0.lowercased().hasPrefix("proxy-authorization:") }
            .map { String($0.dropFirst("proxy-authorization:".count).drop { $0 == " " }) }
        let status = proxy.decide(target: String(parts[1]), authorization: authorization)
        switch status {
        case 0: return
        case 200: relay(to: proxy.address(of: host), port: port, context)
        default: answer(status, context)
        }
    }

    private func answer(_ status: Int, _ context: ChannelHandlerContext) {
        handled = true
        let reason = [400: "Bad Request", 403: "Forbidden", 407: "Proxy Authentication Required", 502: "Bad Gateway"][status] ?? "Refused"
        var text = "HTTP/1.1 \(status) \(reason)\r\nContent-Length: 0\r\nConnection: close\r\n"
        if status == 407 { text += "Proxy-Authenticate: Basic realm=\"sandbox\"\r\n" }
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: text + "\r\n")), promise: nil)
        context.close(mode: .output, promise: nil)
    }

    private func relay(to host: String, port: Int, _ context: ChannelHandlerContext) {
        let inbound = context.channel
        let pair = RelayPair(inbound: inbound)
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let proxy = proxy
        ClientBootstrap(group: inbound.eventLoop)
            .channelInitializer { outbound in
                outbound.eventLoop.makeCompletedFuture {
                    try outbound.pipeline.syncOperations.addHandler(RelayHandler(pair: pair, toClient: true))
                }
            }
            .connect(host: host, port: port)
            .whenComplete { result in
                let context = loopContext.value
                switch result {
                case .failure:
                    handler.value.answer(502, context)
                case .success(let outbound):
                    pair.outbound.withLock { $0 = outbound }
                    proxy.track(pair)
                    let established = "HTTP/1.1 200 Connection established\r\n\r\n"
                    context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: established)), promise: nil)
                    do {
                        try inbound.pipeline.syncOperations.addHandler(RelayHandler(pair: pair, toClient: false))
                        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                    } catch {
                        pair.close()
                    }
                }
            }
    }
}
