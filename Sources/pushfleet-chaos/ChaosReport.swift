import Foundation

/// bench/chaos.json: what was injected, what came out, and the verdict of every invariant.
struct ChaosReport: Encodable {
    var seed: UInt64
    var mode: String
    var trafficSeconds: Double
    var wallSeconds: Double
    var machine: String
    var events: [String: Int]
    var faults: [String: Int]
    /// "partitions revoked" lines in the worker logs (faults cause most; the rest say the group moved partitions on its own).
    var rebalances: Int
    var pushes: [String: Int]
    var duplicates: [String: Int]
    var duplicateRate: Double
    var latencyUnderFaultsMs: [String: Double]
    var longestRingingGapSeconds: Double
    var figures: [String: Double]
    var invariants: [InvariantResult]
    var violations: [Violation]
    var notes: [String]
    var timeline: [TimelineEntry]
    var passed: Bool

    init(seed: UInt64, short: Bool, observations o: ChaosObservations, checker: ChaosChecker, wallSeconds: Double) {
        self.seed = seed
        mode = short ? "short" : "long"
        trafficSeconds = o.trafficEnd
        self.wallSeconds = wallSeconds
        machine = "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_048_576) MiB"
        events = Dictionary(grouping: o.inputs, by: \.kind.rawValue).mapValues(\.count)
        faults = Dictionary(grouping: o.timeline.filter { !["stopped", "rebalance"].contains($0.kind) }, by: \.kind).mapValues(\.count)
        pushes = [
            "due": checker.counts["pushes_due"] ?? 0, "delivered": checker.counts["pushes_delivered"] ?? 0,
            "failedWithReason": checker.counts["pushes_failed_with_reason"] ?? 0, "lost": checker.counts["pushes_lost"] ?? 0,
            "answeredBeforeRead": checker.counts["pushes_answered_before_read"] ?? 0,
            "providerRequests": o.apns.count + o.fcm.count, "providerDeliveries": (o.apns + o.fcm).filter(\.delivered).count,
            "outcomes": o.outcomes.count, "deadLetters": o.deadLetters.count,
        ]
        duplicates = checker.duplicatesByCause
        duplicateRate = checker.figures["duplicate_rate"] ?? 0
        latencyUnderFaultsMs = ["p50": checker.figures["latency_p50_ms"] ?? 0, "p99": checker.figures["latency_p99_ms"] ?? 0]
        longestRingingGapSeconds = checker.figures["longest_ringing_gap_s"] ?? 0
        figures = checker.figures
        invariants = checker.invariants
        violations = checker.violations
        notes = checker.notes
        timeline = o.timeline
        rebalances = o.timeline.filter { $0.kind == "rebalance" }.count
        passed = checker.violations.isEmpty
    }

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    /// The verdict; on a violation, the seed and the fault timeline around the first one.
    func summary() -> String {
        var lines = ["pushfleet-chaos seed \(seed) (\(mode)): \(Int(trafficSeconds)) s of traffic, \(events.values.reduce(0, +)) inputs, \(faults.values.reduce(0, +)) faults"]
        lines.append("  faults: " + faults.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append("  pushes: " + pushes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        lines.append(String(format: "  event-to-push latency under faults p50 %.0f ms, p99 %.0f ms; longest time a call went without ringing %.1f s; duplicate rate %.4f",
                            latencyUnderFaultsMs["p50"] ?? 0, latencyUnderFaultsMs["p99"] ?? 0, longestRingingGapSeconds, duplicateRate))
        for invariant in invariants {
            let mark = invariant.status == "passed" ? "✓" : invariant.status == "failed" ? "✗" : "–"
            lines.append("  \(mark) \(invariant.name) [\(invariant.status)]: \(invariant.detail)")
        }
        for note in notes.prefix(10) { lines.append("  note: \(note)") }
        if let first = violations.min(by: { ($0.at ?? .infinity) < ($1.at ?? .infinity) }) {
            lines.append("FAILED with seed \(seed): \(violations.count) violation(s); first: [\(first.invariant)] \(first.detail)")
            for v in violations.prefix(15) { lines.append("  \(f1(v.at ?? -1)) s [\(v.invariant)] \(v.detail)") }
            let t = first.at ?? trafficSeconds
            lines.append(String(format: "fault timeline around %.1f s (reproduce: pushfleet-chaos --seed %llu):", t, seed))
            for entry in timeline where entry.start >= t - 60 && entry.start <= t + 10 || (entry.start < t && (entry.end ?? entry.start) >= t - 60) {
                lines.append("  \(f1(entry.start))–\(entry.end.map(f1) ?? "") s  \(entry.kind) \(entry.detail)")
            }
        } else {
            lines.append("PASSED: no violation (seed \(seed))")
        }
        return lines.joined(separator: "\n")
    }
}
