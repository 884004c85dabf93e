import Foundation
import Logging

/// Ends the process when stopping outlasts its bound, whatever is stuck.
///
/// A graceful stop waits for Kafka (revoke, commit, leaving the group, flushing) and for
/// providers (sends in flight); with the broker down or a provider that never answers, some of
/// those waits are librdkafka's own and cannot be cancelled. The watchdog runs on a thread of
/// its own, so neither a blocked cooperative pool nor a blocked event loop can keep it from
/// firing: SIGTERM always ends the process within `bound`.
enum ShutdownWatchdog {
    /// Arms the watchdog once; later calls do nothing.
    static func arm(bound: Duration, reason: String, logger: Logger) {
        guard armed.exchange() == false else { return }
        let thread = Thread {
            Thread.sleep(forTimeInterval: Double(bound.components.seconds) + Double(bound.components.attoseconds) / 1e18)
            logger.critical("stopping took longer than its bound; exiting now (the next owner repeats what was not recorded)",
                            metadata: ["bound": "\(bound)", "reason": "\(reason)"])
            exitNow(1)
        }
        thread.name = "pushfleet-shutdown-watchdog"
        thread.start()
    }

    /// Exits at once without running exit handlers (which could wait on the very threads that
    /// are stuck), after flushing what was logged.
    static func exitNow(_ status: Int32) -> Never {
        fflush(nil)  // every open output stream
        _exit(status)
    }

    private static let armed = OnceFlag()
}

/// A flag that is set once (thread-safe).
final class OnceFlag: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = false

    /// Sets the flag; returns what it was before.
    func exchange() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let old = value
        value = true
        return old
    }
}
