public import Foundation
import Synchronization

/// Thrown by `waitForRequests` when the deadline passes first; says what was awaited and what came.
public struct SandboxTimeoutError: Error, CustomStringConvertible, Sendable {
    public var expected: Int
    public var received: Int
    public var timeout: Duration
    public var description: String { "sandbox: waited \(timeout) for \(expected) requests, received \(received)" }
}

/// Thrown when a sandbox is used out of order (e.g. `start()` twice) or cannot be built.
public struct SandboxError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "sandbox: \(message)" }
}

/// What a sandbox decided for one valid request: its key (the device token, or the generic
/// path) and the scripted or fault-window reply. Lets a checker tell deliveries from faults.
public struct SandboxAnswer: Sendable, Hashable {
    public var key: String
    public var reply: SandboxReply
    /// The request answered (its body shares storage with `requests`' copy).
    public var request: RecordedRequest
    public var at: Date { request.receivedAt }

    public init(key: String, reply: SandboxReply, request: RecordedRequest) {
        self.key = key
        self.reply = reply
        self.request = request
    }

    /// True when the device got the push: an `ok`, possibly after a delay.
    public var delivered: Bool {
        var reply = reply
        while case .slow(_, let then) = reply { reply = then }
        return reply == .ok
    }
}

/// Requests received and replies scripted, shared between the event loops and the test.
///
/// One lock guards everything; the critical sections are short appends and pops, so contention at
/// benchmark rates stays negligible. Waiters are resumed outside the lock.
final class SandboxRecorder: Sendable {
    private struct Waiter {
        var count: Int
        var continuation: CheckedContinuation<[RecordedRequest], any Error>
    }

    private struct State {
        var requests: [RecordedRequest] = []
        var answers: [SandboxAnswer] = []
        var fault: SandboxReply?
        var scripts: [String: [SandboxReply]] = [:]
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
    }

    private let state = Mutex(State())

    var requests: [RecordedRequest] { state.withLock { $0.requests } }

    var count: Int { state.withLock { $0.requests.count } }

    func script(_ key: String, _ replies: [SandboxReply]) {
        state.withLock { $0.scripts[key, default: []].append(contentsOf: replies) }
    }

    /// While set, the reply to every request whose key has no script left (a fault window).
    func setFault(_ reply: SandboxReply?) {
        state.withLock { $0.fault = reply }
    }

    /// The reply given to each request that reached the script, in order.
    var answers: [SandboxAnswer] { state.withLock { $0.answers } }

    /// The next scripted reply for `key`; once the script is used up, the fault window's reply,
    /// else `.ok`.
    func nextReply(for key: String, request: RecordedRequest) -> SandboxReply {
        state.withLock { state in
            let reply: SandboxReply
            if var replies = state.scripts[key], !replies.isEmpty {
                reply = replies.removeFirst()
                state.scripts[key] = replies.isEmpty ? nil : replies
            } else {
                reply = state.fault ?? .ok
            }
            state.answers.append(SandboxAnswer(key: key, reply: reply, request: request))
            return reply
        }
    }

    func record(_ request: RecordedRequest) {
        let ready: [(CheckedContinuation<[RecordedRequest], any Error>, [RecordedRequest])] = state.withLock { state in
            state.requests.append(request)
            guard !state.waiters.isEmpty else { return [] }
            var ready: [(CheckedContinuation<[RecordedRequest], any Error>, [RecordedRequest])] = []
            for (id, waiter) in state.waiters where waiter.count <= state.requests.count {
                state.waiters[id] = nil
                ready.append((waiter.continuation, state.requests))
            }
            return ready
        }
        for (continuation, requests) in ready { continuation.resume(returning: requests) }
    }

    /// All requests once at least `count` have arrived; `SandboxTimeoutError` after `timeout`.
    func waitForRequests(count: Int, timeout: Duration) async throws -> [RecordedRequest] {
        try await withThrowingTaskGroup(of: [RecordedRequest].self) { group in
            group.addTask { try await self.waitUntil(count: count) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw SandboxTimeoutError(expected: count, received: self.count, timeout: timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func waitUntil(count: Int) async throws -> [RecordedRequest] {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let satisfied: [RecordedRequest]? = state.withLock { state in
                    if state.requests.count >= count { return state.requests }
                    if Task.isCancelled { return nil }
                    state.waiters[id] = Waiter(count: count, continuation: continuation)
                    return []
                }
                switch satisfied {
                case .some(let requests) where requests.count >= count: continuation.resume(returning: requests)
                case .none: continuation.resume(throwing: CancellationError())
                default: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }
}
