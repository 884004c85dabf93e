/// Limits and timings that Flexisip's options do not cover, with production defaults.
///
/// Kept out of `PushFleetConfig` on purpose: tests and the benchmark shrink them, operators
/// should not need to.
public struct SenderTuning: Sendable, Hashable {
    /// Upper bound of one HTTP attempt (answer or give up), within the push's deadline.
    public var attemptTimeoutMs: Int64 = 10_000
    /// HTTP attempts per push at most, whatever the deadline (a week-long message TTL must
    /// not mean a week of retries against a 5xx storm).
    public var maxAttempts = 6
    /// First backoff delay; doubled per attempt, with full jitter, up to `backoffCapMs`.
    public var backoffBaseMs: Int64 = 250
    public var backoffCapMs: Int64 = 30_000
    /// FCM asks for at least a minute after a 429 without `Retry-After`.
    public var fcmTooManyRequestsMinimumMs: Int64 = 60_000
    /// Requests in flight per destination (credential, app or project); more wait in its queue
    /// of `max-queue-size`.
    public var maxConcurrentPerDestination = 1000
    /// Consecutive provider-side failures that open a destination's breaker.
    public var breakerThreshold = 5
    /// First open period; doubles after each failed half-open probe, up to `breakerMaxOpenMs`.
    public var breakerOpenMs: Int64 = 5_000
    public var breakerMaxOpenMs: Int64 = 300_000
    /// TCP connect + TLS handshake bound (real time: sockets cannot follow a manual clock).
    public var connectTimeoutMs: Int64 = 5_000
    /// Reconnect backoff after failed connects, and after connections that ended before
    /// answering anything (a server answering every connection with GOAWAY): base, doubled,
    /// capped. Requests wait for it within their attempt deadline instead of failing.
    public var reconnectBaseMs: Int64 = 100
    public var reconnectCapMs: Int64 = 30_000
    /// An HTTP/2 connection silent this long gets a PING (real time, like `connectTimeoutMs`);
    /// so does one where a stream just timed out.
    public var pingIdleMs: Int64 = 30_000
    /// A PING not acknowledged within this closes the connection; the pool opens another.
    public var pingTimeoutMs: Int64 = 5_000
    /// How often `apple-certificate-dir` is checked for changes.
    public var certificatePollMs: Int64 = 5_000
    /// Certificates expiring within this many days are logged at warning level.
    public var certificateExpiryWarningDays = 30
    /// Destinations (lanes with their breakers, and connection pools) kept at most: past it,
    /// the least recently used idle one goes, and a new destination is refused while all are busy.
    public var maxDestinations = 10_000
    /// A destination unused this long is forgotten (its pool drains and closes, its breaker gauge
    /// goes away); longer than `breakerMaxOpenMs`, so no open breaker is forgotten while it matters.
    public var destinationIdleMs: Int64 = 900_000

    public init() {}
}
