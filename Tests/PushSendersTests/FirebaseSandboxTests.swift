import Foundation
import PushContract
import PushPolicy
import PushSandbox
import Testing
@testable import PushSenders

/// FCM v1 (OAuth in process) and legacy against the loopback FCM sandbox.
@Suite(.serialized) struct FirebaseSandboxTests {
    final class Env: Sendable {
        let sandbox: FCMSandbox
        let dir: String
        let senders: PushSenders

        init(tokenLifetime: Int = 3600, legacy: Bool = false, clock: any PushClock = SystemClock(), tuning: SenderTuning = quickTuning(),
             tokenReplies: [SandboxReply] = []) async throws {
            let ca = try SandboxCertificateAuthority.generate()
            sandbox = try FCMSandbox(ca: ca, tokenLifetime: tokenLifetime)
            try await sandbox.start()
            if !tokenReplies.isEmpty { sandbox.scriptTokenEndpoint(tokenReplies) }
            dir = try temporaryDirectory()
            try ca.writeCertificate(to: dir + "/ca.pem")
            var config = PushFleetConfig()
            config.pushNotification.apple = false
            config.pushNotification.firebaseTokenExpirationAnticipationTime = 300
            config.pushNotification.firebaseDefaultRefreshInterval = 60
            if legacy {
                sandbox.addLegacyKey("server-key")
                config.pushNotification.firebaseProjectsAPIKeys = [ProjectCredential(project: "1234", value: "server-key")]
            } else {
                try write(try sandbox.makeServiceAccount(projectId: "linphone-app"), to: dir + "/sa.json")
                config.pushNotification.firebaseServiceAccounts = [ProjectCredential(project: "1234", value: dir + "/sa.json")]
            }
            config.pushfleet.firebaseURI = sandbox.baseURL
            config.pushfleet.tlsCAFile = dir + "/ca.pem"
            senders = try PushSenders(config: config, clock: clock, logger: .init(label: "test"), tuning: tuning, jitterSeed: 1)
        }

        func close() async {
            await senders.shutdown()
            try? await sandbox.shutdown()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    @Test func v1SendsWithOneOAuthToken() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        for _ in 0..<2 {
            let o = await env.senders.send(fcmRequest(), deadline: SystemClock().now().adding(seconds: 30))
            #expect(o.result == .sent)
            #expect(o.provider == "fcm")
        }
        let r = try await env.sandbox.waitForRequests(count: 2, timeout: .seconds(5))
        #expect(r[0].path == "/v1/projects/linphone-app/messages:send")
        #expect(r[0].header("authorization")?.hasPrefix("Bearer ") == true)
        #expect(r[0].httpVersion == "2")
        #expect(env.sandbox.tokenRequests.count == 1)
    }

    @Test func accessTokenRefreshedBeforeExpiry() async throws {
        let clock = ManualClock(now: SystemClock().now())
        let env = try await Env(tokenLifetime: 3600, clock: clock)
        defer { Task { await env.close() } }
        #expect(await env.senders.send(fcmRequest(), deadline: clock.now().adding(seconds: 30)).result == .sent)
        clock.advance(by: (3600 - 300 - 1) * 1000)
        #expect(await env.senders.send(fcmRequest(), deadline: clock.now().adding(seconds: 30)).result == .sent)
        #expect(env.sandbox.tokenRequests.count == 1)
        clock.advance(by: 2_000) // inside the anticipation window
        #expect(await env.senders.send(fcmRequest(), deadline: clock.now().adding(seconds: 30)).result == .sent)
        #expect(env.sandbox.tokenRequests.count == 2)
    }

    @Test func oauthFailureIsRetriedAfterTheRefreshInterval() async throws {
        let clock = ManualClock(now: SystemClock().now())
        let env = try await Env(clock: clock, tokenReplies: [.status(500, reason: "backend")])
        defer { Task { await env.close() } }
        let failed = await env.senders.send(fcmRequest(), deadline: clock.now().adding(seconds: 30))
        #expect(failed.result == .failed)
        #expect(failed.reason?.contains("no Firebase access token for project linphone-app") == true)
        let again = await env.senders.send(fcmRequest(), deadline: clock.now().adding(seconds: 30))
        #expect(again.result == .failed)
        #expect(env.sandbox.tokenRequests.count == 1)
        clock.advance(by: 60_000)
        #expect(await env.senders.send(fcmRequest(), deadline: clock.now().adding(seconds: 30)).result == .sent)
        #expect(env.sandbox.tokenRequests.count == 2)
    }

