import Synchronization

/// Whether a lane is making progress, readable without awaiting it (for `/health`).
///
/// A lane is busy while it has sends in flight or writes not yet acknowledged; it progresses
/// when a send completes or a write is acknowledged. A lane busy with no progress for longer
/// than the worker's stall bound is wedged: a provider or broker fault that nothing ended.
final class LaneProgress: Sendable {
    private struct State {
        var busySince: ContinuousClock.Instant?
        var lastProgress: ContinuousClock.Instant
    }

    private let state: Mutex<State>

    init(now: ContinuousClock.Instant = .now) {
        state = Mutex(State(busySince: nil, lastProgress: now))
    }

    func update(busy: Bool, progressed: Bool, now: ContinuousClock.Instant = .now) {
        state.withLock { s in
            if progressed { s.lastProgress = now }
            if !busy {
                s.busySince = nil
            } else if s.busySince == nil {
                s.busySince = now
            }
        }
    }

    /// How long the lane has been busy without progress (nil when idle).
    func stalled(now: ContinuousClock.Instant = .now) -> Duration? {
        state.withLock { s in
            guard let busySince = s.busySince else { return nil }
            return now - max(busySince, s.lastProgress)
        }
    }
}
