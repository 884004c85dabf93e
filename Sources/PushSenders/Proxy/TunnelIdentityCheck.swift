import NIOCore
import NIOSSL
import NIOTLS
import X509

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checks, once TLS is up inside a proxy tunnel, that the provider's certificate names the
/// provider host itself.
///
/// Why NIOSSL's own check is not enough here: it accepts a certificate whose IP address entry
/// matches the socket's peer, and through a tunnel that peer is the *proxy*. A proxy holding any
/// trusted certificate for its own address could then pose as every provider. This handler sits
/// between TLS and HTTP/2, holds back the handshake-completed event until the leaf certificate
/// matched `host` (DNS names with RFC 6125 wildcards, or the IP literal), and fails the
/// connection as untrusted otherwise, before any HTTP/2 byte is sent.
final class TunnelIdentityCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let host: String

    init(host: String) { self.host = host }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let tls = event as? TLSUserEvent, case .handshakeCompleted = tls else {
            return context.fireUserInboundEventTriggered(event)
        }
        let valid: Bool
        do {
            let der = try context.pipeline.syncOperations.nioSSL_peerCertificate()?.toDERBytes()
            valid = try der.map { try TunnelIdentity.matches(Certificate(derEncoded: $0), host: host) } ?? false
        } catch {
            valid = false
        }
        guard valid else {
            context.fireErrorCaught(TransportError(.untrusted, "TLS certificate refused: it does not name \(host) "
                                                   + "(checked against the provider's name, not the proxy)"))
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}

/// RFC 6125 matching of a certificate's subject alternative names against a host.
enum TunnelIdentity {
    /// True when `certificate` has a DNS name matching `host` (case-insensitive; `*` allowed as
    /// the whole leftmost label, standing for exactly one label) or, for an IP literal, the same
    /// address. A certificate without subject alternative names matches nothing.
    static func matches(_ certificate: Certificate, host: String) -> Bool {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return false }
        if let address = ipBytes(host) {
            return names.contains { name in
                if case .ipAddress(let ip) = name { return Array(ip.bytes) == address }
                return false
            }
        }
        let wanted = lowercased(host.hasSuffix(".") ? String(host.dropLast()) : host)
        return names.contains { name in
            guard case .dnsName(let dns) = name else { return false }
            let pattern = lowercased(dns)
            if pattern.hasPrefix("*.") {
                guard let dot = wanted.firstIndex(of: "."), wanted.startIndex != dot else { return false }
                let rest = pattern.dropFirst(2)
                return rest.contains(".") && wanted[wanted.index(after: dot)...] == rest
            }
            return !pattern.contains("*") && pattern == wanted
        }
    }

    /// The address bytes of an IPv4 or IPv6 literal; nil for a name.
    static func ipBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    private static func lowercased(_ text: String) -> String {
        String(decoding: text.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
