import PushSandbox
import Testing
import X509
@testable import PushSenders

/// Every transition of the CONNECT answer reader, without a socket.
@Suite struct ProxyConnectHandshakeTests {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func theRequestNamesTheTargetAndCarriesCredentialsOnlyWhenGiven() {
        #expect(String(decoding: ProxyConnectHandshake.request(host: "api.push.apple.com", port: 443, authorization: nil), as: UTF8.self)
            == "CONNECT api.push.apple.com:443 HTTP/1.1\r\nHost: api.push.apple.com:443\r\n\r\n")
        #expect(String(decoding: ProxyConnectHandshake.request(host: "::1", port: 8443, authorization: "Basic dTpw"), as: UTF8.self)
            == "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\nProxy-Authorization: Basic dTpw\r\n\r\n")
    }

    @Test func aTwoHundredOpensTheTunnel() {
        var h = ProxyConnectHandshake()
        #expect(h.receive(bytes("HTTP/1.1 200 Connection established\r\nVia: squid\r\n\r\n")) == .established(leftover: []))
        // Finished: later bytes are the provider's, not looked at.
        #expect(h.receive(bytes("HTTP/1.1 403 x\r\n\r\n")) == .needMore)
        var h10 = ProxyConnectHandshake()
        #expect(h10.receive(bytes("HTTP/1.0 200\r\n\r\n")) == .established(leftover: []))
    }

    @Test func theBlankLineMaySpanReadsAndBytesAfterItAreKept() {
        var h = ProxyConnectHandshake()
        #expect(h.receive(bytes("HTTP/1.1 204 OK\r")) == .needMore)
        #expect(h.receive(bytes("\n\r")) == .needMore)
        #expect(h.receive(bytes("\n\u{16}\u{03}")) == .established(leftover: [0x16, 0x03]))
        var oneByOne = ProxyConnectHandshake()
        let answer = bytes("HTTP/1.1 200 OK\r\n\r\n")
        for b in answer.dropLast() { #expect(oneByOne.receive([b]) == .needMore) }
        #expect(oneByOne.receive([answer.last!]) == .established(leftover: []))
    }

    @Test func otherStatusesAreRefusalsWithTheirReason() {
        var forbidden = ProxyConnectHandshake()
        #expect(forbidden.receive(bytes("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")) == .refused(status: 403, reason: "Forbidden"))
        var auth = ProxyConnectHandshake()
        #expect(auth.receive(bytes("HTTP/1.1 407 Proxy Authentication Required\r\n\r\n"))
            == .refused(status: 407, reason: "Proxy Authentication Required"))
        var bare = ProxyConnectHandshake()
        #expect(bare.receive(bytes("HTTP/1.1 502\r\n\r\n")) == .refused(status: 502, reason: ""))
        var control = ProxyConnectHandshake()
        #expect(control.receive(bytes("HTTP/1.1 503 no\u{1b}[31m\r\n\r\n")) == .refused(status: 503, reason: "no?[31m"))
    }

    @Test func somethingOtherThanHTTPIsMalformed() {
        for text in ["SSH-2.0-OpenSSH\r\n\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 20x OK\r\n\r\n", "HTTP/1.1 2000\r\n\r\n", "\r\n\r\n"] {
            var h = ProxyConnectHandshake()
            guard case .malformed(let why) = h.receive(bytes(text)) else {
                Issue.record("\(text) accepted")
                continue
            }
            #expect(why.hasPrefix("not an HTTP answer"))
        }
    }

    @Test func anEndlessHeadIsCutAtTheBound() {
        var h = ProxyConnectHandshake()
        #expect(h.receive(bytes("HTTP/1.1 200 OK\r\n")) == .needMore)
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 4096)
        var outcome = ProxyConnectHandshake.Outcome.needMore
        var fed = 0
        while outcome == .needMore, fed < 10 * ProxyConnectHandshake.maxHeadBytes {
            outcome = h.receive(chunk)
            fed += chunk.count
        }
        #expect(outcome == .malformed("answer head longer than \(ProxyConnectHandshake.maxHeadBytes) bytes"))
        #expect(fed <= ProxyConnectHandshake.maxHeadBytes + chunk.count)
    }
}

/// The provider-name check made inside a tunnel, on certificates from the sandbox CA.
@Suite struct TunnelIdentityTests {
    func certificate(_ hosts: [String]) throws -> Certificate {
        try Certificate(pemEncoded: try SandboxCertificateAuthority.generate().issueServerCredential(hosts: hosts).certificatePEM)
    }

    @Test func dnsNamesMatchExactlyOrByOneWildcardLabel() throws {
        let c = try certificate(["api.push.apple.com", "*.googleapis.com"])
        #expect(TunnelIdentity.matches(c, host: "api.push.apple.com"))
        #expect(TunnelIdentity.matches(c, host: "API.Push.Apple.COM."))
        #expect(TunnelIdentity.matches(c, host: "fcm.googleapis.com"))
        #expect(!TunnelIdentity.matches(c, host: "googleapis.com"))
        #expect(!TunnelIdentity.matches(c, host: "a.fcm.googleapis.com"))
        #expect(!TunnelIdentity.matches(c, host: "push.apple.com"))
        #expect(!TunnelIdentity.matches(c, host: "evil-api.push.apple.com"))
    }

    @Test func ipLiteralsMatchOnlyTheirAddress() throws {
        let c = try certificate(["127.0.0.1", "localhost"])
        #expect(TunnelIdentity.matches(c, host: "127.0.0.1"))
        #expect(!TunnelIdentity.matches(c, host: "127.0.0.2"))
        // The proxy's address in the certificate is no identity for a provider name.
        #expect(!TunnelIdentity.matches(c, host: "api.push.apple.com"))
        #expect(TunnelIdentity.matches(c, host: "localhost"))
    }
}
