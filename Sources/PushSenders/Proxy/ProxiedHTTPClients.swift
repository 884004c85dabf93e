import AsyncHTTPClient
import NIOCore
import PushPolicy

extension OutboundProxy {
    /// `self` when a connection to `endpoint` goes through the proxy: TLS destinations not
    /// excluded by NO_PROXY. Cleartext ones (`allow-cleartext`) are never tunnelled.
    func route(to endpoint: HTTP2Endpoint) -> OutboundProxy? {
        endpoint.useTLS && applies(toHost: endpoint.host, port: endpoint.port) ? self : nil
    }
}

/// An AsyncHTTPClient for the low-volume HTTP calls (OAuth tokens, HTTP/1.1 generic pushes),
/// and its twin going through the outbound proxy when there is one.
///
/// Why two clients: AsyncHTTPClient's proxy is a client-wide setting and it knows no NO_PROXY,
/// so each request picks the client for its destination. Both share the event loops.
package final class ProxiedHTTPClients: Sendable {
    private let direct: HTTPClient
    private let proxied: HTTPClient?
    package let proxy: OutboundProxy?

    package init(configuration: HTTPClient.Configuration, proxy: OutboundProxy?, group: any EventLoopGroup) {
        direct = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
        self.proxy = proxy
        if let proxy {
            var tunnelled = configuration
            let authorization = proxy.username.map { HTTPClient.Authorization.basic(username: $0, password: proxy.password ?? "") }
            tunnelled.proxy = .server(host: proxy.host, port: proxy.port, authorization: authorization)
            // Otherwise AsyncHTTPClient retries a refused CONNECT until the request's deadline and
            // the push fails as a timeout; the senders' own backoff retries instead, with the reason.
            tunnelled.connectionPool.retryConnectionEstablishment = false
            proxied = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: tunnelled)
        } else {
            proxied = nil
        }
    }

    /// The client for `url`, with the proxy it goes through (nil = direct).
    package func client(for url: String) -> (client: HTTPClient, proxy: OutboundProxy?) {
        guard let proxied, let proxy, let endpoint = HTTP2Endpoint(url: url), proxy.route(to: endpoint) != nil else {
            return (direct, nil)
        }
        return (proxied, proxy)
    }

    /// What went wrong with a request to `url` through `proxy`, when the proxy is the cause;
    /// nil for any other error. AsyncHTTPClient reports a 407 as such but any other refusal
    /// without its status, which the message then says.
    package static func proxyFailure(_ error: any Error, proxy: OutboundProxy?, url: String) -> String? {
        guard let proxy, let e = error as? HTTPClientError else { return nil }
        let target = HTTP2Endpoint(url: url).map { ProxyConnectHandshake.authority(host: $0.host, port: $0.port) } ?? url
        if e == .proxyAuthenticationRequired {
            return proxy.refusal(target: target, answer: "407 Proxy Authentication Required", status: 407)
        }
        if e == .invalidProxyResponse {
            return proxy.refusal(target: target, answer: "not 2xx (AsyncHTTPClient does not report the status)", status: nil)
        }
        if e == .httpProxyHandshakeTimeout { return "proxy \(proxy) did not answer CONNECT \(target) in time" }
        return nil
    }

    package func shutdown() async {
        try? await direct.shutdown()
        try? await proxied?.shutdown()
    }

    package func syncShutdown() {
        try? direct.syncShutdown()
        try? proxied?.syncShutdown()
    }
}
