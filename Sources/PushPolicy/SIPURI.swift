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
    ///
    /// Every delimiter is ASCII, so the URI is split on its UTF-8 bytes, as Flexisip's C parser
    /// does: splitting on `Character`s cost a grapheme-cluster walk per byte, and this parse runs
    /// for every push decision and every timer firing.
    public init?(_ text: String) {
        var text = text
        guard let parsed = text.withUTF8({ SIPURI(bytes: $0) }) else { return nil }
        self = parsed
    }

    /// The parse itself, on the contiguous UTF-8 of the text (integer indices, no `String.Index`
    /// arithmetic); slices become strings only for the parts kept.
    private init?(bytes: UnsafeBufferPointer<UInt8>) {
        typealias Bytes = UnsafeBufferPointer<UInt8>
        func string(_ r: Range<Int>) -> String { String(decoding: Bytes(rebasing: bytes[r]), as: UTF8.self) }
        var lo = bytes.startIndex, hi = bytes.endIndex
        while lo < hi, Self.isASCIIWhitespace(bytes[lo]) { lo += 1 }
        while hi > lo, Self.isASCIIWhitespace(bytes[hi - 1]) { hi -= 1 }
        if lo < hi, bytes[lo] == UInt8(ascii: "<") {
            guard hi - lo >= 2, bytes[hi - 1] == UInt8(ascii: ">") else { return nil }
            lo += 1
            hi -= 1
        }
        guard let colon = bytes[lo..<hi].firstIndex(of: UInt8(ascii: ":")) else { return nil }
        switch Self.asciiLowercased(Bytes(rebasing: bytes[lo..<colon])) {
        case "sip": scheme = "sip"
        case "sips": scheme = "sips"
        default: return nil
        }
        var rest = (colon + 1)..<hi
        if let q = bytes[rest].firstIndex(of: UInt8(ascii: "?")) {
            headers = string((q + 1)..<rest.upperBound)
            rest = rest.lowerBound..<q
        } else {
            headers = nil
        }
        // The user part may itself contain ';' (user parameters), so split on '@' first.
        if let at = bytes[rest].lastIndex(of: UInt8(ascii: "@")) {
            user = SIPURI.percentDecode(Bytes(rebasing: bytes[rest.lowerBound..<at]))
            rest = (at + 1)..<rest.upperBound
        } else {
            user = nil
        }
        var hostPort = rest
        var parameterRange = rest.upperBound..<rest.upperBound
        if let semi = bytes[rest].firstIndex(of: UInt8(ascii: ";")) {
            hostPort = rest.lowerBound..<semi
            parameterRange = (semi + 1)..<rest.upperBound
        }
        rawParameters = string(parameterRange)
        var hostEnd = hostPort.upperBound
        if hostPort.lowerBound < hostPort.upperBound, bytes[hostPort.lowerBound] == UInt8(ascii: "[") {
            guard let close = bytes[hostPort].firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostEnd = close + 1
            guard hostEnd == hostPort.upperBound || bytes[hostEnd] == UInt8(ascii: ":") else { return nil }
        } else if let c = bytes[hostPort].firstIndex(of: UInt8(ascii: ":")) {
            hostEnd = c
        }
        host = Self.asciiLowercased(Bytes(rebasing: bytes[hostPort.lowerBound..<hostEnd]))
        if hostEnd < hostPort.upperBound {
            guard let p = Self.port(Bytes(rebasing: bytes[(hostEnd + 1)..<hostPort.upperBound])) else { return nil }
            port = p
        } else {
            port = nil
        }
        guard !host.isEmpty else { return nil }
        var parameters: [(name: String, value: String?)] = []
        var start = parameterRange.lowerBound
        while start < parameterRange.upperBound {
            let end = bytes[start..<parameterRange.upperBound].firstIndex(of: UInt8(ascii: ";")) ?? parameterRange.upperBound
            if start < end {
                if let eq = bytes[start..<end].firstIndex(of: UInt8(ascii: "=")) {
                    parameters.append((string(start..<eq), SIPURI.percentDecode(Bytes(rebasing: bytes[(eq + 1)..<end]))))
                } else {
                    parameters.append((string(start..<end), nil))
                }
            }
            start = end + 1
        }
        self.parameters = parameters
    }

    static func isASCIIWhitespace(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n")
    }

    /// Lower-cases ASCII letters only (RFC 3261 schemes and host names are case-insensitive
    /// ASCII); other bytes, including UTF-8 sequences, are kept as they are.
    private static func asciiLowercased(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            return String(decoding: bytes, as: UTF8.self)
        }
        return String(decoding: bytes.map { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// 0…65535 written in decimal digits only.
    private static func port(_ digits: UnsafeBufferPointer<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 5 else { return nil }
        var value = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(d - UInt8(ascii: "0"))
        }
        return value <= 65535 ? value : nil
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
        return Array(text.utf8).withUnsafeBufferPointer { percentDecode($0) }
    }

    static func percentDecode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        guard bytes.contains(UInt8(ascii: "%")) else { return String(decoding: bytes, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            if b == UInt8(ascii: "%"), i + 2 < bytes.endIndex,
               let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) {
                out.append(hi << 4 | lo)
                i += 3
            } else {
                out.append(b)
                i += 1
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
    /// Trims on UTF-8 bytes: a `Character` walk costs a grapheme-cluster break check per step.
    func trimmingASCIIWhitespace() -> Substring {
        var u = utf8
        while let f = u.first, SIPURI.isASCIIWhitespace(f) { u = u.dropFirst() }
        while let l = u.last, SIPURI.isASCIIWhitespace(l) { u = u.dropLast() }
        return Substring(u)
    }
}
