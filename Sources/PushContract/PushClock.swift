import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time as the contract counts it (event times, deadlines, TTLs), injectable.
///
/// Deadlines in PushFleet are absolute wall-clock instants (an event's `time` plus a delay), so a
/// worker that takes over a partition fires them on time. Everything that waits for time —
/// schedules, token refresh, backoff, breakers — takes a `PushClock`, so tests step time with
/// `PushFleetTesting.ManualClock` instead of sleeping.
public protocol PushClock: Sendable {
    func now() -> EventTime
    /// Returns at or after `deadline`; throws `CancellationError` if the task is cancelled.
    func sleep(until deadline: EventTime) async throws
}

extension PushClock {
    public func sleep(for milliseconds: Int64) async throws {
        try await sleep(until: now().adding(milliseconds: milliseconds))
    }
}

/// The system's real-time clock.
public struct SystemClock: PushClock {
    public init() {}

    public func now() -> EventTime {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return EventTime(millisecondsSince1970: Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000)
    }

    public func sleep(until deadline: EventTime) async throws {
        let remaining = deadline.millisecondsSince1970 - now().millisecondsSince1970
        if remaining > 0 {
            try await Task.sleep(for: .milliseconds(remaining))
        } else {
            try Task.checkCancellation()
        }
    }
}
