/// RFC 3339 timestamps for `EventTime` (docs/contract.md §2: `time`, `updatedAt`, `invalidSince`).
///
/// Written by hand rather than with `DateFormatter`/`ISO8601DateFormatter`: those are slow,
/// locale-sensitive and lenient, and every record carries at least one timestamp.
extension EventTime {
    /// Earliest and latest instants that format as a four-digit year.
    package static let minimumMilliseconds: Int64 = daysFromCivil(year: 0, month: 1, day: 1) * 86_400_000
    package static let maximumMilliseconds: Int64 = daysFromCivil(year: 10_000, month: 1, day: 1) * 86_400_000 - 1

    /// Parses `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)`; fractions beyond milliseconds are truncated.
    ///
    /// `field` is the JSON path reported when the text is rejected.
    public init(rfc3339 text: String, field: String = "time") throws(ContractError) {
        var copy = text
        let parsed = copy.withUTF8 { EventTime.parseRFC3339(UnsafeRawBufferPointer($0)) }
        switch parsed {
        case .success(let time): self = time
        case .failure(let detail): throw ContractError.timestamp(field, detail)
        }
    }

    /// Always `YYYY-MM-DDTHH:MM:SS.sssZ`; instants outside years 0000–9999 are clamped to them.
    public var rfc3339: String {
        var out: [UInt8] = []
        out.reserveCapacity(24)
        writeRFC3339(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    package func writeRFC3339(into out: inout [UInt8]) {
        let ms = min(max(millisecondsSince1970, EventTime.minimumMilliseconds), EventTime.maximumMilliseconds)
        let (days, msOfDay) = ms.floorDivided(by: 86_400_000)
        let (year, month, day) = EventTime.civilFromDays(days)
        // Constant divisors (the compiler turns them into multiplications): the loop with a
        // computed divisor paid a hardware division per digit, on every record and APNs push.
        func digits(_ value: Int64, _ count: Int) {
            let v = Int(value)
            if count >= 4 { out.append(UInt8(truncatingIfNeeded: 48 + v / 1000 % 10)) }
            if count >= 3 { out.append(UInt8(truncatingIfNeeded: 48 + v / 100 % 10)) }
            out.append(UInt8(truncatingIfNeeded: 48 + v / 10 % 10))
            out.append(UInt8(truncatingIfNeeded: 48 + v % 10))
        }
        digits(year, 4); out.append(UInt8(ascii: "-"))
        digits(month, 2); out.append(UInt8(ascii: "-"))
        digits(day, 2); out.append(UInt8(ascii: "T"))
        digits(msOfDay / 3_600_000, 2); out.append(UInt8(ascii: ":"))
        digits(msOfDay / 60_000 % 60, 2); out.append(UInt8(ascii: ":"))
        digits(msOfDay / 1000 % 60, 2); out.append(UInt8(ascii: "."))
        digits(msOfDay % 1000, 3); out.append(UInt8(ascii: "Z"))
    }

    /// The parser proper, over raw UTF-8; the failure carries a short detail for the message.
    package static func parseRFC3339(_ p: UnsafeRawBufferPointer) -> Result<EventTime, TimestampDetail> {
        let n = p.count
        var i = 0
        func number(_ count: Int) -> Int64? {
            guard i + count <= n else { return nil }
            var value: Int64 = 0
            for k in i..<(i + count) {
                let d = p[k] &- 48
                guard d <= 9 else { return nil }
                value = value * 10 + Int64(d)
            }
            i += count
            return value
        }
        func expect(_ c: Unicode.Scalar) -> Bool {
            guard i < n, p[i] == UInt8(ascii: c) else { return false }
            i += 1
            return true
        }
        let shape = TimestampDetail("expected YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)")
        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
              expect("T"), let hour = number(2), expect(":"), let minute = number(2), expect(":"),
              let second = number(2)
        else { return .failure(shape) }
        var millis: Int64 = 0
        if i < n, p[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < n, p[i] &- 48 <= 9 {
                if count < 3 { millis = millis * 10 + Int64(p[i] - 48) }
                count += 1
                i += 1
            }
            guard (1...9).contains(count) else {
                return .failure(TimestampDetail("fractional seconds must have 1 to 9 digits"))
            }
            for _ in min(count, 3)..<3 { millis *= 10 }
        }
        var offsetMinutes: Int64 = 0
        if expect("Z") {
            // UTC
        } else if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") {
            let sign: Int64 = p[i] == UInt8(ascii: "+") ? 1 : -1
            i += 1
            guard let oh = number(2), expect(":"), let om = number(2) else { return .failure(shape) }
            guard oh <= 23, om <= 59 else { return .failure(TimestampDetail("offset out of range")) }
            offsetMinutes = sign * (oh * 60 + om)
        } else {
            return .failure(TimestampDetail("missing 'Z' or ±HH:MM offset"))
        }
        guard i == n else { return .failure(TimestampDetail("unexpected characters after the offset")) }
        guard (1...12).contains(month) else { return .failure(TimestampDetail("month \(month) out of range")) }
        guard day >= 1, day <= daysInMonth(year: year, month: month) else {
            return .failure(TimestampDetail("day \(day) out of range for \(year)-\(month < 10 ? "0" : "")\(month)"))
        }
        guard hour <= 23, minute <= 59 else { return .failure(TimestampDetail("time of day out of range")) }
        guard second <= 59 else { return .failure(TimestampDetail("seconds out of range (leap seconds are not supported)")) }
        let days = daysFromCivil(year: year, month: month, day: day)
        let ms = ((days * 24 + hour) * 60 + minute - offsetMinutes) * 60_000 + second * 1000 + millis
        guard ms >= minimumMilliseconds, ms <= maximumMilliseconds else {
            return .failure(TimestampDetail("outside years 0000-9999 in UTC"))
        }
        return .success(EventTime(millisecondsSince1970: ms))
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// Why a timestamp was rejected, without the field (the caller knows it).
package struct TimestampDetail: Error, Sendable {
    package var text: String
    package init(_ text: String) { self.text = text }
}

extension ContractError {
    package static func timestamp(_ field: String, _ detail: TimestampDetail) -> ContractError {
        ContractError(field: field, problem: "not a valid RFC 3339 timestamp (\(detail.text))")
    }
}

extension Int64 {
    /// Quotient and non-negative remainder (floor division), for instants before 1970.
    fileprivate func floorDivided(by d: Int64) -> (Int64, Int64) {
        let q = self / d, r = self % d
        return r < 0 ? (q - 1, r + d) : (q, r)
    }
}
