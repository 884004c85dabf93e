import PushContract

/// The HTTP proxy that provider connections go through (`[pushfleet] https-proxy`, else
/// `HTTPS_PROXY`/`https_proxy`), with the `NO_PROXY`/`no_proxy` destinations that bypass it.
///
/// Connections to `https://` destinations open a tunnel with `CONNECT host:port`; TLS then runs
/// end to end between PushFleet and the provider, verified against the provider's name, so the
/// proxy sees host names and byte counts, never a push or a credential. `http://` destinations
/// (`allow-cleartext` sandboxes and gateways) are never proxied, as `HTTPS_PROXY` means for curl.
///
/// - Important: `username` and `password` are secrets. `description` and every message built
///   from it name the proxy as `host:port` only; `masked(_:)` is how a URL is shown.
public struct OutboundProxy: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    /// Percent-decoded user info; nil without `user@` in the URL.
    public var username: String?
    public var password: String?
    /// Where the proxy was set: `[pushfleet] https-proxy`, `HTTPS_PROXY` or `https_proxy`.
    public var source: String
    /// Destinations reached directly.
    public var noProxy: NoProxyList

    public init(host: String, port: Int, username: String? = nil, password: String? = nil,
                source: String = "[pushfleet] https-proxy", noProxy: NoProxyList = NoProxyList()) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.source = source
        self.noProxy = noProxy
    }

    /// `host:port` (IPv6 in brackets): how logs and failure reasons name the proxy.
    public var description: String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    /// `Basic …` for `Proxy-Authorization`, when the URL has user info.
    public var basicAuthorization: String? {
        guard let username else { return nil }
        return "Basic " + Base64.encode(Array("\(username):\(password ?? "")".utf8))
    }

    /// True when a connection to `host:port` over TLS goes through the proxy.
    public func applies(toHost host: String, port: Int) -> Bool {
        !noProxy.matches(host: host, port: port)
    }

    /// What the proxy URL must look like (errors quote it).
    public static let allowed = "must be http://host:port or http://user:password@host:port (user and password "
        + "percent-encoded), none for direct connections whatever the environment, or empty to use HTTPS_PROXY from the environment"

    /// Parses `http://[user[:password]@]host:port[/]`. `schemeOptional` accepts `host:port` as
    /// well, as curl and Go read `HTTPS_PROXY`.
    public static func parse(_ text: String, source: String, schemeOptional: Bool = false,
                             noProxy: NoProxyList = NoProxyList()) throws(ProxyParseError) -> OutboundProxy {
        let problem = ProxyParseError(message: allowed)
        var rest = Substring(text)
        if let scheme = rest.range(of: "://") {
            let name = rest[..<scheme.lowerBound].lowercased()
            guard name == "http" else {
                if name == "https" {
                    throw ProxyParseError(message: "a TLS connection to the proxy is not supported: use http://host:port "
                                          + "(the CONNECT tunnel carries TLS to the provider end to end)")
                }
                throw ProxyParseError(message: "scheme \(name) is not supported: " + allowed)
            }
            rest = rest[scheme.upperBound...]
        } else if !schemeOptional {
            throw problem
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        guard !rest.isEmpty, !rest.contains(where: { $0 == "/" || $0 == "?" || $0 == "#" || $0 == " " || $0 == "\t" }) else {
            throw problem
        }
        var username: String?, password: String?
        if let at = rest.lastIndex(of: "@") {
            let info = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let colon = info.firstIndex(of: ":")
            // Percent escapes as in any URL's user info (a malformed one is kept as written, as SIP URIs).
            let user = SIPURI.percentDecode(colon.map { info[..<$0] } ?? info)
            guard !user.isEmpty else { throw problem }
            username = user
            password = colon.map { SIPURI.percentDecode(info[info.index(after: $0)...]) }
        }
        let host: Substring, portText: Substring
        if rest.first == "[" {
            guard let close = rest.firstIndex(of: "]"), rest[rest.index(after: close)...].first == ":" else { throw problem }
            host = rest[rest.index(after: rest.startIndex)..<close]
            portText = rest[rest.index(close, offsetBy: 2)...]
        } else {
            guard let colon = rest.lastIndex(of: ":") else {
                throw ProxyParseError(message: "the port is missing: " + allowed)
            }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
            guard !host.contains(":") else { throw problem }
        }
        guard !host.isEmpty, !host.contains("@"), !portText.isEmpty, portText.utf8.count <= 5,
              portText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let port = Int(portText), (1...65_535).contains(port) else { throw problem }
        return OutboundProxy(host: String(host), port: port, username: username, password: password, source: source, noProxy: noProxy)
    }

    /// `text` with any user info replaced by `***` (`http://***@host:port`): how a proxy URL is
    /// echoed in errors and `config dump`.
    public static func masked(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        let start = text.range(of: "://").map(\.upperBound) ?? text.startIndex
        guard start <= at else { return text }
        return text[..<start] + "***" + text[at...]
    }

    /// `https-proxy=none`: direct connections, `HTTPS_PROXY` ignored.
    public static let none = "none"

    /// The effective proxy: `configured` (from `[pushfleet] https-proxy`) if any, else
    /// `HTTPS_PROXY`, else `https_proxy` of `environment` unless `direct`; `NO_PROXY`/`no_proxy`
    /// apply to both. Empty variables count as unset.
    public static func resolve(configured: OutboundProxy?, direct: Bool = false,
                               environment: [String: String]) throws(ProxyParseError) -> OutboundProxy? {
        if direct { return nil }
        let noProxy = NoProxyList(environment["NO_PROXY"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["no_proxy"] ?? "")
        if var configured {
            configured.noProxy = noProxy
            return configured
        }
        for name in ["HTTPS_PROXY", "https_proxy"] {
            guard let value = environment[name], !value.isEmpty else { continue }
            do {
                return try parse(value, source: name, schemeOptional: true, noProxy: noProxy)
            } catch {
                throw ProxyParseError(message: "environment variable \(name) = \(masked(value)): \(error.message)", variable: name)
            }
        }
        return nil
    }
}

extension OutboundProxy: CustomDebugStringConvertible, CustomReflectable {
    /// As `description` plus where it came from: no credential, even in `dump()` or a test's
    /// failure message of a config that holds a proxy.
    public var debugDescription: String {
        "OutboundProxy(\(self)\(username == nil ? "" : ", credentials: ***"), source: \(source), noProxy: \(noProxy))"
    }

    public var customMirror: Mirror {
        Mirror(self, children: ["proxy": description, "credentials": username == nil ? "none" : "***", "source": source,
                                "noProxy": noProxy.description])
    }
}

/// Why a proxy URL was refused (the loader adds key and masked value).
public struct ProxyParseError: Error, Sendable, Hashable {
    public var message: String
    /// The environment variable the URL came from, if it did.
    public var variable: String?
}

/// `NO_PROXY` as curl and Go read it: comma- (or space-) separated entries, case-insensitive;
/// `*` alone matches everything; `example.com` and `.example.com` match that domain and every
/// name under it; an IP literal matches itself; `host:port` matches that port only.
/// CIDR ranges (Go) are not supported: such an entry matches only the literal text.
public struct NoProxyList: Sendable, Hashable, CustomStringConvertible {
    public private(set) var entries: [String]
    public private(set) var matchesAll: Bool

    public init(_ text: String = "") {
        let items = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map { ConfigText.asciiLowercased($0) }
        matchesAll = items.contains("*")
        entries = items.filter { $0 != "*" }
    }

    public var isEmpty: Bool { !matchesAll && entries.isEmpty }

    public var description: String { ((matchesAll ? ["*"] : []) + entries).joined(separator: ",") }

    public func matches(host: String, port: Int) -> Bool {
        if matchesAll { return true }
        var name = ConfigText.asciiLowercased(host)
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        while name.hasSuffix(".") { name.removeLast() }
        return entries.contains { entry in
            var pattern = Substring(entry)
            if let colon = pattern.lastIndex(of: ":"), !pattern[..<colon].contains(":") || pattern.first == "[",
               let p = Int(pattern[pattern.index(after: colon)...]) {
                guard p == port else { return false }
                pattern = pattern[..<colon]
            }
            if pattern.hasPrefix("["), pattern.hasSuffix("]") { pattern = pattern.dropFirst().dropLast() }
            if pattern.hasPrefix("*.") { pattern = pattern.dropFirst(2) } else if pattern.hasPrefix(".") { pattern = pattern.dropFirst() }
            guard !pattern.isEmpty else { return false }
            return name == pattern || name.hasSuffix("." + pattern)
        }
    }
}
