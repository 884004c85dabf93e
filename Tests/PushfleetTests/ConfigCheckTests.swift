import Foundation
import PushSandbox
import Testing

/// `pushfleet config check` loads the credentials as a worker does.
extension FleetProcesses {
@Suite("pushfleet config check: credentials loaded as the worker loads them", .serialized, .timeLimit(.minutes(2)))
struct ConfigCheckTests {
    @Test("a working config: OK, with each APNs certificate (and its end) and the Firebase project listed")
    func reportsCredentials() async throws {
        let fleet = try await FleetHarness(partitions: 1)
        defer { Task { await fleet.stop() } }
        let (status, out, err) = try await run("pushfleet", ["config", "check", "--config", fleet.configPath])
        #expect(status == 0, "\(err)")
        let bundle = SandboxFleetFiles.appleBundle
        #expect(out.contains("APNs certificates in "), "\(out)")
        for name in ["\(bundle).prod", "\(bundle).voip.dev"] { #expect(out.contains("\(name) (until 20"), "\(out)") }
        #expect(out.contains("Firebase (FCM v1) projects: \(SandboxFleetFiles.firebaseProject)"), "\(out)")
        #expect(out.hasSuffix("config OK\n"), "\(out)")
    }

    @Test("a credential file the worker cannot load fails the check with status 78, naming key and file")
    func missingServiceAccount() async throws {
        let fleet = try await FleetHarness(partitions: 1)
        defer { Task { await fleet.stop() } }
        let (status, _, err) = try await run("pushfleet", ["config", "check", "--config", fleet.configPath,
                                                           "--set", "module::PushNotification/firebase-service-accounts=42:/nonexistent/sa.json"])
        #expect(status == 78, "\(err)")
        #expect(err.contains("firebase-service-accounts") && err.contains("/nonexistent/sa.json"), "\(err)")
        // --values-only does not open the file: for a machine without the credentials.
        let (valuesStatus, valuesOut, valuesErr) = try await run("pushfleet", ["config", "check", "--values-only", "--config", fleet.configPath,
                                                                               "--set", "module::PushNotification/firebase-service-accounts=42:/nonexistent/sa.json"])
        #expect(valuesStatus == 0, "\(valuesErr)")
        #expect(valuesOut.contains("values only"))
    }

    @Test("warnings: an expired certificate in apple-certificate-dir, and legacy FCM keys sent to Google")
    func warnings() async throws {
        let fleet = try await FleetHarness(partitions: 1)
        defer { Task { await fleet.stop() } }
        let expired = try SandboxCertificateAuthority.generate()
            .issueClientCredential(topic: "org.example.old", notBefore: Date() - 86400 * 400, notAfter: Date() - 86400)
        try expired.combinedPEM.write(toFile: fleet.directory.appendingPathComponent("apn/org.example.old.prod.pem").path, atomically: true, encoding: .utf8)
        let (status, out, err) = try await run("pushfleet", ["config", "check", "--config", fleet.configPath,
                                                           "--set", "module::PushNotification/firebase-service-accounts=",
                                                           "--set", "module::PushNotification/firebase-projects-api-keys=987:AAAAkey",
                                                           "--set", "pushfleet/firebase-uri=https://fcm.googleapis.com"])
        #expect(status == 0, "warnings do not fail the check: \(err)")
        #expect(err.contains("org.example.old") && (err.contains("expired") || err.contains("skipped")), "\(err)")
        #expect(err.contains("warning: firebase-projects-api-keys: Google shut the FCM legacy protocol down in 2024"), "\(err)")
        #expect(!out.contains("AAAAkey") && !err.contains("AAAAkey"), "the server key is a secret")
        #expect(out.contains("warning(s) above"), "\(out)")
    }

    @Test("HTTPS_PROXY from the environment: check and dump name the proxy without its credentials; a bad one exits 78 naming it")
    func proxyFromTheEnvironment() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-proxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("flexisip.conf").path
        try "[kafka]\nbootstrap-servers=127.0.0.1:9092\n[module::PushNotification]\napple=false\nfirebase=false\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let environment = ["HTTPS_PROXY": "http://fleet:pa55word@10.0.0.1:3128", "NO_PROXY": ".internal,localhost"]
        func pushfleet(_ arguments: [String], _ environment: [String: String]) async throws -> (Int32, String, String) {
            let child = try ChildProcess("pushfleet", arguments, environment: environment)
            let status = try await child.waitForExit(timeout: .seconds(30))
            return (status, child.output.text, child.errors.text)
        }
        let (status, out, err) = try await pushfleet(["config", "check", "--config", path], environment)
        #expect(status == 0, "\(err)")
        #expect(out.contains("outbound proxy: 10.0.0.1:3128 (from HTTPS_PROXY; CONNECT for https:// providers, "
            + "not for NO_PROXY .internal,localhost)"), "\(out)")
        let (dumpStatus, dump, _) = try await pushfleet(["config", "dump", "--config", path], environment)
        #expect(dumpStatus == 0)
        #expect(dump.contains("https-proxy=\n# provider connections go through the proxy 10.0.0.1:3128 (from HTTPS_PROXY)"), "\(dump)")
        for text in [out, err, dump] { #expect(!text.contains("pa55word") && !text.contains("fleet:")) }
        let (badStatus, _, badErr) = try await pushfleet(["config", "check", "--config", path],
                                                         ["HTTPS_PROXY": "socks5://fleet:pa55word@10.0.0.1:1080"])
        #expect(badStatus == 78)
        #expect(badErr.contains("[pushfleet] https-proxy: environment variable HTTPS_PROXY = socks5://***@10.0.0.1:1080: "
            + "scheme socks5 is not supported"), "\(badErr)")
        #expect(!badErr.contains("pa55word"))
    }
}
}  // extension FleetProcesses

