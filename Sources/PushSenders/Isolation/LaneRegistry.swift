import PushContract
import Synchronization

/// Lanes by destination name, created on first use.
package final class LaneRegistry: Sendable {
    private let lanes = Mutex<[String: DestinationLane]>([:])
    private let maxQueue: Int
    private let tuning: SenderTuning
    private let clock: any PushClock

    package init(maxQueue: Int, tuning: SenderTuning, clock: any PushClock) {
        self.maxQueue = maxQueue
        self.tuning = tuning
        self.clock = clock
    }

    /// Every lane created so far (for the breaker-state gauge).
    package var all: [DestinationLane] { lanes.withLock { Array($0.values) } }

    package func lane(_ name: String) -> DestinationLane {
        lanes.withLock { l in
            if let lane = l[name] { return lane }
            let lane = DestinationLane(name: name, maxConcurrent: tuning.maxConcurrentPerDestination, maxQueue: maxQueue,
                                       tuning: tuning, clock: clock)
            l[name] = lane
            return lane
        }
    }
}
