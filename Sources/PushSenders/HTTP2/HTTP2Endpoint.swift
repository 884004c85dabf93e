/// Where a connection goes: `https://host:port` plus an optional path prefix.
package struct HTTP2Endpoint: Sendable, Hashable, CustomStringConvertible {
    package var useTLS: Bool
    package var host: String
    package var port: Int
    /// Path before the request's own path (no trailing `/`), or the whole path+query of a
    /// generic push URL.
    package var path: String
    /// The URL's path and query exactly as written (`/` when empty): a generic push's target.
    package var target: String

    package init(useTLS: Bool, host: String, port: Int, path: String = "") {
        self.useTLS = useTLS
        self.host = host
        self.port = port
        self.path = path
        self.target = path.isEmpty ? "/" : path
    }

    /// Parses `http(s)://host[:port][/path][?query]`; IPv6 literals in brackets.
    ///
    /// On UTF-8 bytes, not `Character`s: the generic sender parses its URL on every push, and
    /// grapheme-aware slicing was a visible share of the whole sender's time.
    package init?(url: String) {
        let b = Array(url.utf8)
        func hasPrefix(_ prefix: StaticString) -> Bool {
            prefix.withUTF8Buffer { p in
                b.count >= p.count && zip(p, b).allSatisfy { $0 == ($1 >= 0x41 && $1 <= 0x5A ? $1 | 0x20 : $1) }
            }
        }
        let start: Int
        if hasPrefix("https://") {
            useTLS = true
            start = 8
        } else if hasPrefix("http://") {
            useTLS = false
            start = 7
        } else {
            return nil
        }
        var end = start
        while end < b.count, b[end] != UInt8(ascii: "/"), b[end] != UInt8(ascii: "?") { end += 1 }
        let query = end < b.count && b[end] == UInt8(ascii: "?")
        let rest = String(decoding: b[end...], as: UTF8.self)
        target = rest.isEmpty ? "/" : query ? "/" + rest : rest
        var pathEnd = b.count
        while pathEnd > end, b[pathEnd - 1] == UInt8(ascii: "/") { pathEnd -= 1 }
        path = (query ? "/" : "") + String(decoding: b[end..<pathEnd], as: UTF8.self)
        let defaultPort = useTLS ? 443 : 80
        func port(_ digits: ArraySlice<UInt8>) -> Int? {
            guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
            let n = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
            return (1...65535).contains(n) ? n : nil
        }
        let authority = b[start..<end]
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            host = String(decoding: b[(start + 1)..<close], as: UTF8.self)
            let after = b[(close + 1)..<end]
            if after.isEmpty {
                self.port = defaultPort
            } else if after.first == UInt8(ascii: ":"), let n = port(after.dropFirst()) {
                self.port = n
            } else {
                return nil
            }
        } else if let colon = authority.lastIndex(of: UInt8(ascii: ":")) {
            host = String(decoding: b[start..<colon], as: UTF8.self)
            guard let n = port(b[(colon + 1)..<end]) else { return nil }
            self.port = n
        } else {
            host = String(decoding: authority, as: UTF8.self)
            self.port = defaultPort
        }
        guard !host.isEmpty, !host.utf8.contains(UInt8(ascii: "@")) else { return nil }
    }

    /// `:authority` value; the port only when not the scheme's default.
    package var authority: String {
        let h = host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        return port == (useTLS ? 443 : 80) ? h : "\(h):\(port)"
    }

    package var scheme: String { useTLS ? "https" : "http" }

    /// True for IP literals, which may not be sent as SNI (the certificate's IP SAN is checked).
    package var hostIsIPAddress: Bool {
        host.utf8.contains(UInt8(ascii: ":")) || (!host.isEmpty && host.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: ".") })
    }

    package var description: String { "\(scheme)://\(authority)" }
}
