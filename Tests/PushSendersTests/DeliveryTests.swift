import PushContract
import Synchronization
import Testing
@testable import PushSenders

/// The retry loop, lanes and breakers with a manual clock: every delay is read off the clock's
/// armed sleeper, never waited for.
@Suite struct DeliveryTests {
    static func tuning() -> SenderTuning {
        var t = SenderTuning()
        t.backoffBaseMs = 1_000
        t.backoffCapMs = 60_000
        t.maxAttempts = 5
        t.breakerThreshold = 3
        t.breakerOpenMs = 10_000
        return t
    }

    /// Scripted verdicts, consumed one per attempt.
    final class Script: Sendable {
        let verdicts: Mutex<[AttemptVerdict]>
        let calls = Atomic<Int>(0)
        init(_ v: [AttemptVerdict]) { verdicts = Mutex(v) }
        func next() -> AttemptVerdict {
            calls.add(1, ordering: .relaxed)
            return verdicts.withLock { $0.isEmpty ? AttemptVerdict(.sent, status: 200, health: .healthy) : $0.removeFirst() }
        }
    }

    static let unavailable = AttemptVerdict(.retry(minimumMs: 0, immediate: false), status: 503, reason: "ServiceUnavailable", health: .failing("ServiceUnavailable"))

    func lane(_ name: String, clock: ManualClock, tuning: SenderTuning = tuning(), concurrent: Int = 10, queue: Int = 10) -> DestinationLane {
        DestinationLane(name: name, maxConcurrent: concurrent, maxQueue: queue, tuning: tuning, clock: clock)
    }

    /// Waits for the loop to arm its backoff sleep and returns the delay it chose.
    func armedDelay(_ clock: ManualClock) async throws -> Int64 {
        try await eventually("a backoff sleep") { clock.sleeperCount > 0 }
        return clock.nextDeadline!.millisecondsSince1970 - clock.now().millisecondsSince1970
    }

    @Test func exponentialBackoffWithJitterThenSuccess() async throws {
        let clock = ManualClock(now: t0)
        var tuning = Self.tuning()
        tuning.breakerThreshold = 10
        let delivery = Delivery(clock: clock, tuning: tuning, seed: 42)
        let script = Script([Self.unavailable, Self.unavailable, Self.unavailable])
        let l = lane("a", clock: clock, tuning: tuning)
        let task = Task { await delivery.run(provider: "apns", lane: l, deadline: t0.adding(seconds: 600)) { _, _, _ in script.next() } }
        var delays: [Int64] = []
        for _ in 0..<3 {
            let d = try await armedDelay(clock)
            delays.append(d)
            clock.advance(by: d)
        }
        let outcome = await task.value
        #expect(outcome.result == .sent)
        #expect(outcome.attempts == 4)
        // Equal jitter: attempt n waits within [base·2^(n−1)/2, base·2^(n−1)].
        #expect((500...1000).contains(delays[0]))
        #expect((1000...2000).contains(delays[1]))
        #expect((2000...4000).contains(delays[2]))
        #expect(outcome.latencyMs == delays.reduce(0, +))
    }

    @Test(arguments: [(Int64(7_000), Int64(7_000)), (Int64(60_000), Int64(60_000))])
    func retryAfterIsAFloor(minimum: Int64, expected: Int64) async throws {
        let clock = ManualClock(now: t0)
        let delivery = Delivery(clock: clock, tuning: Self.tuning(), seed: 1)
        let script = Script([AttemptVerdict(.retry(minimumMs: minimum, immediate: false), status: 429, reason: "TooManyRequests", health: .unknown)])
        let l = lane("a", clock: clock)
        let task = Task { await delivery.run(provider: "fcm", lane: l, deadline: t0.adding(seconds: 600)) { _, _, _ in script.next() } }
        #expect(try await armedDelay(clock) == expected)
        clock.advance(by: expected)
        #expect(await task.value.result == .sent)
    }

