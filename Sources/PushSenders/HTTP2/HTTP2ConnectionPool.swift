import Logging
import NIOCore
import NIOSSL
import PushContract
import PushPolicy
import Synchronization

/// The one long-lived connection of a (credential, host) pair, reopened with backoff.
///
/// One connection is enough: APNs and FCM allow hundreds to a thousand concurrent streams on
/// it, and nghttp2 queues streams beyond the server's limit. A dropped connection
/// fails its open requests with retryable transport errors; the sender's retry loop resends
/// them on the next connection instead of failing them en masse.
///
/// Reconnects are rate-limited: a failed connect, and a connection that ended before answering
/// anything (a server answering every connection with GOAWAY), doubles the wait before the next
/// one; only a connection that answered resets it. Requests wait out that backoff within their
/// attempt deadline rather than failing with the pool's own state (`.reconnectWait` if the
/// deadline comes first: no request, no attempt, no breaker failure).
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
    /// The proxy this endpoint is reached through, NO_PROXY already applied; nil = direct.
    package let proxy: OutboundProxy?
    private let group: any EventLoopGroup
    private let clock: any PushClock
    private let tuning: SenderTuning
    private let logger: Logger
    private let state = Mutex(State())
    private let opened = Atomic<Int>(0)

    package init(endpoint: HTTP2Endpoint, tls: NIOSSLContext?, proxy: OutboundProxy? = nil, group: any EventLoopGroup,
                 clock: any PushClock, tuning: SenderTuning, logger: Logger) {
        self.endpoint = endpoint
        self.tls = tls
        self.proxy = proxy
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
        switch await connection(until: deadline) {
        case .failure(let e): return .failure(e)
        case .success(let c): return await c.execute(request, deadline: deadline)
        }
    }

    private enum Next {
        case use(HTTP2Connection)
        case wait(Task<Result<HTTP2Connection, TransportError>, Never>)
        case fail(TransportError)
        /// In the reconnect backoff: wait until `at` (or the caller's deadline), then try again.
        case backOff(at: EventTime, after: TransportError)
    }

    /// Opens (or reuses) a connection as a push would; nil when it is usable, else why not.
    package func probe(deadline: EventTime) async -> String? {
        switch await connection(until: deadline) {
        case .success: nil
        case .failure(let e): "\(e)"
        }
    }

    /// A usable connection, opening one if needed. During the reconnect backoff the caller
    /// waits for it until `deadline` (then `.reconnectWait`); without a deadline it fails at once.
    package func connection(until deadline: EventTime? = nil) async -> Result<HTTP2Connection, TransportError> {
        while true {
            var ended: (error: TransportError, retryInMs: Int64)?
            let next: Next = state.withLock { s in
                if s.shutDown { return .fail(TransportError(.closed, "sender shut down", unprocessed: true)) }
                // The clock only on this slow path: a usable connection needs no time.
                let now = clock.now()
                if let c = s.current {
                    if c.isUsable { return .use(c) }
                    s.current = nil
                    if c.hasAnswered {
                        s.failures = 0
                        s.retryAt = nil
                    } else {
                        // Opened, then ended before answering anything (GOAWAY on every
                        // connection, say): a failed connect for the backoff, or we reconnect in a loop.
                        let e = c.unusableReason ?? TransportError(.closed, "connection closed", unprocessed: true)
                        let delay = fail(&s, e, now: now)
                        ended = (e, delay)
                    }
                }
                if let t = s.connecting { return .wait(t) }
                if let at = s.retryAt, now < at, let last = s.lastError {
                    // A trust failure stays final for the push until the next try at the backoff.
                    if last.kind == .untrusted || deadline == nil {
                        let why = "\(last.message) (reconnecting in \(at.millisecondsSince1970 - now.millisecondsSince1970) ms)"
                        return .fail(TransportError(last.kind == .untrusted ? .untrusted : .reconnectWait, why, unprocessed: true))
                    }
                    return .backOff(at: at, after: last)
                }
                let t = Task { await self.open() }
                s.connecting = t
                return .wait(t)
            }
            if let ended {
                SenderMetrics.connectionFailure(endpoint: endpoint.description, reason: .unanswered)
                logger.warning("HTTP/2 connection ended before answering any request", metadata: [
                    "endpoint": "\(endpoint)", "error": "\(ended.error.message)", "reconnect_in_ms": "\(ended.retryInMs)",
                ])
            }
            switch next {
            case .use(let c): return .success(c)
            case .fail(let e): return .failure(e)
            case .wait(let t): return await t.value
            case .backOff(let at, let last):
                // Non-nil here: without a deadline the backoff fails at once (above).
                let end = deadline ?? at
                let giveUp = end <= at
                do { try await clock.sleep(until: giveUp ? end : at) } catch {
                    return .failure(TransportError(.cancelled, "cancelled", unprocessed: true))
                }
                if giveUp {
                    return .failure(TransportError(.reconnectWait, "waiting to reconnect to \(endpoint) after: \(last.message)", unprocessed: true))
                }
            }
        }
    }

    /// Counts a failed connection and schedules the next try; returns the delay.
    private func fail(_ s: inout State, _ e: TransportError, now: EventTime) -> Int64 {
        s.failures += 1
        s.lastError = e
        let delay = Backoff.exponential(attempt: s.failures, baseMs: tuning.reconnectBaseMs, capMs: tuning.reconnectCapMs)
        s.retryAt = now.adding(milliseconds: delay)
        return delay
    }

    private func open() async -> Result<HTTP2Connection, TransportError> {
        let result = await HTTP2Connection.connect(
            to: endpoint, tls: tls, proxy: proxy, group: group, clock: clock, timeoutMs: tuning.connectTimeoutMs,
            liveness: (tuning.pingIdleMs, tuning.pingTimeoutMs), logger: logger)
        let now = clock.now()
        var retryInMs: Int64 = 0
        let stale: HTTP2Connection? = state.withLock { s in
            s.connecting = nil
            switch result {
            case .success(let c):
                // `failures` is reset only once a connection answers (see `connection`).
                s.retryAt = nil
                if s.shutDown { return c }
                s.current = c
            case .failure(let e):
                retryInMs = fail(&s, e, now: now)
            }
            return nil
        }
        switch result {
        case .success:
            opened.add(1, ordering: .relaxed)
            logger.debug("HTTP/2 connection opened", metadata: ["endpoint": "\(endpoint)"])
        case .failure(let e):
            let reason: SenderMetrics.ConnectionFailure = e.kind == .untrusted ? .untrusted : e.kind == .tls ? .tls : .connect
            SenderMetrics.connectionFailure(endpoint: endpoint.description, reason: reason)
            var metadata: Logger.Metadata = ["endpoint": "\(endpoint)", "error": "\(e.message)", "reconnect_in_ms": "\(retryInMs)"]
            if let proxy { metadata["proxy"] = "\(proxy)" }
            logger.warning("HTTP/2 connection failed", metadata: metadata)
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
