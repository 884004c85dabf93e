/// A configuration problem that stops a worker from starting (`pushfleet config check` prints it).
///
/// It names where the problem is (file line or `--set` override), the section, the key, the
/// value as given (escaped, shortened, secrets masked) and what is allowed, e.g.
/// `line 7: [module::PushNotification] call-remote-push-interval = 45: must be an integer in 0...30`.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Location: Sendable, Hashable {
        /// 1-based line of the config text.
        case line(Int)
        /// A `--set` argument, as given.
        case override(String)
    }

    /// The config file, when loaded with `load(path:overrides:)`.
    public var path: String?
    public var location: Location?
    public var section: String?
    public var key: String?
    /// The offending value, already made safe for display.
    public var value: String?
    /// What is wrong or what is allowed.
    public var problem: String

    public init(
        path: String? = nil, location: Location? = nil, section: String? = nil, key: String? = nil,
        value: String? = nil, problem: String
    ) {
        self.path = path
        self.location = location
        self.section = section
        self.key = key
        self.value = value
        self.problem = problem
    }

    public var description: String {
        var prefix = ""
        switch (path, location) {
        case let (path?, .line(line)?): prefix = "\(path):\(line): "
        case let (nil, .line(line)?): prefix = "line \(line): "
        case let (_, .override(arg)?): prefix = "--set \(ConfigText.display(arg)): "
        case let (path?, nil): prefix = "\(path): "
        case (nil, nil): break
        }
        guard let section else { return prefix + problem }
        var subject = "[\(section)]"
        if let key { subject += " \(ConfigText.display(key))" }
        if let value { subject += " = \(value)" }
        return prefix + subject + ": " + problem
    }
}

/// Display helpers shared by errors, warnings and the dump.
enum ConfigText {
    /// Longest value echoed in a message; a hostile 1 MB line must not become a 1 MB log line.
    static let maxDisplayed = 80

    /// Escapes control characters and shortens `text` for a one-line message.
    static func display(_ text: some StringProtocol) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == maxDisplayed {
                out += "…"
                break
            }
            count += 1
            switch scalar.value {
            case 0x09: out += "\\t"
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0..<0x20, 0x7F: out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Case-insensitive (ASCII) comparison, as Flexisip's config reader matches names.
    static func sameName(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { lower($0) == lower($1) }
    }

    static func asciiLowercased(_ text: some StringProtocol) -> String {
        String(decoding: text.utf8.map(lower), as: UTF8.self)
    }

    static func lower(_ c: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) ? c + 32 : c
    }

    /// Edit distance, for "did you mean" hints. Inputs are short key names (callers cap length).
    static func distance(_ a: some StringProtocol, _ b: some StringProtocol) -> Int {
        let x = Array(a.utf8).map(lower), y = Array(b.utf8).map(lower)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = [Int](repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let substitution = previous[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }

    /// The candidate closest to `name`, if close enough to be a plausible typo (by default a
    /// third of its length, at least 2).
    static func nearest(to name: String, in candidates: [String], limit: Int? = nil) -> String? {
        guard name.utf8.count <= 100 else { return nil }
        let limit = limit ?? max(2, name.utf8.count / 3)
        let scored = candidates.map { (name: $0, distance: distance(name, $0)) }
        guard let best = scored.min(by: { $0.distance < $1.distance }), best.distance <= limit else {
            return nil
        }
        return best.name
    }
}
