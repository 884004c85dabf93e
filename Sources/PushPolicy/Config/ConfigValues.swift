/// What is wrong with one value; the loader adds section, key, value and location.
struct ConfigProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Typed readers for Flexisip's value syntax. Stricter than Flexisip where it guesses:
/// Flexisip reads integers with `atoi` (`5abc` is 5, `abc` is 0); we reject both.
enum ConfigValues {
    /// Flexisip's `ConfigInt` is a C `int`.
    static let intMax = Int(Int32.max)

    /// `true`, `false`, `1`, `0`, exactly as Flexisip's `ConfigBoolean`.
    static func bool(_ text: String) throws(ConfigProblem) -> Bool {
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw ConfigProblem("must be true or false (or 1 or 0)")
        }
    }

    static func int(_ text: String, in range: ClosedRange<Int>) throws(ConfigProblem) -> Int {
        guard let value = decimal(text) else { throw rangeProblem(range) }
        guard range.contains(value) else { throw rangeProblem(range) }
        return value
    }

    static func rangeProblem(_ range: ClosedRange<Int>) -> ConfigProblem {
        if range.upperBound == intMax {
            return ConfigProblem("must be an integer ≥ \(range.lowerBound) (at most \(intMax))")
        }
        return ConfigProblem("must be an integer in \(range.lowerBound)...\(range.upperBound)")
    }

    /// `-?[0-9]+` without overflow; nil otherwise.
    static func decimal(_ text: some StringProtocol) -> Int? {
        var digits = Substring(text)
        let negative = digits.first == "-"
        if negative { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.count <= 18,
            digits.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let magnitude = Int(digits)
        else { return nil }
        return negative ? -magnitude : magnitude
    }

    enum DurationUnit {
        case seconds, minutes
        var seconds: Int { self == .seconds ? 1 : 60 }
        var name: String { self == .seconds ? "second" : "minute" }
    }

    /// Flexisip 2.3's `ConfigDuration`: `<integer>[ms|s|min|h|d|m|y]`, a bare integer being in the
    /// option's own unit; `m` is a month and `y` a year (Gregorian averages, as Flexisip).
    /// A unit finer than the option's (ms for seconds; ms or s for minutes) is an error, as Flexisip.
    /// `allowNegative` exists for `timeout`, which Flexisip documents as "≤ 0 = immediately".
    static func duration(
        _ text: String, unit: DurationUnit, in range: ClosedRange<Int>, allowNegative: Bool = false
    ) throws(ConfigProblem) -> Int {
        let syntax = ConfigProblem(
            "must be a duration: an integer number of \(unit.name)s, or an integer with a unit "
                + "(ms, s, min, h, d, m, y), e.g. 30 or 2min")
        let numberEnd = text.firstIndex { !($0.isASCII && ($0.isNumber || $0 == "-")) } ?? text.endIndex
        guard let amount = decimal(text[..<numberEnd]) else { throw syntax }
        let suffix = text[numberEnd...]
        let factor: Int  // seconds per unit
        switch suffix {
        case "": factor = unit.seconds
        case "ms", "s":
            if suffix == "ms" || unit == .minutes {
                throw ConfigProblem("unit \(suffix) is finer than this option's precision (\(unit.name)s)")
            }
            factor = 1
        case "min": factor = 60
        case "h": factor = 3_600
        case "d": factor = 86_400
        case "m": factor = 2_629_746  // 30.436875 days
        case "y": factor = 31_556_952  // 365.2425 days
        default: throw syntax
        }
        let (seconds, overflow) = amount.multipliedReportingOverflow(by: factor)
        guard !overflow else { throw rangeProblem(range) }
        let value = seconds / unit.seconds
        guard range.contains(value) || (allowNegative && value < 0 && value >= -intMax) else {
            throw rangeProblem(range)
        }
        return value
    }

    /// Flexisip's `ConfigStringList`: items separated by spaces or commas (and tabs).
    static func list(_ text: String) -> [String] {
        text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\t" }).map(String.init)
    }

    /// `scheme://host[:port][/path]` with scheme http or https.
    static func httpURL(_ text: String) throws(ConfigProblem) -> String {
        let problem = ConfigProblem("must be an http:// or https:// URL with a host")
        let lower = text.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else {
            throw problem
        }
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.isEmpty, !authority.contains(where: { $0 == " " || $0 == "@" }) else { throw problem }
        if authority.first == "[" {
            guard authority.contains("]") else { throw problem }
        } else if let colon = authority.firstIndex(of: ":") {
            let port = authority[authority.index(after: colon)...]
            guard colon != authority.startIndex, let number = decimal(port), (1...65_535).contains(number) else {
                throw problem
            }
        }
        return text
    }

    /// `host:port` (IPv6 as `[addr]:port`), port 0...65535 (0 = any free port).
    static func listenAddress(_ text: String) throws(ConfigProblem) -> String {
        let problem = ConfigProblem("must be host:port (IPv6 as [address]:port), port 0...65535, or empty to disable")
        if text.isEmpty { return text }
        guard let colon = text.lastIndex(of: ":") else { throw problem }
        let host = text[..<colon], port = text[text.index(after: colon)...]
        guard let number = decimal(port), (0...65_535).contains(number), !host.isEmpty,
            !host.contains(where: { $0 == " " || $0 == "/" })
        else { throw problem }
        if host.first == "[" || host.last == "]" || host.contains(":") {
            guard host.first == "[", host.last == "]", host.count > 2 else { throw problem }
        }
        return text
    }

    /// Kafka topic names: 1–249 of `[A-Za-z0-9._-]`, not `.` or `..`.
    static func topic(_ text: String) throws(ConfigProblem) -> String {
        let valid = !text.isEmpty && text.utf8.count <= 249 && text != "." && text != ".."
            && text.utf8.allSatisfy { c in
                c.isASCIIAlphanumeric || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
            }
        guard valid else {
            throw ConfigProblem("must be a Kafka topic name: 1 to 249 of A-Z a-z 0-9 . _ - (not . or ..)")
        }
        return text
    }

    static func nonEmpty(_ text: String) throws(ConfigProblem) -> String {
        guard !text.isEmpty else { throw ConfigProblem("must not be empty") }
        return text
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
