/// The bookkeeping of one HTTP/2 connection as a value-type state machine: its phase (waiting
/// for the server's SETTINGS, ready, draining after GOAWAY or retirement, closed), when the
/// peer was last heard from, and since when a PING is outstanding.
///
/// Why: behind a NAT or firewall that silently forgets a connection, nothing ever arrives and
/// nothing fails, so every retry went to the same dead socket for as long as the kernel kept
/// retransmitting (~15 minutes). An idle connection, or one where a stream just timed out, is
/// now asked for a PING; a missed acknowledgement closes it, and the pool opens a new one.
/// The handler feeds events in and carries out the returned actions; no sockets here, so every
/// transition is tested with stepped time (`HTTP2ConnectionStateTests`).
///
/// Times are milliseconds of the event loop's clock (`EventLoop.now`), not the push clock: on a
/// socket's loop that is monotonic real time, on a test loop its virtual time, which
/// `HTTP2StreamsHandlerTests` step.
struct HTTP2ConnectionState: Sendable, Hashable {
    enum Phase: Sendable, Hashable {
        /// Preface sent; the server's SETTINGS (and so its stream limit) not yet received.
        case starting
        case ready
        /// GOAWAY received or retired: streams already open may finish, none start.
        case draining(TransportError)
        /// Failed or closed: nothing more happens on this connection.
        case closed(TransportError)
    }

    enum Action: Sendable, Hashable {
        case none
        case sendPing
        /// The peer missed its PING acknowledgement: fail the open streams and close.
        case close(TransportError)
    }

    private(set) var phase = Phase.starting
    /// Last time bytes arrived from the peer.
    private(set) var lastActivityMs: Int64
    /// When the PING now awaiting its acknowledgement was sent.
    private(set) var pingSentAtMs: Int64?
    /// Silence after which a PING is sent.
    let idlePingMs: Int64
    /// How long an acknowledgement may take before the connection counts as dead.
    let pingTimeoutMs: Int64

    init(nowMs: Int64, idlePingMs: Int64, pingTimeoutMs: Int64) {
        lastActivityMs = nowMs
        self.idlePingMs = max(1, idlePingMs)
        self.pingTimeoutMs = max(1, pingTimeoutMs)
    }

    /// New streams may start.
    var isReady: Bool { phase == .ready }
    /// SETTINGS arrived or the connection ended before (either way readiness is decided).
    var isStarted: Bool { phase != .starting }
    var isClosed: Bool { if case .closed = phase { true } else { false } }

    /// Why this connection takes no new streams (GOAWAY, retirement, failure), if it does not.
    var closingError: TransportError? {
        switch phase {
        case .starting, .ready: nil
        case .draining(let e), .closed(let e): e
        }
    }

    /// The server's first SETTINGS: true when this made the connection ready.
    mutating func settingsReceived(nowMs: Int64) -> Bool {
        lastActivityMs = max(lastActivityMs, nowMs)
        guard phase == .starting else { return false }
        phase = .ready
        return true
    }

    /// Any bytes from the peer prove the connection alive.
    mutating func bytesReceived(nowMs: Int64) {
        lastActivityMs = max(lastActivityMs, nowMs)
    }

    mutating func pingAcknowledged(nowMs: Int64) {
        pingSentAtMs = nil
        lastActivityMs = max(lastActivityMs, nowMs)
    }

    /// A stream got no answer in time: ask the peer whether it is still there, now rather than
    /// after the idle period (the other streams' traffic may hide a dead connection).
    mutating func streamTimedOut(nowMs: Int64) -> Action {
        guard !isClosed, phase != .starting, pingSentAtMs == nil else { return .none }
        pingSentAtMs = nowMs
        return .sendPing
    }

    /// GOAWAY received, stream ids exhausted or retired: the first reason is kept. Before the
    /// server's SETTINGS the connection can never serve, so it counts as closed, and true is
    /// returned: the caller then fails the connect instead of leaving it to its timeout.
    @discardableResult
    mutating func drain(_ error: TransportError) -> Bool {
        switch phase {
        case .starting:
            phase = .closed(error)
            return true
        case .ready:
            phase = .draining(error)
        case .draining, .closed:
            break
        }
        return false
    }

    /// The connection failed or closes; returns true when readiness was still pending (the
    /// caller then fails the connect). The first reason (GOAWAY, say) is kept.
    @discardableResult
    mutating func close(_ error: TransportError) -> Bool {
        switch phase {
        case .starting:
            phase = .closed(error)
            return true
        case .ready:
            phase = .closed(error)
        case .draining(let first):
            phase = .closed(first)
        case .closed:
            break
        }
        pingSentAtMs = nil
        return false
    }

    /// Called at `nextCheckMs` (or later): sends a PING after the idle period, closes when the
    /// outstanding one is overdue.
    mutating func tick(nowMs: Int64) -> Action {
        guard !isClosed, phase != .starting else { return .none }
        if let sent = pingSentAtMs {
            guard nowMs - sent >= pingTimeoutMs else { return .none }
            let error = TransportError(.closed, "no HTTP/2 PING acknowledgement within \(pingTimeoutMs) ms: connection presumed dead")
            phase = .closed(error)
            pingSentAtMs = nil
            return .close(error)
        }
        guard nowMs - lastActivityMs >= idlePingMs else { return .none }
        pingSentAtMs = nowMs
        return .sendPing
    }

    /// When `tick` may next have something to do; nil once nothing will.
    var nextCheckMs: Int64? {
        guard !isClosed, phase != .starting else { return nil }
        if let sent = pingSentAtMs { return sent + pingTimeoutMs }
        return lastActivityMs + idlePingMs
    }
}
