import Foundation
import PushContract
import PushPolicy
import PushSandbox
import Testing
@testable import PushSenders

/// Every provider connection through a real CONNECT proxy on loopback (`SandboxConnectProxy`).
///
/// The providers are named `*.test` hosts that only the proxy resolves (to the sandboxes on
/// 127.0.0.1), and their certificates carry those names only besides loopback: a push that
/// arrives went through the proxy, with TLS verified against the provider's name.
@Suite(.serialized) struct ProxyTests {
    static let apnsHost = "api.push.apple.test"
    static let fcmHost = "fcm.googleapis.test"
    static let gatewayHost = "push.gateway.test"

    func deadline(_ seconds: Int = 30) -> EventTime { SystemClock().now().adding(seconds: seconds) }

    func named(_ host: String) -> SandboxListen { SandboxListen(host: "127.0.0.1", port: 0, hostname: host) }

    func startProxy(requireAuthorization: String? = nil) async throws -> SandboxConnectProxy {
        let proxy = SandboxConnectProxy(hosts: [Self.apnsHost: "127.0.0.1", Self.fcmHost: "127.0.0.1", Self.gatewayHost: "127.0.0.1"],
                                        requireAuthorization: requireAuthorization)
        try await proxy.start()
        return proxy
    }

    /// The APNs sandbox under `apnsHost` and a config sending to it through `proxy`.
    final class APNsEnv: Sendable {
        let sandbox: APNsSandbox
        let fixture: APNsCertificateFixture

        init(listen: SandboxListen) async throws {
            let ca = try SandboxCertificateAuthority.generate()
            sandbox = try APNsSandbox(ca: ca, listen: listen)
            try await sandbox.start()
            fixture = try APNsCertificateFixture(ca: ca, baseURL: sandbox.baseURL)
        }

        func senders(proxy: OutboundProxy?, tuning: SenderTuning = quickTuning(), logger: LogCapture? = nil) throws -> PushSenders {
            var config = fixture.config
            config.pushfleet.outboundProxy = proxy
            return try PushSenders(config: config, clock: SystemClock(), logger: logger?.logger ?? .init(label: "test"), tuning: tuning,
                                   jitterSeed: 1)
        }

        func close() async {
            try? await sandbox.shutdown()
            try? FileManager.default.removeItem(atPath: fixture.dir)
        }
    }

    func proxy(_ sandbox: SandboxConnectProxy, userInfo: String = "", noProxy: String = "") throws -> OutboundProxy {
        try OutboundProxy.parse("http://\(userInfo)127.0.0.1:\(sandbox.port)", source: "[pushfleet] https-proxy", noProxy: NoProxyList(noProxy))
    }

