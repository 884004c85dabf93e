import Foundation
import Synchronization

/// Runs a blocking librdkafka call on a thread of its own and awaits its result.
///
/// - Important: blocking librdkafka calls (flush, close, metadata, watermarks, sync commit)
///   must never run on Swift's cooperative pool: a few of them would starve every task.
///   These calls are rare (start, rebalance, shutdown), so a fresh thread per call is cheaper
///   than keeping a pool alive.
func offload<T: Sendable>(_ name: String, _ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        let thread = Thread {
            continuation.resume(returning: body())
        }
        thread.name = name
        thread.start()
    }
}

/// Runs an async operation from a dedicated (non-cooperative) thread and blocks that thread
/// until it finishes, throwing what it threw. Used by the consumer's poll thread to run
/// rebalance hooks in order, and by readers that apply back-pressure on their own thread;
/// never call it from the cooperative pool.
package func blockOnAsync<E: Error>(_ operation: @escaping @Sendable () async throws(E) -> Void) throws(E) {
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<E?>(nil)
    Task {
        do throws(E) {
            try await operation()
        } catch {
            failure.withLock { $0 = error }
        }
        done.signal()
    }
    done.wait()
    if let error = failure.withLock({ $0 }) { throw error }
}

/// Milliseconds for a librdkafka timeout argument, clamped to `Int32`.
func milliseconds(_ duration: Duration) -> Int32 {
    let (seconds, attoseconds) = duration.components
    let ms = seconds * 1000 + attoseconds / 1_000_000_000_000_000
    return Int32(clamping: max(0, ms))
}
