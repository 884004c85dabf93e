import PushContract

/// What one HTTP attempt means for the push, and what it says about the destination.
package struct AttemptVerdict: Sendable, Hashable {
    package enum Action: Sendable, Hashable {
        case sent
        case invalidToken(since: EventTime?)
        /// Retry after at least `minimumMs` (Retry-After, FCM's minute); `immediate` when the
        /// server certainly did not process the request (GOAWAY, dropped before writing).
        case retry(minimumMs: Int64, immediate: Bool)
        /// Credentials were refused as stale (APNs ExpiredProviderToken, FCM 401): the sender
        /// may refresh once and retry at once.
        case reauthenticate
        case failed
    }

    package var action: Action
    package var status: Int?
    package var reason: String?
    package var health: ProviderHealth
    /// HTTP requests the provider may have acted on: 1 for an answer or a request lost after
    /// it was written; 0 when it certainly was not processed (never written, refused stream,
    /// above a GOAWAY's last stream, connect or handshake failure).
    package var requests: Int
    /// The request was written and no answer came (timeout, reset, connection lost): the
    /// provider may have delivered it, so retrying it may deliver the push twice.
    package var ambiguous: Bool
    /// False when the attempt only waited for the pool's reconnect backoff: the delivery loop
    /// then does not count it against the push's attempts.
    package var isAttempt: Bool

    package init(_ action: Action, status: Int? = nil, reason: String? = nil, health: ProviderHealth,
                 requests: Int = 1, ambiguous: Bool = false, isAttempt: Bool = true) {
        self.action = action
        self.status = status
        self.reason = reason
        self.health = health
        self.requests = requests
        self.ambiguous = ambiguous
        self.isAttempt = isAttempt
    }

    /// Transport failures: retryable except certificate trust failures (a wrong CA or an
    /// expired certificate does not heal within a push's lifetime) and cancellation.
    package static func transport(_ e: TransportError) -> AttemptVerdict {
        var v = classify(e)
        // Only a written, unanswered request may have been processed; cancellation ends the push anyway.
        v.requests = e.unprocessed ? 0 : 1
        v.ambiguous = !e.unprocessed && e.kind != .cancelled
        return v
    }

    private static func classify(_ e: TransportError) -> AttemptVerdict {
        switch e.kind {
        case .untrusted:
            return AttemptVerdict(.failed, reason: e.message, health: .failing(e.message))
        case .reconnectWait:
            // The pool's own wait: no request, nothing learnt about the destination.
            return AttemptVerdict(.retry(minimumMs: 0, immediate: true), reason: e.message, health: .unknown, isAttempt: false)
        case .cancelled:
            return AttemptVerdict(.failed, reason: "cancelled", health: .unknown)
        case .goAway:
            // A graceful GOAWAY is the server rotating connections, not a sick destination.
            return AttemptVerdict(.retry(minimumMs: 0, immediate: true), reason: e.message, health: .unknown)
        case .connect, .tls, .closed, .reset, .timeout, .protocolViolation:
            // Failed connections back off twice: here per push, and in the pool per connection.
            let immediate = e.unprocessed && e.kind != .connect && e.kind != .tls
            return AttemptVerdict(.retry(minimumMs: 0, immediate: immediate), reason: e.message, health: .failing(e.message))
        }
    }
}
