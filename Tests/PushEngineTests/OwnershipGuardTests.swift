import Logging
import Synchronization
import Kafka
import Testing
@testable import PushEngine

@Suite("Ownership guard: lanes hold their work when the worker may have lost its partitions")
struct OwnershipGuardTests {
    let t0 = ContinuousClock.now

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
        func set(_ v: Bool) { value.store(v, ordering: .relaxed) }
    }

    /// The coordinator's silence as the consumer's statistics would say (milliseconds; -1: unknown).
    final class Silence: Sendable {
        let ms = Atomic<Int>(-1)
        let rebalancing = Atomic<Bool>(false)
        func set(_ v: Duration?) { ms.store(v.map { Int($0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000) } ?? -1, ordering: .relaxed) }
        var value: CoordinatorSilence? {
            let v = ms.load(ordering: .relaxed)
            return v < 0 ? nil : CoordinatorSilence(duration: .milliseconds(v), rebalancing: rebalancing.load(ordering: .relaxed))
        }
    }

    func makeGuard(lost: Flag = Flag(), silence: Silence = Silence()) -> OwnershipGuard {
        OwnershipGuard(sessionTimeout: .seconds(6), heartbeatInterval: .milliseconds(200), logger: Logger(label: "test"),
                       assignmentLost: { lost.value.load(ordering: .relaxed) }, coordinatorSilence: { silence.value }, now: t0)
    }

    @Test("bounds come from the session: a pause of half the session timeout, a hold of two heartbeats and a second (at least 2 s)")
    func bounds() {
        let g = makeGuard()
        #expect(g.freezeBound == .seconds(3))
        #expect(g.confirmWindow == .seconds(2))
        #expect(g.silenceBound == .milliseconds(4_800))
        #expect(g.rebalancingSilenceBound == .milliseconds(6_200))
        let slow = OwnershipGuard(sessionTimeout: .seconds(45), heartbeatInterval: .seconds(3), logger: Logger(label: "test"), assignmentLost: { false })
        #expect(slow.freezeBound == .milliseconds(22_500))
        #expect(slow.confirmWindow == .seconds(7))
        #expect(slow.silenceBound == .seconds(41))
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

    @Test("a coordinator silent past the bound (cut off from the broker) holds lanes until the confirm window after it answers again")
    func silentCoordinator() {
        let silence = Silence()
        let g = makeGuard(silence: silence)
        silence.set(.milliseconds(300))
        g.tick(now: t0 + .milliseconds(100))
        #expect(g.holdUntil(now: t0 + .milliseconds(150)) == nil)
        silence.set(.milliseconds(4_900))
        g.tick(now: t0 + .milliseconds(200))
        #expect(g.holdUntil(now: t0 + .milliseconds(250)) == t0 + .milliseconds(2_200))
        // Still silent: the hold keeps moving.
        g.tick(now: t0 + .milliseconds(2_000))
        #expect(g.holdUntil(now: t0 + .milliseconds(2_100)) == t0 + .milliseconds(4_000))
        // Answers again: the hold ends a confirm window after the last silent tick.
        silence.set(.milliseconds(100))
        g.tick(now: t0 + .milliseconds(2_100))
        #expect(g.holdUntil(now: t0 + .milliseconds(3_900)) == t0 + .milliseconds(4_000))
        g.tick(now: t0 + .milliseconds(4_001))
        #expect(g.holdUntil(now: t0 + .milliseconds(4_050)) == nil)
        // While rejoining, a JoinGroup may wait for the others up to the session timeout.
        silence.rebalancing.store(true, ordering: .relaxed)
        silence.set(.milliseconds(5_900))
        g.tick(now: t0 + .milliseconds(4_050))
        #expect(g.holdUntil(now: t0 + .milliseconds(4_060)) == nil)
        silence.set(.milliseconds(6_300))
        g.tick(now: t0 + .milliseconds(4_070))
        #expect(g.holdUntil(now: t0 + .milliseconds(4_080)) == t0 + .milliseconds(6_070))
        silence.rebalancing.store(false, ordering: .relaxed)
        silence.set(.milliseconds(100))
        g.tick(now: t0 + .milliseconds(6_080))
        // Unknown (no statistics yet, or stale) holds nothing.
        silence.set(nil)
        g.tick(now: t0 + .milliseconds(6_100))
        #expect(g.holdUntil(now: t0 + .milliseconds(6_150)) == nil)
    }
}
