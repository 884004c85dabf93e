import Foundation
import NIOPosix
import PushContract
import PushPolicy
import PushSandbox
import Testing
@testable import PushSenders

/// How the pool reconnects: rate-limited against a server that refuses every connection, its
/// own waits charged to no push and no breaker, transient TLS failures retried.
@Suite(.serialized) struct ReconnectTests {
    func deadline(_ milliseconds: Int64 = 30_000) -> EventTime { SystemClock().now().adding(milliseconds: milliseconds) }

    func pool(_ url: String, tls: String?, tuning: SenderTuning) throws -> HTTP2ConnectionPool {
        HTTP2ConnectionPool(endpoint: HTTP2Endpoint(url: url)!, tls: try tls.map { try TLSSetup.context(caFile: $0) },
                            group: MultiThreadedEventLoopGroup.singleton, clock: SystemClock(), tuning: tuning, logger: .init(label: "test"))
    }

    func post(_ path: String) -> HTTP2Request {
        HTTP2Request(method: "POST", path: path, headers: [(name: "content-type", value: "application/json")], body: Array("{}".utf8))
    }

    @Test func goAwayOnEveryConnectionDoesNotCauseAReconnectStorm() async throws {
        let ca = try SandboxCertificateAuthority.generate()
        let sandbox = try GenericPushSandbox(version: .http2, tls: .tls(try ca.issueServerCredential()))
        try await sandbox.start()
        let dir = try temporaryDirectory()
        try ca.writeCertificate(to: dir + "/ca.pem")
        var tuning = quickTuning()
        tuning.reconnectBaseMs = 100
        tuning.reconnectCapMs = 1_000
        let pool = try pool(sandbox.baseURL, tls: dir + "/ca.pem", tuning: tuning)
        defer {
            Task {
                await pool.shutdown()
                try? await sandbox.shutdown()
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        // Every request is the first on its connection and gets GOAWAY(last stream 0), then close.
        sandbox.script(path: "/p", Array(repeating: .goAway, count: 100_000))
        // Requests keep coming until the server has seen 4 connections (or 15 s on a very loaded
        // machine): the pool must keep trying, but at the backoff's pace, not at once.
        let started = ContinuousClock.now
        let giveUp = started + .seconds(15)
        let request = post("/p")
        let requests = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var n = 0
                    while sandbox.connectionCount < 4, ContinuousClock.now < giveUp {
                        _ = await pool.execute(request, deadline: SystemClock().now().adding(milliseconds: 300))
                        n += 1
                    }
                    return n
                }
            }
            return await group.reduce(0, +)
        }
        let elapsed = Double((ContinuousClock.now - started).components.seconds) + 1
        #expect(sandbox.connectionCount >= 4, "it keeps reconnecting")
        // Backoff 100, 200, 400, 800 ms before the 2nd…5th connection: reaching 4 takes at least
        // 0.7 s, and no more than 5 connections fit in that time (immediate reconnects made
        // hundreds per second).
        #expect(ContinuousClock.now - started >= .milliseconds(700))
        #expect(Double(sandbox.connectionCount) <= 5 + elapsed, "\(sandbox.connectionCount) connections in \(elapsed) s")
        #expect(requests >= 8)
        // Once the server behaves, a request waits out the backoff and gets through.
        let healthy = await pool.execute(post("/healthy"), deadline: deadline(5_000))
        if case .success(let r) = healthy { #expect(r.status == 200) } else { Issue.record("\(healthy)") }
    }

