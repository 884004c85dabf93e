import Foundation
@_exported import PushFleetTesting
import Logging
import PushContract
import Synchronization
import PushPolicy
import PushSandbox
@testable import PushSenders

let t0 = EventTime(millisecondsSince1970: 1_780_000_000_000)

struct Timeout: Error, CustomStringConvertible {
    var description: String
}

/// Waits for a condition with a deadline (never a fixed sleep to synchronise).
func eventually(_ what: String, within: Duration = .seconds(10), _ condition: () -> Bool) async throws {
    let end = ContinuousClock.now + within
    while !condition() {
        if ContinuousClock.now > end { throw Timeout(description: "timed out waiting for \(what)") }
        try await Task.sleep(for: .milliseconds(2))
    }
}

/// A fresh temporary directory, removed by the caller's `defer`.
func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-senders-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

let apnsToken = String(repeating: "ab", count: 32)

func apnsRequest(token: String = apnsToken, provider: PushProvider = .apns, bundle: String = "org.linphone.phone", voip: Bool = true,
                 team: String = "ABCD1234") -> PushRequest {
    let topic = voip ? bundle + ".voip" : bundle
    let d = PushDestination(provider: provider, token: token, param: "\(team).\(bundle).voip", prid: token, apnsTopic: topic,
                            apnsCertificateKey: topic + "." + (provider.apnsRelease ?? "prod"), apnsTeamId: team)
    return PushRequest(destination: d, pushType: voip ? .voip : .message, ttl: 90,
                       payload: PayloadInputs(callId: "call-1", fromURI: "sip:alice@example.org", locKey: "IC_MSG", locArgs: "alice"))
}

func fcmRequest(token: String = "fcm-token-1", project: String = "1234") -> PushRequest {
    let d = PushDestination(provider: .fcm, token: token, param: project, prid: token, firebaseProject: project)
    return PushRequest(destination: d, pushType: .background, ttl: 90, payload: PayloadInputs(callId: "call-2", fromURI: "sip:bob@example.org"))
}

/// Short timings so failure paths finish quickly on a real clock.
func quickTuning() -> SenderTuning {
    var t = SenderTuning()
    t.attemptTimeoutMs = 8_000  // debug builds on 2 shared cores: a TLS handshake can take seconds
    t.backoffBaseMs = 10
    t.backoffCapMs = 40
    t.maxAttempts = 4
    t.connectTimeoutMs = 8_000
    t.reconnectBaseMs = 1
    t.reconnectCapMs = 5
    t.certificatePollMs = 3_600_000
    return t
}

func response(_ status: Int, _ body: String = "", headers: [(name: String, value: String)] = []) -> HTTP2Response {
    HTTP2Response(status: status, headers: headers, body: Array(body.utf8))
}

/// `operation`'s result, or nil when it has not finished within `limit`: a test of a bound
/// must fail, not hang, when the bound is missing. The unfinished task is left to the sandbox
/// shutdown (closing its connections ends it).
func finishing<T: Sendable>(within limit: Duration, _ operation: @escaping @Sendable () async -> T) async -> T? {
    let task = Task { await operation() }
    let end = ContinuousClock.now + limit
    let done = Mutex<T?>(nil)
    let watcher = Task {
        let value = await task.value
        done.withLock { $0 = value }
    }
    while ContinuousClock.now < end {
        if let value = done.withLock({ $0 }) { return value }
        try? await Task.sleep(for: .milliseconds(5))
    }
    watcher.cancel()
    return nil
}

/// A temporary directory holding an APNs client certificate (`org.linphone.phone`, VoIP,
/// production) issued by `ca` and the CA file, and a config sending APNs pushes to `baseURL`
/// with them: the setup most sender tests against the APNs sandbox share.
struct APNsCertificateFixture {
    let dir: String
    var config: PushFleetConfig

    init(ca: SandboxCertificateAuthority, baseURL: String) throws {
        dir = try temporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir + "/apn", withIntermediateDirectories: true)
        try write(try ca.issueClientCredential(topic: "org.linphone.phone").combinedPEM, to: "\(dir)/apn/org.linphone.phone.voip.prod.pem")
        try ca.writeCertificate(to: dir + "/ca.pem")
        config = PushFleetConfig()
        config.pushNotification.appleCertificateDir = dir + "/apn"
        config.pushNotification.firebase = false
        config.pushfleet.applePushURI = baseURL
        config.pushfleet.appleDevPushURI = baseURL
        config.pushfleet.tlsCAFile = dir + "/ca.pem"
    }
}