    @Test func noRetryThatWouldPassTheDeadline() async {
        let clock = ManualClock(now: t0)
        let delivery = Delivery(clock: clock, tuning: Self.tuning(), seed: 1)
        let script = Script([AttemptVerdict(.retry(minimumMs: 60_000, immediate: false), status: 429, reason: "QUOTA_EXCEEDED", health: .unknown)])
        let outcome = await delivery.run(provider: "fcm", lane: lane("a", clock: clock), deadline: t0.adding(seconds: 30)) { _, _, _ in script.next() }
        #expect(outcome.result == .failed)
        #expect(outcome.status == 429)
        #expect(outcome.attempts == 1)
        #expect(outcome.reason?.contains("would pass the deadline") == true)
        #expect(clock.sleeperCount == 0)
    }

    @Test func attemptLimit() async throws {
        var tuning = Self.tuning()
        tuning.maxAttempts = 2
        tuning.breakerThreshold = 100
        let clock = ManualClock(now: t0)
        let delivery = Delivery(clock: clock, tuning: tuning, seed: 1)
        let script = Script(Array(repeating: Self.unavailable, count: 10))
        let l = lane("a", clock: clock, tuning: tuning)
        let task = Task { await delivery.run(provider: "apns", lane: l, deadline: t0.adding(seconds: 600)) { _, _, _ in script.next() } }
        clock.advance(by: try await armedDelay(clock))
        let outcome = await task.value
        #expect(outcome.result == .failed)
        #expect(outcome.attempts == 2)
        #expect(outcome.reason == "ServiceUnavailable (after 2 attempts)")
    }

    @Test func deadlineAlreadyPassedIsDropped() async {
        let clock = ManualClock(now: t0)
        let delivery = Delivery(clock: clock, tuning: Self.tuning())
        let script = Script([])
        let outcome = await delivery.run(provider: "apns", lane: lane("a", clock: clock), deadline: t0) { _, _, _ in script.next() }
        #expect(outcome.result == .dropped && outcome.reasonCode == .expired)
        #expect(outcome.attempts == 0)
        #expect(script.calls.load(ordering: .relaxed) == 0)
    }

    @Test func reauthenticatesOnceOnly() async {
        let clock = ManualClock(now: t0)
        let delivery = Delivery(clock: clock, tuning: Self.tuning())
        let stale = AttemptVerdict(.reauthenticate, status: 403, reason: "ExpiredProviderToken", health: .unknown)
        let script = Script([stale, stale, stale])
        let flags = Mutex<[Bool]>([])
        let outcome = await delivery.run(provider: "apns", lane: lane("a", clock: clock), deadline: t0.adding(seconds: 60)) { _, _, reauth in
            flags.withLock { $0.append(reauth) }
            return script.next()
        }
        #expect(outcome.result == .failed)
        #expect(outcome.reason == "ExpiredProviderToken")
        #expect(outcome.attempts == 2)
        #expect(flags.withLock { $0 } == [false, true])
    }

