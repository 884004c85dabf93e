import Foundation
import Testing

extension FleetProcesses {
/// The chaos runner's short mode (docs/chaos.md): the real broker, three real workers and the
/// sandbox providers under overlapping seeded faults for 90 s, then every invariant. Its bounds
/// are the runner's own (generous, for a loaded 2-core machine); the test only asks that the
/// runner found no violation and that the faults really happened.
@Suite("Chaos: the fleet under seeded faults (pushfleet-chaos --short)", .serialized, .timeLimit(.minutes(6)))
struct ChaosTests {
    @Test("pushfleet-chaos --short: no input without a trace, no push lost, every invariant holds under overlapping faults")
    func shortRun() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-chaos-\(UUID().uuidString.prefix(8)).json")
        defer { try? FileManager.default.removeItem(at: output) }
        // A fixed seed: the same faults at the same times on every run (PUSHFLEET_CHAOS_SEED overrides).
        let seed = ProcessInfo.processInfo.environment["PUSHFLEET_CHAOS_SEED"] ?? "16"
        let chaos = try ChildProcess("pushfleet-chaos", ["--short", "--seed", seed, "--output", output.path])
        // About 2½ minutes here; at most ~4½ (90 s traffic, 30 s of call tails, a 60 s drain, a 45 s
        // stop, the reads), so a loaded machine still finishes inside the limit.
        let status = try await chaos.waitForExit(timeout: .seconds(330))
        let printed = chaos.output.text
        print(printed.suffix(4000))
        #expect(status == 0, "pushfleet-chaos failed:\n\(printed.suffix(8000))\n\(chaos.errors.text.suffix(2000))")

        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: Any])
        #expect(report["passed"] as? Bool == true)
        let pushes = try #require(report["pushes"] as? [String: Int])
        #expect(pushes["lost"] == 0)
        #expect((pushes["delivered"] ?? 0) > 50, "traffic flowed: \(pushes)")
        let faults = try #require(report["faults"] as? [String: Int])
        #expect(faults.values.reduce(0, +) >= 8, "faults were injected: \(faults)")
        let invariants = try #require(report["invariants"] as? [[String: String]])
        #expect(invariants.filter { $0["status"] == "failed" }.isEmpty, "\(invariants)")
        #expect(invariants.contains { $0["status"] == "not checked" }, "what is not checked is said, not passed")
    }
}
}  // extension FleetProcesses
