/// Retry delays: exponential, capped, with "equal jitter" (half fixed, half random), so a
/// storm of failures does not come back in lock-step yet every delay has a known floor.
package enum Backoff {
    /// `base × 2^(attempt−1)`, capped; saturating for any attempt count.
    package static func exponential(attempt: Int, baseMs: Int64, capMs: Int64) -> Int64 {
        let shift = min(max(attempt - 1, 0), 40)
        let (value, overflow) = baseMs.multipliedReportingOverflow(by: Int64(1) << shift)
        return overflow ? capMs : min(value, capMs)
    }

    /// A delay in `[d/2, d]` where `d = exponential(attempt)`.
    package static func jittered<R: RandomNumberGenerator>(attempt: Int, baseMs: Int64, capMs: Int64, using random: inout R) -> Int64 {
        let d = exponential(attempt: attempt, baseMs: baseMs, capMs: capMs)
        let half = d / 2
        return half + Int64.random(in: 0...max(0, d - half), using: &random)
    }

    /// `Retry-After` in delay-seconds (the form APNs and FCM use); dates and junk are ignored.
    package static func retryAfterMs(_ value: String?) -> Int64? {
        guard let value, let seconds = Int64(value.trimmingSpaces), seconds >= 0, seconds < 86_400 * 7 else { return nil }
        return seconds * 1000
    }
}

extension String {
    var trimmingSpaces: Substring {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
