import Crypto
import Foundation
import PushContract
import PushPolicy
import PushSandbox
import Testing
@testable import PushSenders

/// APNs sender against the loopback APNs sandbox over real TLS and HTTP/2.
@Suite(.serialized) struct APNsSandboxTests {
    final class Env: Sendable {
        let ca: SandboxCertificateAuthority
        let sandbox: APNsSandbox
        let dir: String
        let senders: PushSenders

        init(certificates: [String: String] = ["org.linphone.phone.voip.prod": "org.linphone.phone"], tokenKey: P256.Signing.PrivateKey? = nil,
             trustOtherCA: Bool = false, tuning: SenderTuning = quickTuning(), clock: any PushClock = SystemClock()) async throws {
            ca = try SandboxCertificateAuthority.generate()
            var keys: [String: (teamId: String, key: P256.Signing.PublicKey)] = [:]
            if let tokenKey { keys["KEY1234567"] = (teamId: "ABCD1234", key: tokenKey.publicKey) }
            sandbox = try APNsSandbox(ca: ca, tokenKeys: keys)
            try await sandbox.start()
            dir = try temporaryDirectory()
            try FileManager.default.createDirectory(atPath: dir + "/apn", withIntermediateDirectories: true)
            for (name, topic) in certificates {
                try write(try ca.issueClientCredential(topic: topic).combinedPEM, to: "\(dir)/apn/\(name).pem")
            }
            if trustOtherCA {
                try SandboxCertificateAuthority.generate(commonName: "Somebody Else").writeCertificate(to: dir + "/ca.pem")
            } else {
                try ca.writeCertificate(to: dir + "/ca.pem")
            }
            var config = PushFleetConfig()
            config.pushNotification.appleCertificateDir = dir + "/apn"
            config.pushNotification.firebase = false
            config.pushfleet.applePushURI = sandbox.baseURL
            config.pushfleet.appleDevPushURI = sandbox.baseURL
            config.pushfleet.tlsCAFile = dir + "/ca.pem"
            if let tokenKey {
                try write(tokenKey.pemRepresentation, to: dir + "/key.p8")
                config.pushfleet.appleTokenKeys = [AppleTokenKey(teamId: "ABCD1234", keyId: "KEY1234567", path: dir + "/key.p8")]
            }
            senders = try PushSenders(config: config, clock: clock, logger: .init(label: "test"), tuning: tuning, jitterSeed: 1)
        }

        func close() async {
            await senders.shutdown()
            try? await sandbox.shutdown()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    func deadline(_ seconds: Int = 30) -> EventTime { SystemClock().now().adding(seconds: seconds) }

    @Test func certificatePushesShareOneHTTP2Connection() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        for _ in 0..<3 {
            let o = await env.senders.send(apnsRequest(), deadline: deadline())
            #expect(o.result == .sent)
            #expect(o.status == 200)
            #expect(o.attempts == 1)
            #expect(o.provider == "apns")
        }
        let recorded = try await env.sandbox.waitForRequests(count: 3, timeout: .seconds(5))
        #expect(recorded[0].path == "/3/device/" + apnsToken)
        #expect(recorded[0].httpVersion == "2")
        #expect(recorded[0].header("apns-topic") == "org.linphone.phone.voip")
        #expect(recorded[0].header("apns-push-type") == "voip")
        #expect(recorded[0].clientCertificateTopic == "org.linphone.phone")
        #expect(env.sandbox.connectionCount == 1)
    }

    struct Case: Sendable, CustomStringConvertible {
        var replies: [SandboxReply]
        var result: PushResult
        var status: Int?
        var reason: String?
        var attempts: Int
        var description: String { "\(replies)" }
    }

