import Foundation
import Synchronization

/// SplitMix64: a small seeded generator, so a seed reproduces the same draws (fault schedule,
/// traffic mix) on every machine. Process timing still varies between runs; the seed fixes what
/// is injected and when, not how the fleet reacts.
struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// One line of the fault timeline: what was done to the system, when (seconds since the run's
/// start) and until when.
struct TimelineEntry: Sendable, Codable {
    var start: Double
    var end: Double?
    var kind: String
    var detail: String
}

/// The run's clock and its fault timeline, shared by the scheduler, the fleet and the checker.
final class Timeline: Sendable {
    let startedAt = Date()
    private let entries = Mutex<[TimelineEntry]>([])

    func seconds(_ date: Date = Date()) -> Double { date.timeIntervalSince(startedAt) }

    /// Records a fault that lasts until `finish(_:)` is called with the returned index.
    @discardableResult
    func begin(_ kind: String, _ detail: String) -> Int {
        let now = seconds()
        log("\(f1(now)) s  \(kind) \(detail)")
        return entries.withLock { e in
            e.append(TimelineEntry(start: now, end: nil, kind: kind, detail: detail))
            return e.count - 1
        }
    }

    func finish(_ index: Int) {
        let now = seconds()
        entries.withLock { if $0.indices.contains(index) { $0[index].end = now } }
    }

    /// A fault with no duration (a SIGKILL, a restart).
    func instant(_ kind: String, _ detail: String) { finish(begin(kind, detail)) }

    var all: [TimelineEntry] { entries.withLock { $0 }.sorted { $0.start < $1.start } }

    /// Adds an entry found afterwards (a rebalance read from a worker's log), without printing it.
    func record(_ entry: TimelineEntry) { entries.withLock { $0.append(entry) } }

    /// Entries of `kinds` active at some point in [from, to] (seconds since the start).
    func overlapping(from: Double, to: Double, kinds: Set<String>) -> [TimelineEntry] {
        all.filter { kinds.contains($0.kind) && $0.start <= to && ($0.end ?? $0.start) >= from }
    }
}

/// A number with one decimal, right-aligned on 7 characters (timeline columns).
func f1(_ value: Double) -> String {
    let text = String(format: "%.1f", value)
    return String(repeating: " ", count: max(0, 7 - text.count)) + text
}

/// One line to stdout at once (the runner is read live, by people and by the test).
func log(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Percentile of sorted values (nearest rank); nil when empty.
func percentile(_ sorted: [Double], _ p: Double) -> Double? {
    guard !sorted.isEmpty else { return nil }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
func waitFor(_ timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
