import PushContract
import Synchronization

/// A clock that only moves when a test advances it. Sleepers wake when time reaches their deadline.
public final class ManualClock: PushClock {
    private struct Sleeper {
        var deadline: EventTime
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: EventTime
        var sleepers: [Int: Sleeper] = [:]
        var nextId = 0
    }

    private let state: Mutex<State>

    public init(now: EventTime) {
        state = Mutex(State(now: now))
    }

    public func now() -> EventTime { state.withLock { $0.now } }

    /// Number of tasks currently sleeping on this clock (lets a test wait until a timer is armed).
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Earliest deadline anyone sleeps until, if any.
    public var nextDeadline: EventTime? { state.withLock { $0.sleepers.values.map(\.deadline).min() } }

    public func advance(by milliseconds: Int64) {
        advance(to: now().adding(milliseconds: milliseconds))
    }

    /// Moves time forward (never backward) and wakes every sleeper whose deadline has come.
    public func advance(to time: EventTime) {
        let due: [CheckedContinuation<Void, any Error>] = state.withLock { s in
            if time > s.now { s.now = time }
            let ready = s.sleepers.filter { $0.value.deadline <= s.now }
            for key in ready.keys { s.sleepers[key] = nil }
            return ready.values.map(\.continuation)
        }
        due.forEach { $0.resume() }
    }

    public func sleep(until deadline: EventTime) async throws {
        let id = state.withLock { s -> Int in
            s.nextId += 1
            return s.nextId
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow: Bool = state.withLock { s in
                    if deadline <= s.now || Task.isCancelled { return true }
                    s.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}