    @Test func apnsPushGoesThroughTheTunnelWithTLSVerifiedAgainstTheProvider() async throws {
        let proxy = try await startProxy()
        let env = try await APNsEnv(listen: named(Self.apnsHost))
        #expect(env.sandbox.baseURL.hasPrefix("https://\(Self.apnsHost):"))
        let senders = try env.senders(proxy: try self.proxy(proxy))
        for _ in 0..<2 {
            let o = await senders.send(apnsRequest(), deadline: deadline())
            #expect(o.result == .sent, "\(o)")
        }
        let r = try await env.sandbox.waitForRequests(count: 2, timeout: .seconds(5))
        #expect(r[0].httpVersion == "2")
        #expect(r[0].clientCertificateTopic == "org.linphone.phone")
        // One tunnel carries both pushes; the proxy saw the provider's name and port, no credential.
        #expect(proxy.requests == [SandboxConnectProxy.Request(target: "\(Self.apnsHost):\(env.sandbox.port)", proxyAuthorization: nil,
                                                               answered: 200)])
        await senders.shutdown()
        await env.close()
        try await proxy.shutdown()
    }

    @Test func aDroppedTunnelIsReopenedThroughTheProxy() async throws {
        let proxy = try await startProxy()
        let env = try await APNsEnv(listen: named(Self.apnsHost))
        let senders = try env.senders(proxy: try self.proxy(proxy))
        #expect(await senders.send(apnsRequest(), deadline: deadline()).result == .sent)
        proxy.closeTunnels()
        let o = await senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == .sent, "\(o)")
        #expect(proxy.requests.map(\.answered) == [200, 200])
        #expect(senders.pools.connectionsOpened() == 2)
        await senders.shutdown()
        await env.close()
        try await proxy.shutdown()
    }

    @Test func theProviderCertificateIsCheckedNotTheProxy() async throws {
        // The sandbox's certificate names 127.0.0.1 and localhost only: reached as apnsHost
        // through the tunnel, verification must fail, whatever the proxy is.
        let proxy = try await startProxy()
        let env = try await APNsEnv(listen: .loopback)
        var config = env.fixture.config
        config.pushfleet.applePushURI = "https://\(Self.apnsHost):\(env.sandbox.port)"
        config.pushfleet.outboundProxy = try self.proxy(proxy)
        let senders = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "test"), tuning: quickTuning(), jitterSeed: 1)
        let o = await senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == .failed)
        #expect(o.reason?.contains("TLS certificate refused: it does not name \(Self.apnsHost)") == true, "\(o)")
        #expect(proxy.requests.first?.target == "\(Self.apnsHost):\(env.sandbox.port)")
        #expect(env.sandbox.requests.isEmpty)
        await senders.shutdown()
        await env.close()
        try await proxy.shutdown()
    }

    @Test func noProxyDestinationsConnectDirectly() async throws {
        let proxy = try await startProxy()
        let env = try await APNsEnv(listen: .loopback)
        for noProxy in ["127.0.0.1", "*", "localhost,127.0.0.1:\(env.sandbox.port)"] {
            let senders = try env.senders(proxy: try self.proxy(proxy, noProxy: noProxy))
            let o = await senders.send(apnsRequest(), deadline: deadline())
            #expect(o.result == .sent, "NO_PROXY=\(noProxy): \(o)")
            await senders.shutdown()
        }
        #expect(proxy.connectionCount == 0)
        // An entry for another port or host does not exclude it.
        let senders = try env.senders(proxy: try self.proxy(proxy, noProxy: "127.0.0.1:1,.example.org"))
        #expect(await senders.send(apnsRequest(), deadline: deadline()).result == .sent)
        #expect(proxy.requests.map(\.target) == ["127.0.0.1:\(env.sandbox.port)"])
        await senders.shutdown()
        await env.close()
        try await proxy.shutdown()
    }

    @Test func aRefusingProxyFailsThePushNamingProxyAndStatus() async throws {
        let proxy = try await startProxy()
        proxy.setMode(.refuse(403))
        let env = try await APNsEnv(listen: named(Self.apnsHost))
        var tuning = quickTuning()
        tuning.maxAttempts = 2
        let senders = try env.senders(proxy: try self.proxy(proxy), tuning: tuning)
        let o = await senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == .failed)
        let expected = "proxy 127.0.0.1:\(proxy.port) refused CONNECT \(Self.apnsHost):\(env.sandbox.port): 403 Forbidden"
        #expect(o.reason?.contains(expected) == true, "\(o)")
        #expect(env.sandbox.requests.isEmpty)
        await senders.shutdown()
        await env.close()
        try await proxy.shutdown()
    }

    @Test func proxyCredentialsAreSentAndNeverShown() async throws {
        let authorization = "Basic " + Data("pushfleet:s3cr%t@x".utf8).base64EncodedString()
        let proxy = try await startProxy(requireAuthorization: authorization)
        let env = try await APNsEnv(listen: named(Self.apnsHost))
        let logs = LogCapture()
        // Percent-encoded in the URL, decoded before encoding the header.
        let senders = try env.senders(proxy: try self.proxy(proxy, userInfo: "pushfleet:s3cr%25t%40x@"), logger: logs)
        let o = await senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == .sent, "\(o)")
        #expect(proxy.requests.first?.proxyAuthorization == authorization)
        await senders.shutdown()

        var tuning = quickTuning()
        tuning.maxAttempts = 1
        let wrong = try env.senders(proxy: try self.proxy(proxy, userInfo: "pushfleet:wrong-secret@"), tuning: tuning, logger: logs)
        let refused = await wrong.send(apnsRequest(), deadline: deadline())
        #expect(refused.result == .failed)
        #expect(refused.reason?.contains("refused CONNECT \(Self.apnsHost):\(env.sandbox.port): 407") == true, "\(refused)")
        await wrong.shutdown()

        let unauthenticated = try env.senders(proxy: try self.proxy(proxy), tuning: tuning, logger: logs)
        let missing = await unauthenticated.send(apnsRequest(), deadline: deadline())
        #expect(missing.reason?.contains("407 Proxy Authentication Required (the proxy URL has no credentials)") == true, "\(missing)")
        await unauthenticated.shutdown()

        let everything = logs.all.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n") + "\(refused) \(missing)"
        #expect(everything.contains("127.0.0.1:\(proxy.port)"))
        for secret in ["s3cr", "wrong-secret", "pushfleet:", String(authorization.dropFirst(6)), "Basic "] {
            #expect(!everything.contains(secret), "\(secret) leaked")
        }
        await env.close()
        try await proxy.shutdown()
    }

    @Test func aSilentProxyIsBoundedByTheConnectTimeout() async throws {
        let proxy = try await startProxy()
        proxy.setMode(.silent)
        let env = try await APNsEnv(listen: named(Self.apnsHost))
        var tuning = quickTuning()
        tuning.connectTimeoutMs = 300
        tuning.maxAttempts = 1
        let senders = try env.senders(proxy: try self.proxy(proxy), tuning: tuning)
        let o = await finishing(within: .seconds(10)) { await senders.send(apnsRequest(), deadline: SystemClock().now().adding(seconds: 30)) }
        #expect(o?.result == .failed)
        #expect(o?.reason?.contains("timed out") == true, "\(String(describing: o))")
        #expect(o?.reason?.contains("through proxy 127.0.0.1:\(proxy.port)") == true, "\(String(describing: o))")
        #expect(proxy.requests.count == 1)
        await senders.shutdown()
        await env.close()
        try await proxy.shutdown()
    }

    /// The FCM sandbox (messages and OAuth) under `fcmHost`, a service account for project 1234
    /// and senders reaching both through `proxy`.
    func firebase(through proxy: SandboxConnectProxy) async throws -> (FCMSandbox, String, PushSenders) {
        let ca = try SandboxCertificateAuthority.generate()
        let sandbox = try FCMSandbox(ca: ca, listen: named(Self.fcmHost))
        try await sandbox.start()
        let dir = try temporaryDirectory()
        try ca.writeCertificate(to: dir + "/ca.pem")
        try write(try sandbox.makeServiceAccount(projectId: "linphone-app"), to: dir + "/sa.json")
        var config = PushFleetConfig()
        config.pushNotification.apple = false
        config.pushNotification.firebaseServiceAccounts = [ProjectCredential(project: "1234", value: dir + "/sa.json")]
        config.pushfleet.firebaseURI = sandbox.baseURL
        config.pushfleet.tlsCAFile = dir + "/ca.pem"
        config.pushfleet.outboundProxy = try self.proxy(proxy)
        let senders = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "test"), tuning: quickTuning(), jitterSeed: 1)
        #expect(sandbox.baseURL.hasPrefix("https://\(Self.fcmHost):"))
        return (sandbox, dir, senders)
    }

    @Test func fcmV1PushAndItsOAuthTokenGoThroughTheProxy() async throws {
        let proxy = try await startProxy()
        let (sandbox, dir, senders) = try await firebase(through: proxy)
        let o = await senders.send(fcmRequest(), deadline: deadline())
        #expect(o.result == .sent, "\(o)")
        #expect(sandbox.tokenRequests.count == 1)
        let r = try await sandbox.waitForRequests(count: 1, timeout: .seconds(5))
        #expect(r[0].header("authorization")?.hasPrefix("Bearer ") == true)
        // One tunnel for the token (AsyncHTTPClient), one for the HTTP/2 sender.
        let target = "\(Self.fcmHost):\(sandbox.port)"
        #expect(proxy.requests.map(\.target) == [target, target])
        await senders.shutdown()
        try await sandbox.shutdown()
        try await proxy.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func aRefusedTokenFetchNamesTheProxy() async throws {
        let proxy = try await startProxy()
        proxy.setMode(.refuse(407))
        let (sandbox, dir, senders) = try await firebase(through: proxy)
        let o = await senders.send(fcmRequest(), deadline: deadline())
        #expect(o.result == .failed)
        #expect(o.reason?.contains("proxy 127.0.0.1:\(proxy.port) refused CONNECT \(Self.fcmHost):\(sandbox.port): 407") == true, "\(o)")
        #expect(sandbox.tokenRequests.isEmpty)
        await senders.shutdown()
        try await sandbox.shutdown()
        try await proxy.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test(arguments: [PushNotificationOptions.ExternalPushProtocol.http, .http2])
    func genericPushGoesThroughTheProxy(proto: PushNotificationOptions.ExternalPushProtocol) async throws {
        let proxy = try await startProxy()
        let ca = try SandboxCertificateAuthority.generate()
        let credential = try ca.issueServerCredential(hosts: [Self.gatewayHost])
        let sandbox = try GenericPushSandbox(version: proto == .http2 ? .http2 : .http1, tls: .tls(credential), listen: named(Self.gatewayHost))
        try await sandbox.start()
        let dir = try temporaryDirectory()
        try ca.writeCertificate(to: dir + "/ca.pem")
        var config = PushFleetConfig()
        config.pushNotification.externalPushURI = sandbox.baseURL + "/push/$token"
        config.pushNotification.externalPushMethod = .post
        config.pushNotification.externalPushProtocol = proto
        config.pushfleet.tlsCAFile = dir + "/ca.pem"
        config.pushfleet.outboundProxy = try self.proxy(proxy)
        let senders = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "t"), tuning: quickTuning())
        let o = await senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == .sent, "\(o)")
        let r = try await sandbox.waitForRequests(count: 1, timeout: .seconds(5))
        #expect(r[0].httpVersion == (proto == .http2 ? "2" : "1.1"))
        #expect(proxy.requests.map(\.target) == ["\(Self.gatewayHost):\(sandbox.port)"])

        proxy.setMode(.refuse(403))
        await senders.shutdown()
        var tuning = quickTuning()
        tuning.maxAttempts = 1
        let refused = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "t"), tuning: tuning)
        let failed = await refused.send(apnsRequest(), deadline: deadline())
        #expect(failed.result == .failed)
        #expect(failed.reason?.contains("proxy 127.0.0.1:\(proxy.port) refused CONNECT \(Self.gatewayHost):\(sandbox.port)") == true,
                "\(failed)")
        await refused.shutdown()
        try await sandbox.shutdown()
        try await proxy.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