    @Test func breakerOpensForOneLaneOnlyAndProbes() async throws {
        let clock = ManualClock(now: t0)
        var tuning = Self.tuning()
        tuning.maxAttempts = 1
        let delivery = Delivery(clock: clock, tuning: tuning)
        let sick = lane("apns:org.sick.prod", clock: clock, tuning: tuning)
        let healthy = lane("apns:org.fine.prod", clock: clock, tuning: tuning)
        let failing = Script(Array(repeating: Self.unavailable, count: 3))
        for _ in 0..<3 {
            let o = await delivery.run(provider: "apns", lane: sick, deadline: t0.adding(seconds: 60)) { _, _, _ in failing.next() }
            #expect(o.result == .failed)
        }
        let calls = failing.calls.load(ordering: .relaxed)
        // A push whose deadline ends before the breaker may probe fails at once…
        let rejected = await delivery.run(provider: "apns", lane: sick, deadline: t0.adding(seconds: 5)) { _, _, _ in failing.next() }
        #expect(rejected.result == .failed)
        #expect(rejected.attempts == 0)
        #expect(rejected.reason?.hasPrefix("circuit open for apns:org.sick.prod") == true)
        #expect(rejected.reason?.hasSuffix(": ServiceUnavailable") == true)
        #expect(failing.calls.load(ordering: .relaxed) == calls)
        // The other app is untouched, at once.
        let fine = Script([])
        #expect(await delivery.run(provider: "apns", lane: healthy, deadline: t0.adding(seconds: 60)) { _, _, _ in fine.next() }.result == .sent)
        // …one with time left waits for the half-open probe instead of failing, then goes through
        // and closes the breaker.
        let waiting = Task { await delivery.run(provider: "apns", lane: sick, deadline: t0.adding(seconds: 60)) { _, _, _ in fine.next() } }
        try await eventually("the push waits for the breaker's probe time") { clock.sleeperCount == 1 }
        #expect(clock.nextDeadline == t0.adding(seconds: 10))
        clock.advance(by: 10_000)
        let probe = await waiting.value
        #expect(probe.result == .sent)
        #expect(probe.attempts == 1)
        #expect(sick.breakerState == .closed(failures: 0))
    }

    @Test func invalidTokensKeepTheBreakerClosed() async {
        let clock = ManualClock(now: t0)
        var tuning = Self.tuning()
        tuning.breakerThreshold = 1
        let delivery = Delivery(clock: clock, tuning: tuning)
        let l = lane("a", clock: clock, tuning: tuning)
        let gone = AttemptVerdict(.invalidToken(since: t0), status: 410, reason: "Unregistered", health: .healthy)
        for _ in 0..<5 {
            let o = await delivery.run(provider: "apns", lane: l, deadline: t0.adding(seconds: 60)) { _, _, _ in gone }
            #expect(o.result == .invalidToken)
            #expect(o.invalidSince == t0)
        }
        #expect(l.breakerState == .closed(failures: 0))
    }

    /// The pool's own reconnect waits (no request made) neither use up attempts nor open the breaker.
    @Test func reconnectWaitsAreNoAttempts() async {
        let clock = ManualClock(now: t0)
        var tuning = Self.tuning()
        tuning.breakerThreshold = 2
        tuning.maxAttempts = 2
        let delivery = Delivery(clock: clock, tuning: tuning)
        let l = lane("a", clock: clock, tuning: tuning)
        let wait = AttemptVerdict.transport(TransportError(.reconnectWait, "waiting to reconnect after: refused", unprocessed: true))
        let script = Script([wait, wait, wait, wait])
        let sent = await delivery.run(provider: "generic", lane: l, deadline: t0.adding(seconds: 60)) { _, _, _ in script.next() }
        #expect(sent.result == .sent)
        #expect(sent.attempts == 1)
        #expect(script.calls.load(ordering: .relaxed) == 5)
        #expect(l.breakerState == .closed(failures: 0))
        // Waiting until the push's deadline: dropped, nothing was sent.
        let waits = Script(Array(repeating: wait, count: 3))
        let dropped = await delivery.run(provider: "generic", lane: l, deadline: t0.adding(seconds: 60)) { number, _, _ in
            let v = waits.next()
            if number == 1, v.requests == 0 { clock.advance(by: 20_000) }
            return v
        }
        #expect(dropped.result == .dropped && dropped.reasonCode == .expired)
        #expect(dropped.attempts == 0)
        #expect(dropped.reason?.hasPrefix("deadline passed before sending: waiting to reconnect") == true)
        #expect(l.breakerState == .closed(failures: 0))
    }

