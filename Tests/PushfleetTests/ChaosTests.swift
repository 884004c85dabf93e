import Foundation
import Testing

extension FleetProcesses {
/// The chaos runner's short mode (docs/chaos.md): the real broker, three real workers and the
/// sandbox providers under overlapping seeded faults for 90 s, then every invariant. Its bounds
/// are the runner's own (generous, for a loaded 2-core machine); the test asks that the runner
/// found no violation and that the faults really happened. Part of `make test`
/// (`make chaos-short` runs it alone; PUSHFLEET_CHAOS_SEED picks another seed).
@Suite("Chaos: the fleet under seeded faults (pushfleet-chaos --short)", .serialized, .timeLimit(.minutes(7)))
struct ChaosTests {
    @Test("pushfleet-chaos --short: no input without a trace, no push lost, every invariant holds under overlapping faults")
    func shortRun() async throws {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-chaos-\(UUID().uuidString.prefix(8)).json")
        defer { try? FileManager.default.removeItem(at: output) }
        // A fixed seed: the same faults at the same times on every run (PUSHFLEET_CHAOS_SEED overrides).
        let seed = ProcessInfo.processInfo.environment["PUSHFLEET_CHAOS_SEED"] ?? "16"
        let chaos = try ChildProcess("pushfleet-chaos", ["--short", "--seed", seed, "--output", output.path])
        // About 2½ minutes here; at most ~5 (90 s traffic, 30 s of call tails, a 60 s drain, a 45 s
        // stop, the reads), so a loaded machine still finishes inside the limit.
        let status: Int32
        do {
            status = try await chaos.waitForExit(timeout: .seconds(390))
        } catch {
            print(chaos.output.text.suffix(6000))
            throw error
        }
        let printed = chaos.output.text
        print(printed.suffix(6000))

        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: Any],
                                  "no report; pushfleet-chaos exited \(status):\n\(printed.suffix(4000))\n\(chaos.errors.text.suffix(2000))")
        let violations = report["violations"] as? [[String: Any]] ?? []
        #expect(violations.isEmpty, "\(violations.count) violation(s): \(violations.prefix(5))")
        #expect(status == 0, "exit status \(status)")

        let pushes = try #require(report["pushes"] as? [String: Int])
        #expect(pushes["lost"] == 0)
        #expect((pushes["delivered"] ?? 0) > 50, "traffic flowed: \(pushes)")
        let faults = try #require(report["faults"] as? [String: Int])
        #expect(faults.values.reduce(0, +) >= 8, "faults were injected: \(faults)")
        let invariants = try #require(report["invariants"] as? [[String: String]])
        #expect(invariants.contains { $0["status"] == "not checked" }, "what is not checked is said, not passed")
    }
}
}  // extension FleetProcesses
