import Logging
import NIOCore
import NIOSSL
import PushContract
import Synchronization

/// The one long-lived connection of a (credential, host) pair, reopened with backoff.
///
/// One connection is enough: APNs and FCM allow hundreds to a thousand concurrent streams on
/// it, and nghttp2 queues streams beyond the server's limit. A dropped connection
/// fails its open requests with retryable transport errors; the sender's retry loop resends
/// them on the next connection instead of failing them en masse.
package final class HTTP2ConnectionPool: Sendable {
    private struct State {
        var current: HTTP2Connection?
        var connecting: Task<Result<HTTP2Connection, TransportError>, Never>?
        var failures = 0
        var retryAt: EventTime?
        var lastError: TransportError?
        var shutDown = false
    }

    package let endpoint: HTTP2Endpoint
    private let tls: NIOSSLContext?
    private let group: any EventLoopGroup
    private let clock: any PushClock
    private let tuning: SenderTuning
    private let logger: Logger
    private let state = Mutex(State())
    private let opened = Atomic<Int>(0)

    package init(endpoint: HTTP2Endpoint, tls: NIOSSLContext?, group: any EventLoopGroup, clock: any PushClock,
                 tuning: SenderTuning, logger: Logger) {
        self.endpoint = endpoint
        self.tls = tls
        self.group = group
        self.clock = clock
        self.tuning = tuning
        self.logger = logger
    }

    /// Connections opened so far (tests check reuse and reconnects).
    package var connectionsOpened: Int { opened.load(ordering: .relaxed) }

    package func execute(_ request: HTTP2Request, deadline: EventTime) async -> Result<HTTP2Response, TransportError> {
        // The usual case, an open connection, without the async call of `connection()`.
        if let c = state.withLock({ s in s.shutDown ? nil : s.current }), c.isUsable {
            return await c.execute(request, deadline: deadline)
        }
        switch await connection() {
        case .failure(let e): return .failure(e)
        case .success(let c): return await c.execute(request, deadline: deadline)
        }
    }

    private enum Next {
        case use(HTTP2Connection)
        case wait(Task<Result<HTTP2Connection, TransportError>, Never>)
        case fail(TransportError)
    }

    package func connection() async -> Result<HTTP2Connection, TransportError> {
        let next: Next = state.withLock { s in
            if s.shutDown { return .fail(TransportError(.closed, "sender shut down", unprocessed: true)) }
            if let c = s.current {
                if c.isUsable { return .use(c) }
                s.current = nil
            }
            if let t = s.connecting { return .wait(t) }
            // The clock only on this slow path: a usable connection needs no time.
            if let at = s.retryAt, case let now = clock.now(), now < at, let last = s.lastError {
                return .fail(TransportError(last.kind, "\(last.message) (reconnecting in \(at.millisecondsSince1970 - now.millisecondsSince1970) ms)", unprocessed: true))
            }
            let t = Task { await self.open() }
            s.connecting = t
            return .wait(t)
        }
        switch next {
        case .use(let c): return .success(c)
        case .fail(let e): return .failure(e)
        case .wait(let t): return await t.value
        }
    }

    private func open() async -> Result<HTTP2Connection, TransportError> {
        let result = await HTTP2Connection.connect(
            to: endpoint, tls: tls, group: group, clock: clock, timeoutMs: tuning.connectTimeoutMs,
            liveness: (tuning.pingIdleMs, tuning.pingTimeoutMs), logger: logger)
        let now = clock.now()
        let stale: HTTP2Connection? = state.withLock { s in
            s.connecting = nil
            switch result {
            case .success(let c):
                s.failures = 0
                s.retryAt = nil
                if s.shutDown { return c }
                s.current = c
            case .failure(let e):
                s.failures += 1
                s.lastError = e
                let delay = Backoff.exponential(attempt: s.failures, baseMs: tuning.reconnectBaseMs, capMs: tuning.reconnectCapMs)
                s.retryAt = now.adding(milliseconds: delay)
            }
            return nil
        }
        switch result {
        case .success:
            opened.add(1, ordering: .relaxed)
            logger.debug("HTTP/2 connection opened", metadata: ["endpoint": "\(endpoint)"])
        case .failure(let e):
            logger.warning("HTTP/2 connection failed", metadata: ["endpoint": "\(endpoint)", "error": "\(e.message)"])
        }
        if let stale {
            await stale.close()
            return .failure(TransportError(.closed, "sender shut down", unprocessed: true))
        }
        return result
    }

    /// Stops taking requests; in-flight ones finish on the retired connection (certificate
    /// reload must not drop them), then it closes.
    package func retire() {
        let c = state.withLock { s -> HTTP2Connection? in
            s.shutDown = true
            defer { s.current = nil }
            return s.current
        }
        c?.retire()
    }

    package func shutdown() async {
        let (c, t) = state.withLock { s -> (HTTP2Connection?, Task<Result<HTTP2Connection, TransportError>, Never>?) in
            s.shutDown = true
            defer { s.current = nil }
            return (s.current, s.connecting)
        }
        await c?.close()
        if let t, case .success(let late) = await t.value { await late.close() }
    }
}
