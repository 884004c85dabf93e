import PushContract
import Synchronization

/// Bounds for awaits that have none of their own: an AsyncHTTPClient response body (its
/// deadline covers only the head) and a shared fetch that other callers wait on too.
enum Deadline {
    /// `operation`'s result, or nil once `deadline` (by `clock`) comes first. The operation is
    /// then cancelled and awaited, so it must honour cancellation promptly (AsyncHTTPClient
    /// does: cancelling a body read cancels the request and closes its connection).
    static func run<T: Sendable>(until deadline: EventTime, clock: any PushClock,
                                 _ operation: @escaping @Sendable () async throws -> T) async throws -> T? {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await clock.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
    }

    /// The value of a shared `task`, or nil once `deadline` passes or the caller is cancelled.
    /// The task goes on (it is not ours to cancel: later callers still want its result).
    static func value<T: Sendable>(of task: Task<T, Never>, until deadline: EventTime, clock: any PushClock) async -> T? {
        let once = ResumeOnce<T?>()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                once.set(continuation)
                let timer = Task {
                    try? await clock.sleep(until: deadline)
                    once.resume(nil)
                }
                Task {
                    let value = await task.value
                    once.resume(value)
                    timer.cancel()
                }
            }
        } onCancel: {
            once.resume(nil)
        }
    }
}

/// A continuation resumed by the first of several racers; the value may arrive before the
/// continuation is stored (a racer or a cancellation can win that race too).
private final class ResumeOnce<T: Sendable>: Sendable {
    private enum Phase: Sendable {
        case waiting(CheckedContinuation<T, Never>?)
        case finished(T)
    }

    private let phase = Mutex(Phase.waiting(nil))

    func set(_ continuation: CheckedContinuation<T, Never>) {
        let early: Phase = phase.withLock { p in
            if case .waiting = p { p = .waiting(continuation) }
            return p
        }
        if case .finished(let value) = early { continuation.resume(returning: value) }
    }

    func resume(_ value: T) {
        let waiting: Phase? = phase.withLock { p in
            guard case .waiting = p else { return nil }
            defer { p = .finished(value) }
            return p
        }
        if case .waiting(let continuation?)? = waiting { continuation.resume(returning: value) }
    }
}
