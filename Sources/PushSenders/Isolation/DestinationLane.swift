import PushContract
import Synchronization

/// Everything one destination (APNs certificate/app, Firebase project, generic host) owns:
/// a concurrency limit, a bounded waiting queue and a breaker, so trouble on one destination
/// never takes capacity or time from another.
package final class DestinationLane: Sendable {
    private struct Waiter {
        var id: Int
        var continuation: UnsafeContinuation<Bool, Never>
    }

    private struct State {
        var inFlight = 0
        var waiters: [Waiter] = []
        var nextWaiter = 0
        var breaker: CircuitBreaker
    }

    package let name: String
    private let maxConcurrent: Int
    private let maxQueue: Int
    private let clock: any PushClock
    private let state: Mutex<State>

    package init(name: String, maxConcurrent: Int, maxQueue: Int, tuning: SenderTuning, clock: any PushClock) {
        self.name = name
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxQueue = max(0, maxQueue)
        self.clock = clock
        state = Mutex(State(breaker: CircuitBreaker(threshold: tuning.breakerThreshold, openMs: tuning.breakerOpenMs, maxOpenMs: tuning.breakerMaxOpenMs)))
    }

    package enum Entry: Sendable, Hashable {
        case admitted
        /// Queue full: the caller reports `dropped`.
        case queueFull
        /// The deadline passed while waiting.
        case expired
    }

    /// What `reserve()` got: a slot, no room, or a place in the queue (then `wait` for it).
    package enum Reservation: Sendable, Hashable {
        case admitted
        case queueFull
        case queued(ticket: Int)
    }

    /// Takes a free slot, or a place in the bounded queue (then `wait(ticket)` for the slot);
    /// `release()` must follow an admission. Synchronous, so the sender's hot path, which
    /// almost never waits, pays no async call for it.
    package func reserve() -> Reservation {
        state.withLock { s in
            if s.inFlight < maxConcurrent, s.waiters.isEmpty {
                s.inFlight += 1
                return .admitted
            }
            if s.waiters.count >= maxQueue { return .queueFull }
            s.nextWaiter += 1
            return .queued(ticket: s.nextWaiter)
        }
    }

    /// Waits for the slot of a `.queued` reservation, or until `deadline`.
    package func wait(_ id: Int, deadline: EventTime) async -> Entry {
        // Only queued requests pay for a timer: it drops them at their deadline.
        let timer = Task { [clock] in
            do { try await clock.sleep(until: deadline) } catch { return }
            self.expire(id)
        }
        let admitted = await withUnsafeContinuation { (c: UnsafeContinuation<Bool, Never>) in
            let immediate: Bool? = state.withLock { s in
                if s.inFlight < maxConcurrent, s.waiters.isEmpty {
                    s.inFlight += 1
                    return true
                }
                if clock.now() >= deadline { return false }
                s.waiters.append(Waiter(id: id, continuation: c))
                return nil
            }
            if let immediate { c.resume(returning: immediate) }
        }
        timer.cancel()
        return admitted ? .admitted : .expired
    }

    private func expire(_ id: Int) {
        let c = state.withLock { s -> UnsafeContinuation<Bool, Never>? in
            guard let i = s.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return s.waiters.remove(at: i).continuation
        }
        c?.resume(returning: false)
    }

    /// Frees a slot, handing it straight to the oldest waiter.
    package func release() {
        let next = state.withLock { s -> UnsafeContinuation<Bool, Never>? in
            if !s.waiters.isEmpty { return s.waiters.removeFirst().continuation }
            s.inFlight -= 1
            return nil
        }
        next?.resume(returning: true)
    }

    /// The clock is read only when the breaker is not closed, and `record` reads it only for a
    /// failure: a healthy destination's push then costs no clock read here (two per push were a
    /// visible share of the sender's time).
    package func admit() -> CircuitBreaker.Admission {
        state.withLock { s in
            if case .closed = s.breaker.state { return .pass }
            return s.breaker.admit(now: clock.now())
        }
    }

    package func record(_ health: ProviderHealth) {
        state.withLock { s in
            switch health {
            case .healthy: s.breaker.recordSuccess()
            case .failing(let reason): s.breaker.recordFailure(reason, now: clock.now())
            case .unknown: s.breaker.recordNeutral()
            }
        }
    }

    package var breakerState: CircuitBreaker.State { state.withLock { $0.breaker.state } }
    package var lastFailure: String? { state.withLock { $0.breaker.lastFailure } }
    package var queued: Int { state.withLock { $0.waiters.count } }
    /// No push holds or awaits a slot: the lane may be forgotten without stranding anyone.
    package var isIdle: Bool { state.withLock { $0.inFlight == 0 && $0.waiters.isEmpty } }
}

/// What one attempt says about the destination (not about the push).
package enum ProviderHealth: Sendable, Hashable {
    case healthy
    case failing(String)
    case unknown
}
