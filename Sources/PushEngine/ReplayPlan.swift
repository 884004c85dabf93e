import PushContract

/// A bad `pushfleet replay` argument: names the flag, the value and what is allowed.
public struct ReplayArgumentError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where the replay of one partition starts and ends: offsets `[start, end)`.
public struct ReplayPartitionRange: Sendable, Hashable {
    public var partition: Int32
    public var start: Int64
    public var end: Int64
    /// The replay group's committed offset this range resumes from (an interrupted replay), or
    /// nil when it starts at the requested offset.
    public var resumedFrom: Int64?

    public init(partition: Int32, start: Int64, end: Int64, resumedFrom: Int64? = nil) {
        self.partition = partition
        self.start = start
        self.end = end
        self.resumedFrom = resumedFrom
    }

    public var count: Int64 { max(0, end - start) }
}

/// The pure parts of `pushfleet replay`'s arguments: offset lists, timestamps, and the
/// per-partition ranges they resolve to once the broker has answered.
public enum ReplayPlan {
    /// Parses `P:O[,P:O…]` (partition:offset pairs) of `flag`.
    public static func parseOffsets(_ text: String, flag: String) throws(ReplayArgumentError) -> [Int32: Int64] {
        var out: [Int32: Int64] = [:]
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let partition = Int32(parts[0]), let offset = Int64(parts[1]), partition >= 0, offset >= 0 else {
                throw ReplayArgumentError("\(flag) \(quotedForMessage(text)): expected PARTITION:OFFSET[,PARTITION:OFFSET…] with non-negative integers, e.g. 0:1200,3:880")
            }
            guard out.updateValue(offset, forKey: partition) == nil else {
                throw ReplayArgumentError("\(flag) \(quotedForMessage(text)): partition \(partition) is given twice")
            }
        }
        return out
    }

    /// Parses an RFC 3339 instant of `flag` into milliseconds since the epoch.
    public static func parseTime(_ text: String, flag: String) throws(ReplayArgumentError) -> Int64 {
        do {
            return try EventTime(rfc3339: text, field: flag).millisecondsSince1970
        } catch {
            throw ReplayArgumentError("\(flag) \(quotedForMessage(text)): not an RFC 3339 timestamp (expected YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM), e.g. 2026-11-26T09:30:00Z)")
        }
    }

    /// Which partitions a replay reads: `--partition` if given (each must exist), else those
    /// named by `--from-offset`, else all of the topic.
    public static func partitions(topic: String, count: Int32, requested: [Int32], fromOffsets: [Int32: Int64]?, toOffsets: [Int32: Int64]?) throws(ReplayArgumentError) -> [Int32] {
        func check(_ p: Int32, _ flag: String) throws(ReplayArgumentError) {
            guard p >= 0 && p < count else {
                throw ReplayArgumentError("\(flag): partition \(p) does not exist (\(topic) has \(count) partition(s): 0…\(count - 1))")
            }
        }
        for p in requested { try check(p, "--partition") }
        for p in (fromOffsets ?? [:]).keys.sorted() { try check(p, "--from-offset") }
        for p in (toOffsets ?? [:]).keys.sorted() { try check(p, "--to-offset") }
        let chosen: [Int32]
        if !requested.isEmpty {
            chosen = Array(Set(requested)).sorted()
            if let fromOffsets, let missing = chosen.first(where: { fromOffsets[$0] == nil }) {
                throw ReplayArgumentError("--partition \(missing): --from-offset gives no offset for it")
            }
        } else if let fromOffsets {
            chosen = fromOffsets.keys.sorted()
        } else {
            chosen = Array(0..<count)
        }
        if let toOffsets, let extra = toOffsets.keys.sorted().first(where: { !chosen.contains($0) }) {
            throw ReplayArgumentError("--to-offset: partition \(extra) is not replayed (replayed: \(chosen.map(String.init).joined(separator: ",")))")
        }
        return chosen
    }

    /// The range of each partition: requested start and end clamped to the watermarks at start,
    /// then moved past what the replay group already committed. A start after its end is an
    /// error naming both flags; a committed offset at or past the end means nothing is left.
    public static func ranges(
        partitions: [Int32], starts: [Int32: Int64], ends: [Int32: Int64], watermarks: [Int32: (low: Int64, high: Int64)],
        committed: [Int32: Int64?], fromFlag: String, toFlag: String
    ) throws(ReplayArgumentError) -> [ReplayPartitionRange] {
        var out: [ReplayPartitionRange] = []
        for p in partitions {
            let (low, high) = watermarks[p] ?? (0, 0)
            let requestedStart = starts[p] ?? low
            let requestedEnd = ends[p] ?? high
            guard requestedStart <= requestedEnd else {
                throw ReplayArgumentError("\(fromFlag) is after \(toFlag) on partition \(p): offset \(requestedStart) > \(requestedEnd)")
            }
            var range = ReplayPartitionRange(partition: p, start: min(max(requestedStart, low), high), end: min(max(requestedEnd, low), high))
            range.start = min(range.start, range.end)
            if case let c?? = committed[p], c > range.start {
                range.resumedFrom = c
                range.start = min(c, range.end)
            }
            out.append(range)
        }
        return out
    }
}

/// Progress text of a replay: a redrawn bar on a terminal, plain lines otherwise.
public enum ReplayProgressText {
    /// `[########--------------]  1200/5000  24%  830 rec/s  ETA 0:05`, for a terminal line
    /// redrawn in place (the caller adds `\r` and clears the rest of the line).
    public static func bar(done: Int64, total: Int64, elapsedSeconds: Double, width: Int = 24) -> String {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: max(0, width - filled))
        return "[\(bar)]  \(done)/\(total)  \(Int((fraction * 100).rounded(.down)))%  \(rateText(done: done, elapsedSeconds: elapsedSeconds))  ETA \(eta(done: done, total: total, elapsedSeconds: elapsedSeconds))"
    }

    /// `replay: 1200/5000 records (24%), 830 rec/s, ETA 0:05`, one line per report.
    public static func line(done: Int64, total: Int64, elapsedSeconds: Double) -> String {
        let percent = total > 0 ? Int((min(1, Double(done) / Double(total)) * 100).rounded(.down)) : 100
        return "replay: \(done)/\(total) records (\(percent)%), \(rateText(done: done, elapsedSeconds: elapsedSeconds)), ETA \(eta(done: done, total: total, elapsedSeconds: elapsedSeconds))"
    }

    static func rateText(done: Int64, elapsedSeconds: Double) -> String {
        guard elapsedSeconds > 0 else { return "- rec/s" }
        return "\(Int((Double(done) / elapsedSeconds).rounded())) rec/s"
    }

    /// Remaining time at the average rate so far: `m:ss`, `h:mm:ss`, or `-` before any rate.
    public static func eta(done: Int64, total: Int64, elapsedSeconds: Double) -> String {
        guard done > 0, elapsedSeconds > 0 else { return "-" }
        let remaining = max(0, total - done)
        let seconds = Int((Double(remaining) * elapsedSeconds / Double(done)).rounded())
        let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return h > 0 ? "\(h):\(two(m)):\(two(s))" : "\(m):\(two(s))"
    }
}