    @Test(arguments: [
        (SandboxReply.unregistered(timestamp: 0), PushResult.invalidToken, 404),
        (SandboxReply.badDeviceToken, PushResult.invalidToken, 400),
        (SandboxReply.status(403, reason: "PERMISSION_DENIED"), PushResult.failed, 403),
    ])
    func v1Classification(reply: SandboxReply, result: PushResult, status: Int) async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        env.sandbox.script(token: "fcm-token-1", [reply])
        let o = await env.senders.send(fcmRequest(), deadline: SystemClock().now().adding(seconds: 30))
        #expect(o.result == result)
        #expect(o.status == status)
        #expect(o.attempts == 1)
    }

    @Test func tooManyRequestsWaitsAMinute() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        env.sandbox.script(token: "fcm-token-1", [.tooManyRequests(retryAfter: nil)])
        let o = await env.senders.send(fcmRequest(), deadline: SystemClock().now().adding(seconds: 30))
        #expect(o.result == .failed)
        #expect(o.status == 429)
        #expect(o.reason?.contains("retry in 60000 ms would pass the deadline") == true)
    }

    @Test func legacySendsWithTheServerKey() async throws {
        let env = try await Env(legacy: true)
        defer { Task { await env.close() } }
        let o = await env.senders.send(fcmRequest(), deadline: SystemClock().now().adding(seconds: 30))
        #expect(o.result == .sent)
        let r = try await env.sandbox.waitForRequests(count: 1, timeout: .seconds(5))
        #expect(r[0].path == "/fcm/send")
        #expect(r[0].header("authorization") == "key=server-key")
    }

    @Test func unknownProjectSaysWhich() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        let o = await env.senders.send(fcmRequest(project: "999"), deadline: SystemClock().now().adding(seconds: 30))
        #expect(o.result == .failed)
        #expect(o.reason == "no Firebase service account or API key for project 999")
    }
}

/// `external-push-uri` over HTTP/2 and HTTP/1.1, each with TLS (`https://`) and without
/// (`http://`; HTTP/2 then speaks h2c with prior knowledge, as private gateways do).
@Suite(.serialized) struct GenericSandboxTests {
    @Test(arguments: [PushNotificationOptions.ExternalPushProtocol.http2, .http], [true, false])
    func genericReplacesEverySender(proto: PushNotificationOptions.ExternalPushProtocol, tls: Bool) async throws {
        let ca = try SandboxCertificateAuthority.generate()
        let sandbox = try GenericPushSandbox(version: proto == .http2 ? .http2 : .http1, tls: tls ? .tls(try ca.issueServerCredential()) : .none)
        try await sandbox.start()
        let dir = try temporaryDirectory()
        try ca.writeCertificate(to: dir + "/ca.pem")
        var config = PushFleetConfig()
        config.pushNotification.externalPushURI = sandbox.baseURL + "/push/$type/$token?call=$call-id"
        config.pushNotification.externalPushMethod = .post
        config.pushNotification.externalPushProtocol = proto
        config.pushfleet.tlsCAFile = dir + "/ca.pem"
        config.pushfleet.allowCleartext = !tls
        let senders = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "t"), tuning: quickTuning())
        var request = apnsRequest()
        request.payload.body = "hello"
        #expect(sandbox.baseURL.hasPrefix(tls ? "https://" : "http://"))
        let o = await senders.send(request, deadline: SystemClock().now().adding(seconds: 30))
        #expect(o.result == .sent, "\(o)")
        #expect(o.provider == "generic")
        let r = try await sandbox.waitForRequests(count: 1, timeout: .seconds(5))
        #expect(r[0].method == "POST")
        #expect(r[0].path == "/push/apple/\(apnsToken)?call=call-1")
        #expect(r[0].httpVersion == (proto == .http2 ? "2" : "1.1"))
        #expect(r[0].body == Array("hello".utf8))
        sandbox.script(path: "/push/apple/\(apnsToken)?call=call-1", [.status(404, reason: nil)])
        let failed = await senders.send(request, deadline: SystemClock().now().adding(seconds: 30))
        #expect(failed.result == .failed)
        #expect(failed.status == 404)
        await senders.shutdown()
        try await sandbox.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
