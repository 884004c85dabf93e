import Foundation
import NIOPosix
import PushContract
import PushPolicy
import PushSandbox
import Testing
@testable import PushSenders

/// Per-destination state (lanes, breakers, pools) exists only for destinations with
/// credentials, is capped, and is forgotten when idle.
@Suite(.serialized) struct DestinationBoundsTests {
    static func tuning(max: Int, idleMs: Int64) -> SenderTuning {
        var t = quickTuning()
        t.maxDestinations = max
        t.destinationIdleMs = idleMs
        return t
    }

    @Test func unknownFirebaseProjectGetsNoLaneOrPool() async throws {
        let env = try await FirebaseSandboxTests.Env()
        defer { Task { await env.close() } }
        for project in ["999", "998", "997"] {
            let o = await env.senders.send(fcmRequest(project: project), deadline: SystemClock().now().adding(seconds: 10))
            #expect(o.reason == "no Firebase service account or API key for project \(project)")
        }
        #expect(env.senders.lanes.all.isEmpty)
        #expect(env.senders.pools.count == 0)
        #expect(await env.senders.send(fcmRequest(), deadline: SystemClock().now().adding(seconds: 30)).result == .sent)
        #expect(env.senders.lanes.all.map(\.name) == ["fcm:1234"])
        #expect(env.senders.pools.count == 1)
    }

    @Test func lanesAreCappedBusyOnesKeptAndIdleOnesForgotten() {
        let clock = ManualClock(now: t0)
        let lanes = LaneRegistry(maxQueue: 10, tuning: Self.tuning(max: 2, idleMs: 1_000), clock: clock)
        let a = lanes.lane("apns:a")
        let b = lanes.lane("apns:b")
        #expect(b?.reserve() == .admitted)  // b is busy
        clock.advance(by: 10)
        #expect(lanes.lane("apns:a") === a)  // reused, and now the most recently used…
        clock.advance(by: 10)
        let c = lanes.lane("apns:c")  // …yet the only idle one, so it makes room
        #expect(c != nil)
        #expect(Set(lanes.all.map(\.name)) == ["apns:b", "apns:c"])
        #expect(c?.reserve() == .admitted)
        #expect(lanes.lane("apns:d") == nil)  // both busy: refused, not grown
        #expect(lanes.refused("apns:d", provider: "apns").reason == "too many destinations in use (2); apns:d refused")
        b?.release()
        c?.release()
        #expect(lanes.lane("apns:b") === b && lanes.lane("apns:c") === c)  // both used now
        clock.advance(by: 999)
        lanes.evictIdle()
        #expect(lanes.all.count == 2)
        clock.advance(by: 1)
        lanes.evictIdle()
        #expect(lanes.all.isEmpty)
        #expect(lanes.lane("apns:b") !== b)  // a fresh lane (and breaker) after being forgotten
    }

    @Test func poolsAreCappedAndIdleOnesRetired() async {
        let clock = ManualClock(now: t0)
        let pools = PoolRegistry(group: MultiThreadedEventLoopGroup.singleton, clock: clock, tuning: Self.tuning(max: 2, idleMs: 1_000),
                                 logger: .init(label: "t"))
        let endpoint = HTTP2Endpoint(useTLS: false, host: "127.0.0.1", port: 9)
        let first = pools.pool("a", endpoint: endpoint) { nil }
        clock.advance(by: 10)
        let second = pools.pool("b", endpoint: endpoint) { nil }
        clock.advance(by: 10)
        #expect(pools.pool("b", endpoint: endpoint) { nil } === second)
        _ = pools.pool("c", endpoint: endpoint) { nil }
        #expect(pools.count == 2)
        // The least recently used one was retired: it takes no new request.
        if case .failure(let e) = await first.connection() { #expect(e.message == "sender shut down") } else { Issue.record("retired pool connected") }
        clock.advance(by: 1_000)
        pools.evictIdle()
        #expect(pools.count == 0)
        if case .failure(let e) = await second.connection() { #expect(e.message == "sender shut down") } else { Issue.record("retired pool connected") }
        await pools.shutdown()
    }
}
