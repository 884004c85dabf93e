import NIOCore
import NIOPosix
import Synchronization

/// A loopback TCP relay in front of a sandbox server, to play the network between a worker and
/// a provider: it forwards bytes both ways, and can turn into the middlebox that hurts.
///
/// - `blackHoleEstablished()`: the NAT or firewall that silently forgets connections. The
///   relayed connections stay open but nothing passes any more, in either direction; new
///   connections are accepted and forwarded as before.
/// - `dropNextConnections(_:)`: a transient fault during the handshake: the next connections
///   get a clean EOF (FIN, not a reset) as soon as they are accepted, so the client sees EOF in
///   its TLS handshake.
public final class SandboxTCPRelay: Sendable {
    private struct State {
        var server: (any Channel)?
        var pairs: [RelayPair] = []
        var drop = 0
        var accepted = 0
        var port = 0
        var targetPort: Int
    }

    private let targetHost: String
    private let listenHost: String
    private let listenPort: Int
    private let state: Mutex<State>
    /// When large chunks went from clients to the target (see `largeClientWrites`).
    private let clientWrites = ClientWriteLog()

    /// Relays to `host:port` (a sandbox's port) once started, listening on `listenHost:listenPort`
    /// (0: a free port).
    public init(to host: String = "127.0.0.1", port: Int, listenHost: String = "127.0.0.1", listenPort: Int = 0) {
        targetHost = host
        self.listenHost = listenHost
        self.listenPort = listenPort
        state = Mutex(State(targetPort: port))
    }

    /// When a client sent the target a chunk of more than 150 bytes: a request, not an HTTP/2
    /// PING or WINDOW_UPDATE (under 50 bytes with TLS). The last 100,000 are kept.
    public var largeClientWrites: [ContinuousClock.Instant] { clientWrites.times }

    /// Refuses (closes at once) every new connection until `acceptConnections()`.
    public func refuseConnections() {
        state.withLock { $0.drop = Int.max / 2 }
    }

    /// Ends `refuseConnections()` and any pending `dropNextConnections(_:)`.
    public func acceptConnections() {
        state.withLock { $0.drop = 0 }
    }

    /// New connections go to `port` from now on (a provider fixing its certificate, say).
    public func retarget(port: Int) {
        state.withLock { $0.targetPort = port }
    }

    public var port: Int { state.withLock { $0.port } }
    /// TCP connections accepted so far (dropped ones included).
    public var connectionCount: Int { state.withLock { $0.accepted } }
    /// `https://127.0.0.1:<port>`: the sandbox certificates name 127.0.0.1.
    public var baseURL: String { "https://127.0.0.1:\(port)" }

    public func start() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [self] inbound in accept(inbound) }
            .bind(host: listenHost, port: listenPort)
            .get()
        state.withLock { s in
            s.server = channel
            s.port = channel.localAddress?.port ?? 0
        }
    }

    /// Stops forwarding on every connection open now, without closing any.
    public func blackHoleEstablished() {
        state.withLock { $0.pairs }.forEach { $0.blackHole() }
    }

    /// Closes the next `count` accepted connections at once.
    public func dropNextConnections(_ count: Int) {
        state.withLock { $0.drop += count }
    }

    public func shutdown() async throws {
        let (server, pairs) = state.withLock { s in
            defer { s.server = nil; s.pairs = [] }
            return (s.server, s.pairs)
        }
        try await server?.close()
        for pair in pairs { pair.close() }
    }

    private func accept(_ inbound: any Channel) -> EventLoopFuture<Void> {
        let (drop, targetPort) = state.withLock { s -> (Bool, Int) in
            s.accepted += 1
            guard s.drop > 0 else { return (false, s.targetPort) }
            s.drop -= 1
            return (true, s.targetPort)
        }
        if drop {
            return inbound.eventLoop.makeCompletedFuture { try inbound.pipeline.syncOperations.addHandler(EOFHandler()) }
        }
        let pair = RelayPair(inbound: inbound, clientWrites: clientWrites)
        // Same event loop on both sides: each handler writes to its partner without a hop.
        return ClientBootstrap(group: inbound.eventLoop)
            .channelInitializer { outbound in
                outbound.eventLoop.makeCompletedFuture {
                    try outbound.pipeline.syncOperations.addHandler(RelayHandler(pair: pair, toClient: true))
                }
            }
            .connect(host: targetHost, port: targetPort)
            .flatMapThrowing { outbound in
                pair.outbound.withLock { $0 = outbound }
                try inbound.pipeline.syncOperations.addHandler(RelayHandler(pair: pair, toClient: false))
                self.state.withLock { $0.pairs.append(pair) }
            }
    }
}

/// One relayed connection: the accepted socket and the one to the target.
final class RelayPair: Sendable {
    let inbound: any Channel
    let outbound = Mutex<(any Channel)?>(nil)
    let blackHoled = Atomic<Bool>(false)
    let clientWrites: ClientWriteLog

    init(inbound: any Channel, clientWrites: ClientWriteLog = ClientWriteLog()) {
        self.inbound = inbound
        self.clientWrites = clientWrites
    }

    func blackHole() { blackHoled.store(true, ordering: .relaxed) }

    func close() {
        inbound.close(promise: nil)
        outbound.withLock { $0 }?.close(promise: nil)
    }
}

/// Copies what one side reads to the other side, unless the pair is black-holed.
final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let pair: RelayPair
    /// True on the target's side: what it reads goes to the client.
    private let toClient: Bool

    init(pair: RelayPair, toClient: Bool) {
        self.pair = pair
        self.toClient = toClient
    }

    private var partner: (any Channel)? { toClient ? pair.inbound : pair.outbound.withLock { $0 } }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        guard !pair.blackHoled.load(ordering: .relaxed) else { return }
        if !toClient && bytes.readableBytes > 150 { pair.clientWrites.record() }
        partner?.writeAndFlush(bytes, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A black hole closes nothing: the other side must not learn of it.
        if !pair.blackHoled.load(ordering: .relaxed) { partner?.close(promise: nil) }
        context.fireChannelInactive()
    }
}

/// Times of large client writes, bounded.
final class ClientWriteLog: Sendable {
    private let log = Mutex<[ContinuousClock.Instant]>([])

    func record() {
        let now = ContinuousClock.now
        log.withLock { times in
            if times.count >= 100_000 { times.removeFirst(times.count / 2) }
            times.append(now)
        }
    }

    var times: [ContinuousClock.Instant] { log.withLock { $0 } }
}

/// Ends a connection with a FIN at once and ignores what the client sends: closing with unread
/// bytes (the ClientHello) would send a reset, a different fault than EOF during the handshake.
final class EOFHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        context.close(mode: .output, promise: nil)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