    @Test func poolWaitsBurnNoAttemptsAndLeaveTheBreakerClosed() async throws {
        // A port where nobody listens: the first connect is refused, then the pool backs off for a minute.
        let gone = try GenericPushSandbox(version: .http2, tls: .none)
        try await gone.start()
        let url = gone.baseURL
        try await gone.shutdown()
        var tuning = quickTuning()
        tuning.reconnectBaseMs = 60_000
        tuning.reconnectCapMs = 60_000
        tuning.breakerThreshold = 3
        let pool = try pool(url, tls: nil, tuning: tuning)
        defer { Task { await pool.shutdown() } }
        let clock = SystemClock()
        let delivery = Delivery(clock: clock, tuning: tuning, seed: 1)
        let lane = DestinationLane(name: "generic:\(url)", maxConcurrent: 10, maxQueue: 10, tuning: tuning, clock: clock)
        var outcomes: [SendOutcome] = []
        for _ in 0..<6 {
            outcomes.append(await delivery.run(provider: "generic", lane: lane, deadline: deadline(300)) { _, attemptDeadline, _ in
                switch await pool.execute(post("/p"), deadline: attemptDeadline) {
                case .success: AttemptVerdict(.sent, status: 200, health: .healthy)
                case .failure(let e): .transport(e)
                }
            })
        }
        // The refused connect is the one real failure; the pool's backoff is nobody's failure.
        #expect(outcomes[0].attempts == 1)
        #expect(outcomes[0].result == .failed)
        for o in outcomes.dropFirst() {
            #expect(o.result == .dropped, "\(o.reason ?? "")")
            #expect(o.attempts == 0)
            #expect(o.reason?.contains("waiting to reconnect") == true, "\(o.reason ?? "")")
        }
        #expect(lane.breakerState == .closed(failures: 1))
        #expect(pool.connectionsOpened == 0)
    }

    /// A certificate trust failure is final for the request, and repeated at once while the pool
    /// backs off, but not cached for ever: once the server presents a trusted certificate, the
    /// next handshake at the reconnect backoff succeeds.
    @Test func untrustedCertificateIsRetriedAtTheReconnectBackoff() async throws {
        let ca = try SandboxCertificateAuthority.generate()
        let stranger = try SandboxCertificateAuthority.generate(commonName: "Somebody Else")
        let wrong = try GenericPushSandbox(version: .http2, tls: .tls(try stranger.issueServerCredential()))
        try await wrong.start()
        let right = try GenericPushSandbox(version: .http2, tls: .tls(try ca.issueServerCredential()))
        try await right.start()
        let relay = SandboxTCPRelay(port: wrong.port)
        try await relay.start()
        let dir = try temporaryDirectory()
        try ca.writeCertificate(to: dir + "/ca.pem")
        var tuning = quickTuning()
        tuning.reconnectBaseMs = 300
        tuning.reconnectCapMs = 300
        let pool = try pool(relay.baseURL, tls: dir + "/ca.pem", tuning: tuning)
        defer {
            Task {
                await pool.shutdown()
                try? await relay.shutdown()
                try? await wrong.shutdown()
                try? await right.shutdown()
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        func kind(_ r: Result<HTTP2Response, TransportError>) -> TransportError.Kind? {
            if case .failure(let e) = r { return e.kind }
            return nil
        }
        #expect(kind(await pool.execute(post("/p"), deadline: deadline())) == .untrusted)
        // Within the backoff: the same verdict at once, no new handshake.
        #expect(kind(await pool.execute(post("/p"), deadline: deadline())) == .untrusted)
        #expect(relay.connectionCount == 1)
        relay.retarget(port: right.port)
        // Polled like `eventually`, with a deadline: each failure is the immediate cached verdict.
        let end = ContinuousClock.now + .seconds(10)
        var status: Int?
        while status == nil, ContinuousClock.now < end {
            if case .success(let r) = await pool.execute(post("/p"), deadline: deadline()) { status = r.status } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(status == 200)
        #expect(right.requests.count == 1)
        #expect(AttemptVerdict.transport(TransportError(.untrusted, "refused")).action == .failed)
    }

    /// A load balancer dropping a connection mid-handshake: EOF in TLS is transient, the retry
    /// on a new connection delivers.
    @Test func transientHandshakeEOFIsRetried() async throws {
        let ca = try SandboxCertificateAuthority.generate()
        let sandbox = try APNsSandbox(ca: ca)
        try await sandbox.start()
        let relay = SandboxTCPRelay(port: sandbox.port)
        try await relay.start()
        let fixture = try APNsCertificateFixture(ca: ca, baseURL: relay.baseURL)
        let dir = fixture.dir, config = fixture.config
        let senders = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "test"), tuning: quickTuning(), jitterSeed: 1)
        defer {
            Task {
                await senders.shutdown()
                try? await relay.shutdown()
                try? await sandbox.shutdown()
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        relay.dropNextConnections(1)
        let o = await senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == .sent, "\(o.reason ?? "")")
        #expect(o.attempts == 2)
        #expect(relay.connectionCount == 2)
        #expect(sandbox.requests.count == 1)
    }
}
