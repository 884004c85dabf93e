import Logging
import Synchronization
import Testing
@testable import PushEngine

@Suite("Ownership guard: lanes hold their work when the worker may have lost its partitions")
struct OwnershipGuardTests {
    let t0 = ContinuousClock.now

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
        func set(_ v: Bool) { value.store(v, ordering: .relaxed) }
    }

    func makeGuard(lost: Flag = Flag()) -> OwnershipGuard {
        OwnershipGuard(sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(200), logger: Logger(label: "test"),
                       assignmentLost: { lost.value.load(ordering: .relaxed) }, now: t0)
    }

    @Test("bounds come from the session: a pause of half the session timeout, a hold of two heartbeats and a second (at least 2 s)")
    func bounds() {
        let g = makeGuard()
        #expect(g.freezeBound == .seconds(3))
        #expect(g.confirmWindow == .seconds(2))
        let slow = OwnershipGuard(sessionTimeout: .seconds(45), heartbeatInterval: .seconds(3), logger: Logger(label: "test"), assignmentLost: { false })
        #expect(slow.freezeBound == .milliseconds(22_500))
        #expect(slow.confirmWindow == .seconds(7))
    }

    @Test("ticking on time: lanes act at once")
    func steady() {
        let g = makeGuard()
        for i in 1...50 { g.tick(now: t0 + .milliseconds(100 * i)) }
        #expect(g.holdUntil(now: t0 + .milliseconds(5_050)) == nil)
    }

    @Test("a lane that wakes before the ticker after a pause holds; the ticker's first tick holds every lane for the confirm window")
    func pause() {
        let g = makeGuard()
        g.tick(now: t0 + .milliseconds(100))
        // Frozen for 10 s: a lane runs first.
        let woke = t0 + .seconds(10)
        #expect(g.holdUntil(now: woke) == woke + .seconds(2))
        g.tick(now: woke + .milliseconds(5))
        #expect(g.holdUntil(now: woke + .seconds(1)) == woke + .milliseconds(5) + .seconds(2))
        g.tick(now: woke + .milliseconds(2_000))
        #expect(g.holdUntil(now: woke + .milliseconds(2_100)) == nil, "the hold ends once the window has passed")
    }

    @Test("a gap shorter than the bound (a slow machine) holds nothing")
    func shortGap() {
        let g = makeGuard()
        g.tick(now: t0 + .milliseconds(2_900))
        #expect(g.holdUntil(now: t0 + .milliseconds(2_950)) == nil)
    }

    @Test("while librdkafka says the assignment is lost, lanes hold (the revoke that closes them is on its way)")
    func lost() {
        let flag = Flag()
        let g = makeGuard(lost: flag)
        g.tick(now: t0 + .milliseconds(100))
        #expect(g.holdUntil(now: t0 + .milliseconds(150)) == nil)
        flag.set(true)
        #expect(g.holdUntil(now: t0 + .milliseconds(150)) != nil)
        flag.set(false)
        #expect(g.holdUntil(now: t0 + .milliseconds(150)) == nil)
    }
}
