import Foundation
import Logging
import Synchronization

/// Whether the lanes of this worker may act now for the partitions they were assigned, or must
/// hold what they would do (apply a send's result, fire a timer, take input) until they know.
///
/// A worker frozen (SIGSTOP, a paused VM, a starved container) past its session timeout has been
/// evicted and its partitions have new owners. When it wakes, its lanes hold results that would
/// write schedules over what the new owner wrote (a call that rings again after its end), and
/// librdkafka learns of the loss only at its next heartbeat or session check; the revoke reaches
/// the lanes later still. So after a gap in this process's time longer than `freezeBound`, and
/// while librdkafka says the assignment is lost, lanes hold their work; they go on once `confirmWindow` has passed
/// without a loss (a heartbeat round trip and a session check had time to run), and the revoke
/// closes them, dropping what they held, if it was lost. Chaos seeds
/// 16 and 2026 found the rings; `docs/chaos.md` says what is still not fenced.
final class OwnershipGuard: Sendable {
    /// A pause in this process longer than this may have cost the group session.
    let freezeBound: Duration
    /// How long lanes hold after a pause, for librdkafka to find out whether the session is lost.
    let confirmWindow: Duration
    /// A lane whose oldest write has waited longer than this for the broker's acknowledgement
    /// holds its work until it comes: the broker is out of reach (an outage, or this worker cut
    /// off from it), and past the session timeout the partition may be someone else's. librdkafka
    /// finds a lost session only when its heartbeat request times out (`socket.timeout.ms`, 60 s);
    /// a cut-off worker went on sending for 17–22 s (chaos seeds 16 and 2026).
    let writeStallBound: Duration
    /// A write stall longer than the session timeout may have cost the session without
    /// librdkafka knowing yet: through a connection that went silent rather than refused, it
    /// learns only when a request to the coordinator times out (`socket.timeout.ms`). After such
    /// a stall, lanes hold until this long after it began, or until the revoke closes them.
    let sessionTimeout: Duration
    let lossDetectionBound: Duration
    private let assignmentLost: @Sendable () -> Bool
    private let logger: Logger
    private struct State {
        var lastTick: ContinuousClock.Instant
        var holdUntil: ContinuousClock.Instant
    }
    private let state: Mutex<State>
    private let stopped = Atomic<Bool>(false)

    /// Bounds from the consumer's session settings: a pause of half the session timeout may lose
    /// it (the last heartbeat can be up to an interval older than the pause); holding two
    /// heartbeat intervals and a second is time for a heartbeat's answer and librdkafka's own
    /// session check.
    init(sessionTimeout: Duration, heartbeatInterval: Duration, socketTimeout: Duration = .seconds(60), logger: Logger,
         assignmentLost: @escaping @Sendable () -> Bool, now: ContinuousClock.Instant = .now) {
        freezeBound = max(.seconds(1), sessionTimeout / 2)
        confirmWindow = max(.seconds(2), heartbeatInterval * 2 + .seconds(1))
        writeStallBound = max(.seconds(1), sessionTimeout / 2)
        self.sessionTimeout = sessionTimeout
        lossDetectionBound = socketTimeout + sessionTimeout
        self.assignmentLost = assignmentLost
        self.logger = logger
        state = Mutex(State(lastTick: now, holdUntil: now))
    }

    /// Until when lanes must hold their work (nil: act now). Asked before every step a lane
    /// takes: a lock and a clock read.
    func holdUntil(now: ContinuousClock.Instant = .now) -> ContinuousClock.Instant? {
        let hold: ContinuousClock.Instant? = state.withLock { s in
            // The ticker has not run since a pause (the lane woke first): hold from now.
            if now - s.lastTick > freezeBound { return now + confirmWindow }
            return now < s.holdUntil ? s.holdUntil : nil
        }
        if let hold { return hold }
        // Lost: the revoke is on its way and will close the lanes; until it comes, hold.
        return assignmentLost() ? now + .milliseconds(200) : nil
    }

    /// Notes a tick; a gap longer than `freezeBound` since the last one starts a hold.
    func tick(now: ContinuousClock.Instant = .now) {
        let gap: Duration? = state.withLock { s in
            defer { s.lastTick = now }
            guard now - s.lastTick > freezeBound else { return nil }
            s.holdUntil = max(s.holdUntil, now + confirmWindow)
            return now - s.lastTick
        }
        if let gap {
            EngineMetrics.counter(EngineMetrics.freezes).increment()
            logger.warning("this process was paused; lanes hold their work until the group confirms the assignment", metadata: [
                "paused": "\(gap)", "bound": "\(freezeBound)", "hold": "\(confirmWindow)"])
        }
    }

    /// Ticks every 100 ms on a thread of its own until `stop()` (a thread, not a task: a
    /// starved cooperative pool must not look like a pause, nor hide one).
    func start() {
        // The time from construction to here (topics checked, consumer created) is no pause.
        state.withLock { s in
            s.lastTick = .now
            s.holdUntil = .now
        }
        let thread = Thread { [self] in
            while !stopped.load(ordering: .relaxed) {
                tick()
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        thread.name = "pushfleet-ownership-guard"
        thread.start()
    }

    func stop() { stopped.store(true, ordering: .relaxed) }
}
