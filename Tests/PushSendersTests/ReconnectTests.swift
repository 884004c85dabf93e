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

    /// A load balancer dropping a connection mid-handshake: EOF in TLS is transient, the retry
    /// on a new connection delivers.
    @Test func transientHandshakeEOFIsRetried() async throws {
        let ca = try SandboxCertificateAuthority.generate()
        let sandbox = try APNsSandbox(ca: ca)
        try await sandbox.start()
        let relay = SandboxTCPRelay(port: sandbox.port)
        try await relay.start()
        let dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/apn", withIntermediateDirectories: true)
        try write(try ca.issueClientCredential(topic: "org.linphone.phone").combinedPEM, to: "\(dir)/apn/org.linphone.phone.voip.prod.pem")
        try ca.writeCertificate(to: dir + "/ca.pem")
        var config = PushFleetConfig()
        config.pushNotification.appleCertificateDir = dir + "/apn"
        config.pushNotification.firebase = false
        config.pushfleet.applePushURI = relay.baseURL
        config.pushfleet.appleDevPushURI = relay.baseURL
        config.pushfleet.tlsCAFile = dir + "/ca.pem"
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