    static let cases: [Case] = [
        Case(replies: [.badDeviceToken], result: .invalidToken, status: 400, reason: "BadDeviceToken", attempts: 1),
        Case(replies: [.status(400, reason: "DeviceTokenNotForTopic")], result: .invalidToken, status: 400, reason: "DeviceTokenNotForTopic", attempts: 1),
        Case(replies: [.status(400, reason: "BadPayload")], result: .failed, status: 400, reason: "BadPayload", attempts: 1),
        Case(replies: [.internalError], result: .sent, status: 200, reason: nil, attempts: 2),
        Case(replies: [.unavailable(retryAfter: nil), .unavailable(retryAfter: nil)], result: .sent, status: 200, reason: nil, attempts: 3),
        Case(replies: [.tooManyRequests(retryAfter: nil)], result: .sent, status: 200, reason: nil, attempts: 2),
        Case(replies: [.reset], result: .sent, status: 200, reason: nil, attempts: 2),
        Case(replies: [.goAway], result: .sent, status: 200, reason: nil, attempts: 2),
        Case(replies: [.hang], result: .sent, status: 200, reason: nil, attempts: 2),
        Case(replies: Array(repeating: .internalError, count: 4), result: .failed, status: 500, reason: nil, attempts: 4),
    ]

    @Test(arguments: cases)
    func classification(_ c: Case) async throws {
        var tuning = quickTuning()
        // A short attempt deadline only where the sandbox hangs (so the case is quick); the
        // others keep the generous one, since a loaded machine can exceed 300 ms per attempt.
        if c.replies.contains(where: { if case .hang = $0 { true } else { false } }) { tuning.attemptTimeoutMs = 300 }
        tuning.breakerThreshold = 100
        let env = try await Env(tuning: tuning)
        defer { Task { await env.close() } }
        // Connection and TLS handshake first, so every scripted reply meets a request (a
        // handshake slower than the attempt deadline would shift the script by one).
        #expect(await env.senders.send(apnsRequest(), deadline: deadline()).result == .sent)
        env.sandbox.script(token: apnsToken, c.replies)
        let o = await env.senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == c.result)
        #expect(o.status == c.status)
        if let reason = c.reason { #expect(o.reason == reason) }
        #expect(o.attempts == c.attempts)
    }