    /// A request lost after it was written may have been delivered: its retry is counted as a
    /// possible duplicate, per provider; a retry after an answer or an unprocessed request is not.
    @Test func ambiguousRetriesAreCountedAndRequestsSummed() async throws {
        let clock = ManualClock(now: t0)
        var tuning = Self.tuning()
        tuning.breakerThreshold = 10
        let metrics = CountingMetrics()
        let delivery = Delivery(clock: clock, tuning: tuning, seed: 3, metrics: metrics)
        let lost = AttemptVerdict.transport(TransportError(.timeout, "no answer before the deadline"))
        let refused = AttemptVerdict.transport(TransportError(.reset, "REFUSED_STREAM", unprocessed: true))
        let script = Script([lost, refused, Self.unavailable])
        let l = lane("a", clock: clock, tuning: tuning)
        let task = Task { await delivery.run(provider: "apns", lane: l, deadline: t0.adding(seconds: 600)) { _, _, _ in script.next() } }
        // Backoff after the lost request and after the 503; the refused stream is retried at once.
        for _ in 0..<2 {
            let d = try await armedDelay(clock)
            clock.advance(by: d)
        }
        let outcome = await task.value
        #expect(outcome.result == .sent)
        #expect(outcome.attempts == 4)
        // The lost one, the 503 answer and the final answer; the refused stream was never processed.
        #expect(outcome.requests == 3)
        #expect(metrics.total(SenderMetrics.ambiguousRetries, [("provider", "apns")]) == 1)
    }

    @Test func queueOverflowIsDroppedAndQueuedRequestsExpire() async throws {
        let clock = ManualClock(now: t0)
        let delivery = Delivery(clock: clock, tuning: Self.tuning())
        let l = lane("fcm:1", clock: clock, concurrent: 1, queue: 1)
        let gate = Gate()
        let first = Task { await delivery.run(provider: "fcm", lane: l, deadline: t0.adding(seconds: 60)) { _, _, _ in
            await gate.wait()
            return AttemptVerdict(.sent, status: 200, health: .healthy)
        } }
        try await eventually("first request in flight") { gate.waiting }
        let second = Task { await delivery.run(provider: "fcm", lane: l, deadline: t0.adding(seconds: 5)) { _, _, _ in
            AttemptVerdict(.sent, status: 200, health: .healthy)
        } }
        try await eventually("second request queued") { l.queued == 1 }
        let third = await delivery.run(provider: "fcm", lane: l, deadline: t0.adding(seconds: 60)) { _, _, _ in
            AttemptVerdict(.sent, status: 200, health: .healthy)
        }
        #expect(third.result == .dropped)
        #expect(third.reason == "queue full for fcm:1")
        #expect(third.reasonCode == .queueFull, "the engine counts its drop cause from the code, not the text")
        try await eventually("queue timer armed") { clock.sleeperCount == 1 }
        clock.advance(by: 5_000)
        let expired = await second.value
        #expect(expired.result == .dropped)
        #expect(expired.reason == "deadline passed while queued for fcm:1")
        #expect(expired.reasonCode == .expired)
        gate.open()
        #expect(await first.value.result == .sent)
        #expect(l.queued == 0)
    }

    @Test func backoffArithmetic() {
        #expect(Backoff.exponential(attempt: 1, baseMs: 250, capMs: 30_000) == 250)
        #expect(Backoff.exponential(attempt: 4, baseMs: 250, capMs: 30_000) == 2_000)
        #expect(Backoff.exponential(attempt: 100, baseMs: 250, capMs: 30_000) == 30_000)
        #expect(Backoff.exponential(attempt: Int.max, baseMs: Int64.max / 2, capMs: 9) == 9)
        var g = SplitMix64(7)
        for attempt in 1...20 {
            let d = Backoff.jittered(attempt: attempt, baseMs: 100, capMs: 10_000, using: &g)
            let full = Backoff.exponential(attempt: attempt, baseMs: 100, capMs: 10_000)
            #expect(d >= full / 2 && d <= full)
        }
        #expect(Backoff.retryAfterMs("12") == 12_000)
        #expect(Backoff.retryAfterMs(" 3 ") == 3_000)
        #expect(Backoff.retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT") == nil)
        #expect(Backoff.retryAfterMs("-1") == nil)
        #expect(Backoff.retryAfterMs("99999999999999999999") == nil)
    }

