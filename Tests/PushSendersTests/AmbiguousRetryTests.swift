import Foundation
import PushContract
import PushPolicy
import PushSandbox
import Testing
@testable import PushSenders

/// A request lost after it was written is retried, and the provider may then have it twice:
/// the outcome's `requests` says so (against the real APNs sandbox, which records both).
@Suite(.serialized) struct AmbiguousRetryTests {
    @Test func retryAfterALostRequestCountsBothRequests() async throws {
        let ca = try SandboxCertificateAuthority.generate()
        let sandbox = try APNsSandbox(ca: ca)
        try await sandbox.start()
        let fixture = try APNsCertificateFixture(ca: ca, baseURL: sandbox.baseURL)
        let dir = fixture.dir, config = fixture.config
        var tuning = quickTuning()
        // Long enough that no answered request times out on a loaded machine (a retried warm-up
        // request counted 2 during a parallel test run); the hung one costs this once.
        tuning.attemptTimeoutMs = 3_000
        let senders = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "test"), tuning: tuning, jitterSeed: 1)
        defer {
            Task {
                await senders.shutdown()
                try? await sandbox.shutdown()
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        let deadline = SystemClock().now().adding(seconds: 30)
        // The connection is opened first, so the lost request is the one that hangs, not the handshake.
        let warm = await senders.send(apnsRequest(token: String(repeating: "cd", count: 32)), deadline: deadline)
        #expect(warm.result == .sent)
        #expect(warm.requests == 1)
        sandbox.script(token: apnsToken, [.hang])
        let o = await senders.send(apnsRequest(), deadline: deadline)
        #expect(o.result == .sent, "\(o.reason ?? "")")
        #expect(o.attempts == 2)
        #expect(o.requests == 2)
        #expect(sandbox.requests.filter { $0.path.hasSuffix(apnsToken) }.count == 2)
    }

    @Test func retryOfAnUnprocessedRequestIsNoSecondRequest() async throws {
        let ca = try SandboxCertificateAuthority.generate()
        let sandbox = try APNsSandbox(ca: ca)
        try await sandbox.start()
        let fixture = try APNsCertificateFixture(ca: ca, baseURL: sandbox.baseURL)
        let dir = fixture.dir, config = fixture.config
        let senders = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "test"), tuning: quickTuning(), jitterSeed: 1)
        defer {
            Task {
                await senders.shutdown()
                try? await sandbox.shutdown()
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        // GOAWAY naming the stream before this one: the server says it did not process it.
        sandbox.script(token: apnsToken, [.goAway])
        let o = await senders.send(apnsRequest(), deadline: SystemClock().now().adding(seconds: 30))
        #expect(o.result == .sent, "\(o.reason ?? "")")
        #expect(o.attempts == 2)
        #expect(o.requests == 1)
    }
}