    @Test func unregisteredCarriesTheTimestamp() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        env.sandbox.script(token: apnsToken, [.unregistered(timestamp: 1_700_000_000_123)])
        let o = await env.senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == .invalidToken)
        #expect(o.status == 410)
        #expect(o.invalidSince == EventTime(millisecondsSince1970: 1_700_000_000_123))
    }

    @Test func aHangingServerNeverOutlivesTheDeadline() async throws {
        var tuning = quickTuning()
        tuning.attemptTimeoutMs = 60_000
        let env = try await Env(tuning: tuning)
        defer { Task { await env.close() } }
        env.sandbox.script(token: apnsToken, Array(repeating: .hang, count: 10))
        let start = ContinuousClock.now
        let o = await env.senders.send(apnsRequest(), deadline: SystemClock().now().adding(milliseconds: 700))
        #expect(ContinuousClock.now - start < .seconds(3))
        #expect(o.result == .failed)
        #expect(o.reason?.contains("deadline") == true)
    }

    @Test func wrongCAIsATLSFailureWithItsReason() async throws {
        let env = try await Env(trustOtherCA: true)
        defer { Task { await env.close() } }
        let o = await env.senders.send(apnsRequest(), deadline: deadline())
        #expect(o.result == .failed)
        #expect(o.attempts == 1)
        #expect(o.status == nil)
        #expect(o.reason?.contains("TLS") == true)
        #expect(env.sandbox.requests.isEmpty)
    }

    @Test func missingCredentialsSayWhich() async throws {
        let env = try await Env(certificates: [:])
        defer { Task { await env.close() } }
        let o = await env.senders.send(apnsRequest(bundle: "org.x"), deadline: deadline())
        #expect(o.result == .failed)
        #expect(o.reason == "no APNs certificate or token key for org.x.voip.prod")
        #expect(o.attempts == 0)
    }

    @Test func tokenAuthentication() async throws {
        let key = P256.Signing.PrivateKey()
        let env = try await Env(certificates: [:], tokenKey: key)
        defer { Task { await env.close() } }
        let o = await env.senders.send(apnsRequest(voip: false), deadline: deadline())
        #expect(o.result == .sent)
        let r = try await env.sandbox.waitForRequests(count: 1, timeout: .seconds(5))
        #expect(r[0].header("authorization")?.hasPrefix("bearer ") == true)
        #expect(r[0].clientCertificateTopic == nil)
    }

    @Test func certificateDirectoryReloadKeepsInFlightRequests() async throws {
        let env = try await Env(certificates: [:])
        defer { Task { await env.close() } }
        let path = env.dir + "/apn/org.linphone.phone.voip.prod.pem"
        try write("garbage", to: env.dir + "/apn/junk.pem")
        env.senders.reloadCertificates()
        #expect(env.senders.apnsCertificates == [])
        #expect(await env.senders.send(apnsRequest(), deadline: deadline()).result == .failed)

        try write(try env.ca.issueClientCredential(topic: "org.linphone.phone").combinedPEM, to: path)
        env.senders.reloadCertificates()
        #expect(env.senders.apnsCertificates == ["org.linphone.phone.voip.prod"])
        // A slow answer is in flight on the first connection while the certificate changes.
        env.sandbox.script(token: apnsToken, [.slow(milliseconds: 500, then: .ok)])
        let inFlight = Task { await env.senders.send(apnsRequest(), deadline: deadline()) }
        _ = try await env.sandbox.waitForRequests(count: 1, timeout: .seconds(5))
        try write(try env.ca.issueClientCredential(topic: "org.linphone.phone").combinedPEM, to: path)
        env.senders.reloadCertificates()
        let next = await env.senders.send(apnsRequest(), deadline: deadline())
        #expect(next.result == .sent)
        let first = await inFlight.value
        #expect(first.result == .sent)
        #expect(first.attempts == 1)
        #expect(env.sandbox.connectionCount == 2)
    }

    @Test func expiringCertificateIsReported() throws {
        let ca = try SandboxCertificateAuthority.generate()
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let notAfter = Date() + 86_400 * 3
        try write(try ca.issueClientCredential(topic: "org.a", notAfter: notAfter).combinedPEM, to: dir + "/org.a.prod.pem")
        try write(try ca.issueClientCredential(topic: "org.b", notBefore: Date() - 7200, notAfter: Date() - 3600).combinedPEM, to: dir + "/org.b.prod.pem")
        try write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", to: dir + "/org.c.prod.pem")
        let store = APNsCertificateStore(directory: dir, caFile: nil, clock: SystemClock(), logger: .init(label: "t"), warningDays: 30)
        let change = store.reload()
        #expect(change.added == ["org.a.prod", "org.b.prod"])
        #expect(store.skipped.keys.sorted() == ["org.c.prod.pem"])
        let expiry = store.expiries()
        #expect(abs(expiry["org.a.prod"]!.millisecondsSince1970 / 1000 - Int64(notAfter.timeIntervalSince1970)) <= 1)
        #expect(expiry["org.b.prod"]! < SystemClock().now())
        // Unchanged files are not reloaded; a removed one is reported as replaced.
        try FileManager.default.removeItem(atPath: dir + "/org.a.prod.pem")
        let second = store.reload()
        #expect(second.added.isEmpty)
        #expect(Array(second.replaced.keys) == ["org.a.prod"])
    }

    @Test func breakerIsolatesTwoApps() async throws {
        var tuning = quickTuning()
        tuning.maxAttempts = 1
        tuning.breakerThreshold = 2
        tuning.breakerOpenMs = 60_000
        let env = try await Env(certificates: ["org.sick.voip.prod": "org.sick", "org.fine.voip.prod": "org.fine"], tuning: tuning)
        defer { Task { await env.close() } }
        let sickToken = String(repeating: "cd", count: 32)
        env.sandbox.script(token: sickToken, Array(repeating: .internalError, count: 10))
        for _ in 0..<2 {
            #expect(await env.senders.send(apnsRequest(token: sickToken, bundle: "org.sick"), deadline: deadline()).status == 500)
        }
        let shortCircuited = await env.senders.send(apnsRequest(token: sickToken, bundle: "org.sick"), deadline: deadline())
        #expect(shortCircuited.attempts == 0)
        #expect(shortCircuited.reason?.hasPrefix("circuit open for apns:org.sick.voip.prod") == true)
        let fine = await env.senders.send(apnsRequest(bundle: "org.fine"), deadline: deadline())
        #expect(fine.result == .sent)
        #expect(fine.attempts == 1)
    }
}
