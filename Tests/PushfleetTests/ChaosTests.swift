import Foundation
import Testing

extension FleetProcesses {
/// The chaos runner's short mode (docs/chaos.md): the real broker, three real workers and the
/// sandbox providers under overlapping seeded faults for 90 s, then every invariant. Its bounds
/// are the runner's own (generous, for a loaded 2-core machine); the test asks that the runner
/// found no violation and that the faults really happened.
///
/// Not part of `make test` yet: seed 16 loses records after a takeover in about half its runs
/// (docs/chaos.md, "Known failures"), a bug this version does not fix; a suite that fails at
/// random would hide every other failure of CI. `make chaos-short` (PUSHFLEET_CHAOS_TEST=1)
/// runs it; it returns to `make test` with the fix.
@Suite("Chaos: the fleet under seeded faults (pushfleet-chaos --short)", .serialized, .timeLimit(.minutes(7)),
       .enabled(if: ProcessInfo.processInfo.environment["PUSHFLEET_CHAOS_TEST"] != nil,
                "known record loss after a takeover (docs/chaos.md); PUSHFLEET_CHAOS_TEST=1 runs it"))
struct ChaosTests {
    /// Violations of the one failure the suite found and this version does not fix yet
    /// (docs/chaos.md, "Known failures"): a worker that lost its partitions (frozen past its
    /// session timeout, or cut off the broker) still completes a send and writes its schedule,
    /// over the new owner's `done` marker, so a finished call rings or is retransmitted again.
    /// Recorded as a known issue, never as a pass; any other violation fails the test — including
    /// the records skipped after a takeover that seed 16 also hit once (docs/chaos.md): lost pushes
    /// are not masked.
    static func isStaleOwnerWrite(_ violation: [String: Any]) -> Bool {
        let invariant = violation["invariant"] as? String, detail = violation["detail"] as? String ?? ""
        return invariant == "retransmission" || invariant == "partition" || (invariant == "ringing" && detail.contains("still rang"))
    }

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
        let known = violations.filter(Self.isStaleOwnerWrite)
        let others = violations.filter { !Self.isStaleOwnerWrite($0) }
        #expect(others.isEmpty, "\(others.prefix(5))")
        withKnownIssue("a worker that lost its partitions still writes a schedule over the new owner's done marker (docs/chaos.md, Known failures)",
                       isIntermittent: true) {
            #expect(known.isEmpty, "\(known.count) violation(s), first: \(known.first?["detail"] ?? "")")
        }
        #expect(status == 0 || (others.isEmpty && !known.isEmpty), "exit status \(status)")

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
