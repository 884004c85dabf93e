import Metrics
import PushContract
import Synchronization

/// The attempt loop every sender shares: lane entry, breaker, per-attempt deadline, backoff
/// with jitter and Retry-After, one re-authentication, and the final outcome.
package struct Delivery: Sendable {
    package let clock: any PushClock
    package let tuning: SenderTuning
    private let random: RandomSource
    /// Where `pushfleet_ambiguous_retries_total` goes: the process's backend, or a test's.
    private let metrics: any MetricsFactory

    package init(clock: any PushClock, tuning: SenderTuning, seed: UInt64? = nil, metrics: any MetricsFactory = MetricsSystem.factory) {
        self.clock = clock
        self.tuning = tuning
        self.random = RandomSource(seed: seed)
        self.metrics = metrics
    }

    /// Runs `attempt(number, attemptDeadline, reauthenticate)` until a final verdict, the
    /// attempt limit or the deadline. `reauthenticate` is true on the one retry that follows a
    /// stale-credential answer, so the caller refreshes its token first.
    package func run(
        provider: String, lane: DestinationLane, deadline: EventTime,
        attempt: (_ number: Int, _ attemptDeadline: EventTime, _ reauthenticate: Bool) async -> AttemptVerdict
    ) async -> SendOutcome {
        let start = clock.now()
        var requests = 0
        func outcome(_ result: PushResult, _ v: AttemptVerdict?, attempts: Int, reason: String? = nil, since: EventTime? = nil) -> SendOutcome {
            SendOutcome(result: result, status: v?.status, reason: reason ?? v?.reason, invalidSince: since, attempts: attempts,
                        requests: requests, provider: provider, latencyMs: clock.now().millisecondsSince1970 - start.millisecondsSince1970)
        }
        /// Never attempted: the code says why, for the engine's `pushfleet_dropped_total`.
        func dropped(_ reason: OutcomeReason, _ v: AttemptVerdict? = nil, attempts: Int = 0) -> SendOutcome {
            var o = outcome(.dropped, v, attempts: attempts, reason: reason.text)
            o.reasonCode = reason.code
            return o
        }
        guard start < deadline else {
            return dropped(OutcomeReason(.expired, "deadline passed before sending"))
        }
        let entry: DestinationLane.Entry
        switch lane.reserve() {
        case .admitted: entry = .admitted
        case .queueFull: entry = .queueFull
        case .queued(let ticket): entry = await lane.wait(ticket, deadline: deadline)
        }
        switch entry {
        case .admitted: break
        case .queueFull:
            var full = dropped(OutcomeReason(.queueFull, "queue full for \(lane.name)"))
            full.noCapacity = true
            return full
        case .expired: return dropped(OutcomeReason(.expired, "deadline passed while queued for \(lane.name)"))
        }
        defer { lane.release() }

        var attempts = 0
        var last: AttemptVerdict?
        var reauthenticated = false
        var reauthenticateNext = false
        while true {
            let now = clock.now()
            if now >= deadline {
                guard let last else { return dropped(OutcomeReason(.expired, "deadline passed before sending"), attempts: attempts) }
                if attempts == 0 {
                    // Only waited for a connection: nothing was sent.
                    return dropped(OutcomeReason(.expired, "deadline passed before sending: \(last.reason ?? "no connection")"), last)
                }
                return outcome(.failed, last, attempts: attempts, reason: "\(last.reason ?? "failed"); deadline passed")
            }
            if case .reject(let until) = lane.admit() {
                // The breaker protects the provider and the other destinations, not this push:
                // while its deadline allows, wait for the half-open probe instead of failing
                // (a VoIP push with 30 s left must survive a 5 s outage of one connection).
                let why = lane.lastFailure.map { ": \($0)" } ?? ""
                guard until < deadline else {
                    return outcome(.failed, last, attempts: attempts,
                                   reason: "circuit open for \(lane.name) until \(until.rfc3339)\(why)")
                }
                do { try await clock.sleep(until: until) } catch {
                    return outcome(.failed, last, attempts: attempts, reason: "cancelled while the circuit was open\(why)")
                }
                continue
            }
            attempts += 1
            let attemptDeadline = min(deadline, now.adding(milliseconds: tuning.attemptTimeoutMs))
            let v = await attempt(attempts, attemptDeadline, reauthenticateNext)
            requests += v.requests
            if !v.isAttempt, case .retry = v.action {
                // Only waited out the pool's reconnect backoff: no request, so no attempt and no
                // breaker failure. It cannot spin: the pool answers so only at the attempt deadline.
                attempts -= 1
                lane.record(v.health)
                last = v
                continue
            }
            reauthenticateNext = false
            lane.record(v.health)
            last = v
            switch v.action {
            case .sent:
                return outcome(.sent, v, attempts: attempts)
            case .invalidToken(let since):
                return outcome(.invalidToken, v, attempts: attempts, since: since)
            case .failed:
                return outcome(.failed, v, attempts: attempts)
            case .reauthenticate:
                if reauthenticated || attempts >= tuning.maxAttempts {
                    return outcome(.failed, v, attempts: attempts)
                }
                reauthenticated = true
                reauthenticateNext = true
            case .retry(let minimumMs, let immediate):
                if attempts >= tuning.maxAttempts {
                    return outcome(.failed, v, attempts: attempts, reason: "\(v.reason ?? "failed") (after \(attempts) attempts)")
                }
                let backoff = immediate ? 0 : random.jittered(attempt: attempts, baseMs: tuning.backoffBaseMs, capMs: tuning.backoffCapMs)
                let delay = max(backoff, minimumMs)
                let wake = clock.now().adding(milliseconds: delay)
                if wake >= deadline {
                    return outcome(.failed, v, attempts: attempts, reason: "\(v.reason ?? "failed"); retry in \(delay) ms would pass the deadline")
                }
                if v.ambiguous {
                    // The provider may have delivered the lost request: this retry may duplicate it.
                    Counter(label: SenderMetrics.ambiguousRetries, dimensions: [("provider", provider)], factory: metrics).increment()
                }
                if delay > 0 {
                    do { try await clock.sleep(until: wake) } catch {
                        return outcome(.failed, v, attempts: attempts, reason: "cancelled")
                    }
                }
            }
        }
    }
}

/// Jitter source: seeded in tests for reproducible delays, system entropy otherwise.
final class RandomSource: Sendable {
    private let state: Mutex<SplitMix64?>

    init(seed: UInt64?) { state = Mutex(seed.map(SplitMix64.init)) }

    func jittered(attempt: Int, baseMs: Int64, capMs: Int64) -> Int64 {
        state.withLock { s in
            if s != nil { return Backoff.jittered(attempt: attempt, baseMs: baseMs, capMs: capMs, using: &s!) }
            var g = SystemRandomNumberGenerator()
            return Backoff.jittered(attempt: attempt, baseMs: baseMs, capMs: capMs, using: &g)
        }
    }
}

/// A small seeded generator: deterministic jitter in tests, and replayable random test inputs
/// in other modules' tests.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    package init(_ seed: UInt64) { state = seed }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
