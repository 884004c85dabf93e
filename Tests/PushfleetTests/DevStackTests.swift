import Foundation
import Testing

extension FleetProcesses {
@Suite("pushfleet dev and sandbox, as a new user runs them", .serialized, .timeLimit(.minutes(2)))
struct DevStackTests {
    @Test("`pushfleet dev` shows pushes, provider answers, a rejected token and a dead letter, then a summary")
    func devStack() async throws {
        let dev = try ChildProcess("pushfleet", ["dev", "--duration", "20", "--rate", "2", "--workers", "2", "--partitions", "4"])
        let status = try await dev.waitForExit(timeout: .seconds(90))
        let out = dev.output.text
        #expect(status == 0, "\(dev.errors.text.suffix(2000))")
        #expect(out.contains("✓ sent          voip via apns.dev call dev-voip-call"), "\(out.suffix(3000))")
        #expect(out.contains("via fcm call dev-android-call"))
        #expect(out.contains("⊘ invalid-token voip via apns.dev call dev-rejected-call"))
        #expect(out.contains("☠ dead letter"))
        #expect(out.contains("final via apns.dev call dev-ringing-call"))
        #expect(out.contains("summary after"))
    }

    /// The image runs as uid 10001 and Kubernetes as non-root: a socket option only root may set
    /// once kept every provider connection from opening there (root-run tests all passed).
    @Test("`pushfleet dev` as an unprivileged user (the image's uid 10001) connects to the providers",
          .enabled(if: getuid() == 0, "switching to uid 10001 needs root; run as another user, devStack is already unprivileged"))
    func devStackUnprivileged() async throws {
        let binary = productsDirectory.appendingPathComponent("pushfleet").path
        let dev = try ChildProcess("/usr/bin/setpriv", ["--reuid", "10001", "--regid", "10001", "--clear-groups", "--",
                                                        binary, "dev", "--duration", "10", "--rate", "1", "--workers", "1", "--partitions", "2"])
        let status = try await dev.waitForExit(timeout: .seconds(90))
        let out = dev.output.text
        #expect(status == 0, "\(dev.errors.text.suffix(2000))")
        #expect(out.contains("✓ sent          voip via apns.dev call dev-voip-call"), "\(out.suffix(3000))")
        #expect(out.contains("⊘ invalid-token voip via apns.dev call dev-rejected-call"))
        #expect(!out.contains("Permission denied"), "\(out.suffix(3000))")
    }

    @Test("`pushfleet sandbox` serves the providers and writes the credentials a worker needs")
    func sandboxCommand() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-\(UUID().uuidString.prefix(6))").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sandbox = try ChildProcess("pushfleet", ["sandbox", "--apns-port", "0", "--fcm-port", "0", "--generic-port", "0",
                                                     "--hostname", "localhost", "--write-credentials", dir])
        try await waitUntil("the sandbox's URLs") { sandbox.output.text.contains("Ctrl-C to stop") }
        #expect(sandbox.output.text.contains("apple-push-uri / apple-dev-push-uri   https://localhost:"))
        for file in ["ca.pem", "service-account.json", "apn/org.linphone.phone.voip.dev.pem", "apn/org.linphone.phone.prod.pem"] {
            #expect(FileManager.default.fileExists(atPath: "\(dir)/\(file)"), "\(file)")
        }
        sandbox.signal(SIGTERM)
        #expect(try await sandbox.waitForExit(timeout: .seconds(10)) == 0)
        #expect(sandbox.output.text.contains("sandbox stopped (SIGTERM)"))
    }
}
}  // extension FleetProcesses