extension FleetProcesses.ConfigCheckTests {
    @Test("--connect: Kafka and the topics, the Firebase access token, one TLS + HTTP/2 connection per APNs certificate and Firebase project")
    func connectReachesEverything() async throws {
        let fleet = try await FleetHarness(partitions: 2)
        defer { Task { await fleet.stop() } }
        let (status, out, err) = try await run("pushfleet", ["config", "check", "--config", fleet.configPath, "--connect"])
        #expect(status == 0, "\(out)\n\(err)")
        #expect(out.contains("ok   Kafka \(fleet.broker.bootstrapServers): pushfleet.events (2 partitions)"), "\(out)")
        #expect(out.contains("ok   APNs certificate \(SandboxFleetFiles.appleBundle).voip.prod → \(fleet.apns.baseURL)"), "\(out)")
        #expect(out.contains("ok   Firebase project \(SandboxFleetFiles.firebaseProject): access token from"), "\(out)")
        #expect(out.contains("ok   Firebase project \(SandboxFleetFiles.firebaseProject) → \(fleet.fcm.baseURL)"), "\(out)")
        #expect(out.hasSuffix("config OK, connections OK\n"), "\(out)")
        #expect(fleet.fcm.tokenRequests.count == 1, "the token was really fetched")
    }

    @Test("--connect fails with 69, naming each check that failed: no broker, a refused token")
    func connectFailures() async throws {
        let fleet = try await FleetHarness(partitions: 2)
        defer { Task { await fleet.stop() } }
        fleet.fcm.scriptTokenEndpoint([.status(400, reason: "invalid_grant"), .status(400, reason: "invalid_grant"),
                                       .status(400, reason: "invalid_grant"), .status(400, reason: "invalid_grant")])
        let (status, out, err) = try await run("pushfleet", ["config", "check", "--config", fleet.configPath, "--connect",
                                                           "-b", "127.0.0.1:1", "-X", "socket.connection.setup.timeout.ms=1000", "--timeout", "5"], timeout: .seconds(60))
        #expect(status == 69, "\(out)\n\(err)")
        #expect(out.contains("FAIL Kafka 127.0.0.1:1:"), "\(out)")
        #expect(out.contains("FAIL Firebase project \(SandboxFleetFiles.firebaseProject): access token from"), "\(out)")
        #expect(out.contains("ok   APNs certificate"), "the other checks still run: \(out)")
        #expect(err.contains("connection check(s) failed"), "\(err)")
    }
}
