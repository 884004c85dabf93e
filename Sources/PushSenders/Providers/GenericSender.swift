import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL
import PushContract
import PushPolicy

/// `external-push-uri`: one templated request per push, over HTTP/2 (our transport) or
/// HTTP/1.1 (AsyncHTTPClient: legacy gateways are low volume). Replaces every other sender.
package final class GenericSender: Sendable {
    private let template: GenericPushTemplate
    private let options: PushNotificationOptions
    private let http2: Bool
    private let tls: NIOSSLContext?
    private let http1: HTTPClient
    private let pools: PoolRegistry
    private let lanes: LaneRegistry
    private let delivery: Delivery

    package init(options: PushNotificationOptions, tls: NIOSSLContext?, http1: HTTPClient, pools: PoolRegistry,
                 lanes: LaneRegistry, delivery: Delivery) throws(SenderConfigError) {
        do {
            template = try GenericPushTemplate(uri: options.externalPushURI, method: options.externalPushMethod)
        } catch {
            throw SenderConfigError(key: "external-push-uri", value: options.externalPushURI, problem: error.problem)
        }
        guard HTTP2Endpoint(url: options.externalPushURI.replacingVariables) != nil else {
            throw SenderConfigError(key: "external-push-uri", value: options.externalPushURI, problem: "not an http(s) URL")
        }
        self.options = options
        http2 = options.externalPushProtocol == .http2
        self.tls = tls
        self.http1 = http1
        self.pools = pools
        self.lanes = lanes
        self.delivery = delivery
    }

    package func send(_ r: PushRequest, deadline: EventTime) async -> SendOutcome {
        let payload = template.payload(for: r, options: options)
        let url = payload.path ?? ""
        guard let endpoint = HTTP2Endpoint(url: url) else {
            return SendOutcome(result: .failed, reason: "external-push-uri did not give a URL", provider: "generic")
        }
        let lane = lanes.lane("generic:\(endpoint)")
        let headers = payload.headers.map { (name: $0.name, value: $0.value) }
        if http2 {
            let pool = pools.pool("generic|\(endpoint)", endpoint: endpoint) { endpoint.useTLS ? tls : nil }
            let request = HTTP2Request(method: payload.method, path: endpoint.target, headers: headers, body: payload.body)
            return await delivery.run(provider: "generic", lane: lane, deadline: deadline) { _, attemptDeadline, _ in
                switch await pool.execute(request, deadline: attemptDeadline) {
                case .failure(let e): return .transport(e)
                case .success(let response):
                    return ProviderAnswers.generic(status: response.status, retryAfter: response.header("retry-after"), body: response.body)
                }
            }
        }
        let clock = delivery.clock
        return await delivery.run(provider: "generic", lane: lane, deadline: deadline) { _, attemptDeadline, _ in
            var request = HTTPClientRequest(url: url)
            request.method = HTTPMethod(rawValue: payload.method)
            for h in headers { request.headers.add(name: h.name, value: h.value) }
            if !payload.body.isEmpty { request.body = .bytes(ByteBuffer(bytes: payload.body)) }
            let remaining = max(1, attemptDeadline.millisecondsSince1970 - clock.now().millisecondsSince1970)
            do {
                let response = try await http1.execute(request, timeout: .milliseconds(remaining))
                let body = try await response.body.collect(upTo: maxResponseBodyBytes)
                return ProviderAnswers.generic(status: Int(response.status.code), retryAfter: response.headers.first(name: "retry-after"),
                                               body: Array(body.readableBytesView))
            } catch {
                return .transport(Self.map(error))
            }
        }
    }

    static func map(_ error: any Error) -> TransportError {
        if let e = error as? HTTPClientError {
            if e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
                return TransportError(.timeout, "no answer before the deadline")
            }
            if e == .remoteConnectionClosed { return TransportError(.closed, "connection closed by the server") }
            if e == .cancelled { return TransportError(.cancelled, "cancelled") }
        }
        if error is NIOSSLError || error is BoringSSLError { return TLSFailure.classify(error) }
        return TransportError(.connect, "HTTP/1.1 request failed: \(error)")
    }
}

extension String {
    /// The template with each `$variable` replaced by `x`, to check the URL shape at start-up.
    var replacingVariables: String {
        var out = ""
        var chars = Substring(self)
        while let c = chars.first {
            if c == "$" {
                chars = chars.dropFirst()
                while let n = chars.first, n.isLetter || n == "-" { chars = chars.dropFirst() }
                out += "x"
            } else {
                out.append(c)
                chars = chars.dropFirst()
            }
        }
        return out
    }
}