    @Test func breakerHalfOpenFailureDoublesTheOpenPeriod() {
        var b = CircuitBreaker(threshold: 2, openMs: 1_000, maxOpenMs: 3_000)
        b.recordFailure("x", now: t0)
        #expect(b.admit(now: t0) == .pass)
        b.recordFailure("x", now: t0)
        #expect(b.admit(now: t0) == .reject(until: t0.adding(milliseconds: 1_000)))
        #expect(b.admit(now: t0.adding(milliseconds: 1_000)) == .probe)
        #expect(b.admit(now: t0.adding(milliseconds: 1_000)) == .reject(until: t0.adding(milliseconds: 2_000)))
        b.recordFailure("y", now: t0.adding(milliseconds: 1_000))
        #expect(b.state == .open(until: t0.adding(milliseconds: 3_000)))
        #expect(b.admit(now: t0.adding(milliseconds: 3_000)) == .probe)
        b.recordFailure("y", now: t0.adding(milliseconds: 3_000))
        #expect(b.state == .open(until: t0.adding(milliseconds: 6_000))) // capped at 3 s
        #expect(b.admit(now: t0.adding(milliseconds: 6_000)) == .probe)
        b.recordSuccess()
        #expect(b.admit(now: t0.adding(milliseconds: 6_000)) == .pass)
    }

    @Test func breakerGaugeFollowsTheStateAsOfTheScrape() {
        var b = CircuitBreaker(threshold: 1, openMs: 1_000, maxOpenMs: 3_000)
        #expect(SenderMetrics.level(b.state, now: t0) == 0)
        b.recordFailure("x", now: t0)
        #expect(SenderMetrics.level(b.state, now: t0.adding(milliseconds: 999)) == 2, "open")
        // The open period is over but no request came yet: the next one is the probe.
        #expect(SenderMetrics.level(b.state, now: t0.adding(milliseconds: 1_000)) == 1, "due for a probe")
        #expect(b.admit(now: t0.adding(milliseconds: 1_000)) == .probe)
        #expect(SenderMetrics.level(b.state, now: t0.adding(milliseconds: 1_000)) == 1, "probing")
        b.recordFailure("x", now: t0.adding(milliseconds: 1_000))
        #expect(SenderMetrics.level(b.state, now: t0.adding(milliseconds: 2_000)) == 2, "reopened for twice as long")
        b.recordSuccess()
        #expect(SenderMetrics.level(b.state, now: t0.adding(milliseconds: 2_000)) == 0)
    }

    @Test func breakerGaugeLabelsSplitTheLaneName() {
        #expect(SenderMetrics.labels(lane: "apns:org.linphone.phone.voip").map { "\($0.0)=\($0.1)" } == ["provider=apns", "destination=org.linphone.phone.voip"])
        #expect(SenderMetrics.labels(lane: "generic:https://push.example.org:443").map(\.1) == ["generic", "https://push.example.org:443"])
        #expect(SenderMetrics.labels(lane: "odd").map(\.1) == ["odd", ""])
        // Every exported sender metric has help text.
        #expect(Set(SenderMetrics.help.keys) == [SenderMetrics.breakerState, SenderMetrics.certificateExpiry, SenderMetrics.credentialsReloadFailures,
                                                  SenderMetrics.connectionFailures, SenderMetrics.ambiguousRetries, SenderMetrics.providerErrors])
    }
}

/// Holds an attempt until the test opens it.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    var waiting: Bool { state.withLock { !$0.waiters.isEmpty } }
    func wait() async {
        await withCheckedContinuation { c in
            let now = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }
    func open() {
        let w = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        w.forEach { $0.resume() }
    }
}
