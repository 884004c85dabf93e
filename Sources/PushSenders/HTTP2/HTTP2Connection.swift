import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PushContract
import PushPolicy
import Synchronization

/// One long-lived HTTP/2 connection multiplexing many requests.
///
/// Callers on any thread hand requests over through a lock-protected batch; one event-loop task
/// drains the batch and writes all of it with a single flush, so a burst of N requests costs one
/// wake-up of the loop, not N.
package final class HTTP2Connection: Sendable {
    private struct Submissions {
        var pending: [HTTP2Stream] = []
        var cancelled: [HTTP2Stream] = []
        var drainScheduled = false
        /// Why this connection takes no new requests (GOAWAY, closed, retired, ids exhausted).
        var unusable: TransportError?
    }

    private let channel: any Channel
    private let handler: NIOLoopBoundBox<HTTP2StreamsHandler?>
    private let box: SubmissionsBox
    private let signals: HTTP2ConnectionSignals

    private init(channel: any Channel, handler: NIOLoopBoundBox<HTTP2StreamsHandler?>, box: SubmissionsBox, signals: HTTP2ConnectionSignals) {
        self.channel = channel
        self.handler = handler
        self.box = box
        self.signals = signals
    }

    /// False once the server said GOAWAY, the connection closed or missed a PING
    /// acknowledgement: the pool opens a new one.
    package var isUsable: Bool { box.state.withLock { $0.unusable == nil } }
    /// Why the connection takes no new requests, if it does not.
    package var unusableReason: TransportError? { box.state.withLock { $0.unusable } }
    /// At least one request got a complete answer here.
    package var hasAnswered: Bool { signals.hasAnswered }
    /// PING acknowledgements received (tests see an idle connection being checked).
    package var pingsAcknowledged: Int { signals.pingsAcknowledged }

    /// Opens TCP, TLS (ALPN h2) or cleartext prior-knowledge h2, and waits for the handshake and
    /// the server's SETTINGS (so the first burst already respects its concurrent-stream limit).
    ///
    /// With `proxy`, TCP goes to the proxy and a `CONNECT host:port` tunnel is opened first; TLS
    /// then runs inside it with the endpoint's name as SNI and verified against it, never the
    /// proxy's. `timeoutMs` bounds TCP to whichever it reaches, then CONNECT, TLS and SETTINGS.
    package static func connect(
        to endpoint: HTTP2Endpoint, tls: NIOSSLContext?, proxy: OutboundProxy? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        clock: any PushClock,
        timeoutMs: Int64,
        liveness: (idlePingMs: Int64, pingTimeoutMs: Int64) = (30_000, 5_000),
        logger: Logger = Logger(label: "pushfleet.http2")
    ) async -> Result<HTTP2Connection, TransportError> {
        let loop = group.next()
        let ready = loop.makePromise(of: Void.self)
        let attached = NIOLoopBoundBox<HTTP2Connection?>.makeEmptyBox(valueType: HTTP2Connection.self, eventLoop: loop)
        let sni = endpoint.useTLS && !endpoint.hostIsIPAddress ? endpoint.host : nil
        /// TLS, then HTTP/2, at the end of the pipeline: at once, or once the tunnel is open.
        @Sendable func install(_ channel: any Channel) throws {
            if let tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: sni))
                // NIOSSL would also accept the proxy's own address as the peer's identity.
                if proxy != nil { try channel.pipeline.syncOperations.addHandler(TunnelIdentityCheck(host: endpoint.host)) }
            }
            attached.value = try attach(to: channel, endpoint: endpoint, expectsTLS: tls != nil, clock: clock, ready: ready,
                                        liveness: liveness, logger: logger)
        }
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(.milliseconds(timeoutMs))
            // TCP level: `.socketOption(.tcp_nodelay)` would set SOL_SOCKET option 1, which is
            // SO_DEBUG — refused (EACCES) to an unprivileged user such as the image's uid 10001,
            // so no connection could open, and silently not TCP_NODELAY as root.
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    if let proxy {
                        try channel.pipeline.syncOperations.addHandler(ProxyConnectHandler(
                            proxy: proxy, targetHost: endpoint.host, targetPort: endpoint.port,
                            established: { context in try install(context.channel) },
                            failed: { error in ready.fail(error) }))
                    } else {
                        try install(channel)
                    }
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let via = proxy.map { " through proxy \($0)" } ?? ""
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: proxy?.host ?? endpoint.host, port: proxy?.port ?? endpoint.port).get()
        } catch {
            ready.fail(TransportError(.connect, "connect failed"))
            if let proxy {
                return .failure(TransportError(.connect, "cannot connect to proxy \(proxy) for \(endpoint): \(error)", unprocessed: true))
            }
            return .failure(TransportError(.connect, "cannot connect to \(endpoint): \(error)", unprocessed: true))
        }
        let timer = loop.scheduleTask(in: .milliseconds(timeoutMs)) {
            ready.fail(TransportError(.connect, "handshake with \(endpoint)\(via) timed out", unprocessed: true))
            channel.close(promise: nil)
        }
        do {
            try await ready.futureResult.get()
            timer.cancel()
        } catch {
            timer.cancel()
            channel.close(promise: nil)
            var e = HTTP2StreamsHandler.map(error)
            e.unprocessed = true
            if e.kind != .tls, e.kind != .untrusted, e.kind != .protocolViolation { e.kind = .connect }
            // The tunnel's own failures already name the proxy.
            e.message = "\(endpoint)\(e.message.contains("proxy ") ? "" : via): \(e.message)"
            return .failure(e)
        }
        // The initializer ran on the loop before `connect` returned, so the box is filled.
        guard let connection = try? await loop.submit({ attached.value }).get() else {
            channel.close(promise: nil)
            return .failure(TransportError(.connect, "\(endpoint): the HTTP/2 handler was not installed", unprocessed: true))
        }
        return .success(connection)
    }

    /// Adds the nghttp2 handler at the end of `channel`'s pipeline (TLS, if any, already in it)
    /// and returns the connection that feeds it; `ready` completes with the server's SETTINGS.
    /// Runs on the channel's event loop. Why separate from `connect`: the same connection works
    /// over any channel, so tests run it on `NIOAsyncTestingChannel` with stepped time against
    /// an nghttp2 server session (`HTTP2StreamsHandlerTests`).
    package static func attach(
        to channel: any Channel, endpoint: HTTP2Endpoint, expectsTLS: Bool, clock: any PushClock, ready: EventLoopPromise<Void>,
        liveness: (idlePingMs: Int64, pingTimeoutMs: Int64), logger: Logger
    ) throws -> HTTP2Connection {
        let box = NIOLoopBoundBox<HTTP2StreamsHandler?>.makeEmptyBox(valueType: HTTP2StreamsHandler.self, eventLoop: channel.eventLoop)
        // The handler reports GOAWAY/close here; the loop-bound box holds the handler itself.
        let state = SubmissionsBox()
        let signals = HTTP2ConnectionSignals(endpoint: endpoint.description, logger: logger)
        let h = HTTP2StreamsHandler(
            scheme: endpoint.scheme, authority: endpoint.authority, expectsTLS: expectsTLS, clock: clock, ready: ready,
            liveness: liveness, signals: signals, onUnusable: { error in state.markUnusable(error) })
        try channel.pipeline.syncOperations.addHandler(h)
        box.value = h
        return HTTP2Connection(channel: channel, handler: box, box: state, signals: signals)
    }

    /// Sends one request; answers by `deadline` at the latest (then `.timeout`, RST_STREAM sent).
    package func execute(_ request: HTTP2Request, deadline: EventTime) async -> Result<HTTP2Response, TransportError> {
        if Task.isCancelled { return .failure(TransportError(.cancelled, "cancelled", unprocessed: true)) }
        let stream = HTTP2Stream(request: request, deadline: deadline)
        return await withTaskCancellationHandler {
            await withUnsafeContinuation { continuation in
                stream.continuation = continuation
                // One lock round per request: queue it and learn whether the loop must be woken.
                let (refused, wake) = box.state.withLock { s -> (TransportError?, Bool) in
                    if let e = s.unusable { return (TransportError(e.kind, e.message, unprocessed: true), false) }
                    s.pending.append(stream)
                    if s.drainScheduled { return (nil, false) }
                    s.drainScheduled = true
                    return (nil, true)
                }
                if let refused {
                    stream.continuation = nil
                    continuation.resume(returning: .failure(refused))
                } else if wake {
                    channel.eventLoop.execute { self.drain() }
                }
            }
        } onCancel: {
            box.state.withLock { $0.cancelled.append(stream) }
            scheduleDrain()
        }
    }

    private func scheduleDrain() {
        let schedule = box.state.withLock { s -> Bool in
            if s.drainScheduled { return false }
            s.drainScheduled = true
            return true
        }
        if schedule {
            channel.eventLoop.execute { self.drain() }
        }
    }

    private func drain() {
        let (batch, cancelled) = box.state.withLock { s in
            s.drainScheduled = false
            defer { s.pending.removeAll(keepingCapacity: true); s.cancelled.removeAll() }
            return (s.pending, s.cancelled)
        }
        guard let h = handler.value else {
            let e = TransportError(.closed, "connection closed", unprocessed: true)
            batch.forEach { $0.complete(.failure(e)) }
            cancelled.forEach { $0.complete(.failure(e)) }
            return
        }
        h.write(batch)
        cancelled.forEach { h.cancel($0) }
    }

    /// Takes no new requests; closes once the ones in flight are answered (certificate reload).
    package func retire() {
        box.state.withLock { s in
            if s.unusable == nil { s.unusable = TransportError(.closed, "connection retired", unprocessed: true) }
        }
        channel.eventLoop.execute { self.handler.value?.retire() }
    }

    package func close() async {
        box.state.withLock { s in
            if s.unusable == nil { s.unusable = TransportError(.closed, "connection closed", unprocessed: true) }
        }
        try? await channel.close()
    }

    /// The submission state, shared with the handler's GOAWAY/close callback.
    private final class SubmissionsBox: Sendable {
        let state = Mutex(Submissions())

        func markUnusable(_ error: TransportError) {
            state.withLock { if $0.unusable == nil { $0.unusable = error } }
        }
    }
}
