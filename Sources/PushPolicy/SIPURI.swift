import PushContract

/// A parsed SIP or SIPS URI (RFC 3261 §19.1), enough for push parameters and filters.
///
/// Values come from SIP messages, so they are hostile by default: parsing never traps, and
/// user and parameter values are percent-decoded once (RFC 3261 escapes), so `pn-prid=a%3Ab`
/// yields `a:b`. A `%` not followed by two hex digits is kept as is, as Flexisip (sofia-sip)
/// does, rather than rejecting the whole contact.
public struct SIPURI: Sendable, Hashable {
    /// `sip` or `sips` (lower-cased).
    public var scheme: String
    /// Percent-decoded user part; nil when the URI has no `user@`.
    public var user: String?
    /// Host as written (lower-cased); IPv6 references keep their brackets.
    public var host: String
    public var port: Int?
    /// URI parameters in order, names as written, values percent-decoded; nil value for a flag.
    public var parameters: [(name: String, value: String?)]
    /// The raw `;…` parameter section without the leading `;` (Flexisip's `uri.params`).
    public var rawParameters: String
    /// Header part after `?`, raw.
    public var headers: String?

    /// Parses `sip:user@host:port;params?headers`, optionally wrapped in `<…>`.
    /// Returns nil for anything that is not a SIP/SIPS URI with a host.
    public init?(_ text: String) {
        var s = Substring(text).trimmingASCIIWhitespace()
        if s.first == "<" {
            guard s.last == ">" else { return nil }
            s = s.dropFirst().dropLast()
        }
        guard let colon = s.firstIndex(of: ":") else { return nil }
        let scheme = s[..<colon].lowercased()
        guard scheme == "sip" || scheme == "sips" else { return nil }
        self.scheme = scheme
        var rest = s[s.index(after: colon)...]

        if let q = rest.firstIndex(of: "?") {
            headers = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        } else {
            headers = nil
        }
        // The user part may itself contain ';' (user parameters), so split on '@' first.
        if let at = rest.lastIndex(of: "@") {
            user = SIPURI.percentDecode(rest[..<at])
            rest = rest[rest.index(after: at)...]
        } else {
            user = nil
        }
        let hostPort: Substring
        if let semi = rest.firstIndex(of: ";") {
            hostPort = rest[..<semi]
            rawParameters = String(rest[rest.index(after: semi)...])
        } else {
            hostPort = rest
            rawParameters = ""
        }
        if hostPort.first == "[" {
            guard let close = hostPort.firstIndex(of: "]") else { return nil }
            host = hostPort[...close].lowercased()
            let after = hostPort[hostPort.index(after: close)...]
            if after.isEmpty {
                port = nil
            } else {
                guard after.first == ":", let p = Int(after.dropFirst()), (0...65535).contains(p) else { return nil }
                port = p
            }
        } else if let c = hostPort.firstIndex(of: ":") {
            host = hostPort[..<c].lowercased()
            guard let p = Int(hostPort[hostPort.index(after: c)...]), (0...65535).contains(p) else { return nil }
            port = p
        } else {
            host = hostPort.lowercased()
            port = nil
        }
        guard !host.isEmpty else { return nil }
        parameters = rawParameters.isEmpty ? [] : rawParameters.split(separator: ";", omittingEmptySubsequences: true).map { part in
            if let eq = part.firstIndex(of: "=") {
                return (String(part[..<eq]), SIPURI.percentDecode(part[part.index(after: eq)...]))
            }
            return (String(part), nil)
        }
    }

    /// The value of the first parameter named `name` (ASCII case-insensitive), percent-decoded.
    /// A flag parameter (no `=`) yields the empty string, so presence can be tested.
    public func parameter(_ name: String) -> String? {
        for p in parameters where p.name.caseInsensitiveEquals(name) {
            return p.value ?? ""
        }
        return nil
    }

    public static func == (lhs: SIPURI, rhs: SIPURI) -> Bool {
        lhs.scheme == rhs.scheme && lhs.user == rhs.user && lhs.host == rhs.host && lhs.port == rhs.port
            && lhs.rawParameters == rhs.rawParameters && lhs.headers == rhs.headers
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(scheme)
        hasher.combine(user)
        hasher.combine(host)
        hasher.combine(port)
        hasher.combine(rawParameters)
        hasher.combine(headers)
    }

    /// Decodes `%XX` escapes; invalid escapes and invalid UTF-8 are kept/repaired rather than
    /// failing, since a contact with one odd byte should still be able to get a push.
    public static func percentDecode<S: StringProtocol>(_ text: S) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        var it = Array(text.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2,
               let hi = hexValue(it[it.startIndex]), let lo = hexValue(it[it.startIndex + 1]) {
                out.append(hi << 4 | lo)
                it = it.dropFirst(2)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Substring {
    func trimmingASCIIWhitespace() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s = s.dropLast() }
        return s
    }
}
