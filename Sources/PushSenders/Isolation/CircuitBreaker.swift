import PushContract

/// A destination's breaker, as a value-type state machine (its owner holds the lock).
///
/// Closed: requests pass; `threshold` consecutive provider-side failures open it. Open: requests
/// fail fast until the open period ends. Half-open: exactly one probe passes; its success
/// closes the breaker, its failure reopens it for twice as long (capped). Per-token answers
/// (bad token, unregistered) count as successes: the provider is healthy.
package struct CircuitBreaker: Sendable, Hashable {
    package enum State: Sendable, Hashable {
        case closed(failures: Int)
        case open(until: EventTime)
        case halfOpen(probing: Bool)
    }

    package enum Admission: Sendable, Hashable {
        case pass
        /// The one request that tests a recovering destination.
        case probe
        case reject(until: EventTime)
    }

    package private(set) var state = State.closed(failures: 0)
    package private(set) var lastFailure: String?
    private var openMs: Int64
    private let threshold: Int
    private let baseOpenMs: Int64
    private let maxOpenMs: Int64

    package init(threshold: Int, openMs: Int64, maxOpenMs: Int64) {
        self.threshold = max(1, threshold)
        self.baseOpenMs = openMs
        self.openMs = openMs
        self.maxOpenMs = maxOpenMs
    }

    package mutating func admit(now: EventTime) -> Admission {
        switch state {
        case .closed:
            return .pass
        case .open(let until):
            if now < until { return .reject(until: until) }
            state = .halfOpen(probing: true)
            return .probe
        case .halfOpen(let probing):
            if probing { return .reject(until: now.adding(milliseconds: 1000)) }
            state = .halfOpen(probing: true)
            return .probe
        }
    }

    package mutating func recordSuccess() {
        state = .closed(failures: 0)
        openMs = baseOpenMs
    }

    package mutating func recordFailure(_ reason: String, now: EventTime) {
        lastFailure = reason
        switch state {
        case .closed(let failures):
            if failures + 1 >= threshold {
                state = .open(until: now.adding(milliseconds: openMs))
            } else {
                state = .closed(failures: failures + 1)
            }
        case .halfOpen:
            openMs = min(maxOpenMs, openMs * 2)
            state = .open(until: now.adding(milliseconds: openMs))
        case .open:
            break
        }
    }

    /// A probe that ended without a verdict (cancelled): let the next request probe.
    package mutating func recordNeutral() {
        if case .halfOpen = state { state = .halfOpen(probing: false) }
    }
}
