import Testing
@testable import PushEngine

@Suite("Lane progress and write backoff: what /health and the write retries rely on")
struct LaneProgressTests {
    static let start = ContinuousClock.now

    @Test("a lane busy without progress reports how long; progress or idleness clears it")
    func stall() {
        let progress = LaneProgress(now: Self.start)
        #expect(progress.stalled(now: Self.start + .seconds(500)) == nil, "idle is never stalled")
        progress.update(busy: true, progressed: false, now: Self.start + .seconds(10))
        #expect(progress.stalled(now: Self.start + .seconds(130)) == .seconds(120))
        progress.update(busy: true, progressed: true, now: Self.start + .seconds(130))
        #expect(progress.stalled(now: Self.start + .seconds(131)) == .seconds(1), "counted from the last progress")
        progress.update(busy: false, progressed: false, now: Self.start + .seconds(140))
        #expect(progress.stalled(now: Self.start + .seconds(900)) == nil)
        // Busy again after a long idle time: counted from when work arrived, not from the last progress.
        progress.update(busy: true, progressed: false, now: Self.start + .seconds(1_000))
        #expect(progress.stalled(now: Self.start + .seconds(1_005)) == .seconds(5))
    }

    @Test("a failed write is re-sent after 100 ms doubling to at most 5 s")
    func backoff() {
        #expect((0..<8).map { WriteBackoff.delay(attempt: $0) } == [100, 200, 400, 800, 1_600, 3_200, 5_000, 5_000].map { .milliseconds($0) })
        #expect(WriteBackoff.delay(attempt: 1_000) == .seconds(5))
    }

    @Test("a failed restore is retried after 1 s doubling to at most 30 s")
    func restoreRetry() {
        let bounds = WorkerHealthBounds()
        #expect((0..<7).map { bounds.restoreRetry(attempt: $0) } == [1, 2, 4, 8, 16, 30, 30].map { .seconds($0) })
        #expect(bounds.restoreRetry(attempt: 10_000) == .seconds(30))
    }
}
