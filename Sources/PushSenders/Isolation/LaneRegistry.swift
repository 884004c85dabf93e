import Metrics
import PushContract
import Synchronization

/// Lanes by destination name, created on first use, at most `tuning.maxDestinations`, each
/// forgotten after `tuning.destinationIdleMs` without use (see `BoundedTable`).
package final class LaneRegistry: Sendable {
    private let lanes: Mutex<BoundedTable<DestinationLane>>
    private let maxQueue: Int
    private let tuning: SenderTuning
    private let clock: any PushClock

    package init(maxQueue: Int, tuning: SenderTuning, clock: any PushClock) {
        self.maxQueue = maxQueue
        self.tuning = tuning
        self.clock = clock
        lanes = Mutex(BoundedTable(capacity: tuning.maxDestinations, idleMs: tuning.destinationIdleMs))
    }

    /// Every lane currently kept (for the breaker-state gauge).
    package var all: [DestinationLane] { lanes.withLock { $0.values } }

    /// The lane of `name`, or nil when `maxDestinations` lanes are all busy (the caller refuses the push).
    package func lane(_ name: String) -> DestinationLane? {
        let now = clock.now().millisecondsSince1970
        let (lane, evicted): (DestinationLane?, [(String, DestinationLane)]) = lanes.withLock { l in
            if let lane = l.use(name, now: now) { return (lane, []) }
            let lane = DestinationLane(name: name, maxConcurrent: tuning.maxConcurrentPerDestination, maxQueue: maxQueue,
                                       tuning: tuning, clock: clock)
            let (inserted, evicted) = l.insert(name, lane, now: now) { $0.isIdle }
            return (inserted ? lane : nil, evicted)
        }
        forget(evicted)
        return lane
    }

    /// The outcome of a push refused because `maxDestinations` lanes are all busy.
    package func refused(_ name: String, provider: String) -> SendOutcome {
        SendOutcome(result: .failed, reason: "too many destinations in use (\(tuning.maxDestinations)); \(name) refused", provider: provider)
    }

    /// Forgets the lanes idle for `destinationIdleMs` (also done whenever a lane is created).
    package func evictIdle() {
        let now = clock.now().millisecondsSince1970
        forget(lanes.withLock { $0.evictIdle(now: now) { $0.isIdle } })
    }

    /// A forgotten lane's gauge series goes too: a scrape must not show a destination we no longer track.
    private func forget(_ evicted: [(String, DestinationLane)]) {
        for (name, _) in evicted {
            Gauge(label: SenderMetrics.breakerState, dimensions: SenderMetrics.labels(lane: name)).destroy()
        }
    }
}
