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
    package init?(url: String) {
        let lower = url.lowercased()
        let rest: Substring
        if lower.hasPrefix("https://") {
            useTLS = true
            rest = url.dropFirst(8)
        } else if lower.hasPrefix("http://") {
            useTLS = false
            rest = url.dropFirst(7)
        } else {
            return nil
        }
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var p = String(rest[authorityEnd...])
        if p.hasPrefix("?") { p = "/" + p }
        target = p.isEmpty ? "/" : p
        while p.hasSuffix("/") { p.removeLast() }
        path = p
        let defaultPort = useTLS ? 443 : 80
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if after.isEmpty {
                port = defaultPort
            } else if after.hasPrefix(":"), let n = Int(after.dropFirst()), (1...65535).contains(n) {
                port = n
            } else {
                return nil
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            guard let n = Int(authority[authority.index(after: colon)...]), (1...65535).contains(n) else { return nil }
            port = n
        } else {
            host = String(authority)
            port = defaultPort
        }
        guard !host.isEmpty, !host.contains("@") else { return nil }
    }

    /// `:authority` value; the port only when not the scheme's default.
    package var authority: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return port == (useTLS ? 443 : 80) ? h : "\(h):\(port)"
    }

    package var scheme: String { useTLS ? "https" : "http" }

    /// True for IP literals, which may not be sent as SNI (the certificate's IP SAN is checked).
    package var hostIsIPAddress: Bool {
        host.contains(":") || (!host.isEmpty && host.allSatisfy { $0.isNumber || $0 == "." })
    }

    package var description: String { "\(scheme)://\(authority)" }
}
