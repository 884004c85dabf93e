import PushPolicy

/// The client side of an HTTP/1.1 `CONNECT` (RFC 9110 §9.3.6) as a value: the request to
/// write, then the proxy's answer read byte by byte until its blank line, bounded in size.
///
/// Why not NIOExtras' `NIOHTTP1ProxyConnectHandler`: it reports a refusal other than 407 only
/// in a private detail, and PushFleet's failure reason must name the status ("proxy
/// 10.0.0.1:3128 refused CONNECT api.push.apple.com:443: 403 Forbidden"); it also needs NIO's
/// HTTP/1 encoder and decoder in the pipeline around it, to be removed again. A CONNECT answer
/// is a status line and a few headers, which this reads directly; I/O lives in
/// `ProxyConnectHandler`, every transition is tested without a socket.
package struct ProxyConnectHandshake: Sendable {
    /// Largest answer head read (status line and headers): squid's or a corporate proxy's are a
    /// few hundred bytes; more is a broken proxy or not a proxy at all.
    package static let maxHeadBytes = 16 * 1024

    package enum Outcome: Sendable, Equatable {
        /// More bytes are needed.
        case needMore
        /// A 2xx: the tunnel is open; `leftover` are bytes after the head (the provider's, in
        /// theory: no proxy should send any before our TLS ClientHello).
        case established(leftover: [UInt8])
        /// The proxy answered with another status: why, for the failure reason.
        case refused(status: Int, reason: String)
        /// Not an HTTP answer, or too long.
        case malformed(String)
    }

    private var head: [UInt8] = []
    private var finished = false

    package init() {}

    /// `host:port`, an IPv6 literal in brackets: the request target, and how messages name it.
    package static func authority(host: String, port: Int) -> String {
        (host.contains(":") ? "[\(host)]" : host) + ":\(port)"
    }

    /// `CONNECT host:port HTTP/1.1` with `Host` and, if given, `Proxy-Authorization`.
    package static func request(host: String, port: Int, authorization: String?) -> [UInt8] {
        let authority = authority(host: host, port: port)
        var text = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let authorization { text += "Proxy-Authorization: \(authorization)\r\n" }
        return Array((text + "\r\n").utf8)
    }

    /// Feeds what the proxy sent. Once a result other than `.needMore` is returned, the
    /// handshake is over and further bytes are not looked at.
    package mutating func receive(_ bytes: some Collection<UInt8>) -> Outcome {
        guard !finished else { return .needMore }
        let before = head.count
        head.append(contentsOf: bytes)
        // The blank line may straddle two reads: search from 3 bytes before the new ones.
        guard let end = Self.headEnd(in: head, from: max(0, before - 3)) else {
            if head.count > Self.maxHeadBytes {
                finished = true
                return .malformed("answer head longer than \(Self.maxHeadBytes) bytes")
            }
            return .needMore
        }
        finished = true
        guard end <= Self.maxHeadBytes else { return .malformed("answer head longer than \(Self.maxHeadBytes) bytes") }
        let lineEnd = head.firstIndex(of: UInt8(ascii: "\r")) ?? end
        let line = head[..<lineEnd]
        // `HTTP/1.x NNN[ reason]`
        guard line.count >= 12, line.starts(with: Array("HTTP/1.".utf8)),
              case let digits = line[(line.startIndex + 9)..<(line.startIndex + 12)],
              line[line.startIndex + 8] == UInt8(ascii: " "),
              digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              line.count == 12 || line[line.startIndex + 12] == UInt8(ascii: " ")
        else {
            return .malformed("not an HTTP answer: \(Self.printable(line))")
        }
        let status = digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        if (200..<300).contains(status) {
            return .established(leftover: Array(head[(end + 4)...]))
        }
        let reason = line.count > 13 ? Self.printable(line[(line.startIndex + 13)...]) : ""
        return .refused(status: status, reason: reason)
    }

    /// Index of the `\r\n\r\n` ending the head.
    private static func headEnd(in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= 4, start <= bytes.count - 4 else { return nil }
        for i in start...(bytes.count - 4)
        where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
            return i
        }
        return nil
    }

    /// At most 64 printable ASCII characters of `bytes`, for a message.
    private static func printable(_ bytes: some Collection<UInt8>) -> String {
        var out = String(decoding: bytes.prefix(64).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
        if bytes.count > 64 { out += "…" }
        return out
    }
}

extension OutboundProxy {
    /// Why a tunnel to `target` was not opened, naming proxy, target and answer (never credentials):
    /// `proxy 10.0.0.1:3128 refused CONNECT api.push.apple.com:443: 403 Forbidden`.
    func refusal(target: String, answer: String, status: Int?) -> String {
        var why = "proxy \(self) refused CONNECT \(target): \(answer)"
        if status == 407 {
            why += username == nil ? " (the proxy URL has no credentials)" : " (the credentials of the proxy URL were refused)"
        }
        return why
    }
}
