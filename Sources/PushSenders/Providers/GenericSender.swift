import AsyncHTTPClient
import Foundation
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
    private let http1: ProxiedHTTPClients
    private let pools: PoolRegistry
    private let lanes: LaneRegistry
    private let delivery: Delivery
    /// `$api-key` values, raw and as substituted into the URL (longest first): an outcome's
    /// reason can quote the URL (a gateway's 404 body often does), and outcomes are published.
    private let secrets: [String]

    package init(options: PushNotificationOptions, tls: NIOSSLContext?, http1: ProxiedHTTPClients, pools: PoolRegistry,
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
        let keys = template.variables.contains(.apiKey) ? options.firebaseProjectsAPIKeys.map(\.value).filter { !$0.isEmpty } : []
        secrets = Set(keys + keys.map(GenericPushTemplate.percentEncoded)).sorted { $0.utf8.count > $1.utf8.count }
    }

    /// - Parameter trace: records each request (`$api-key` values redacted from the URL) and answer.
    package func send(_ r: PushRequest, deadline: EventTime, trace: ExchangeTrace? = nil) async -> SendOutcome {
        var outcome = await exchange(r, deadline: deadline, trace: trace)
        outcome.reason = outcome.reason.map(redacted)
        return outcome
    }

    /// `text` with every `$api-key` value replaced by `***`.
    func redacted(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }

    /// A gateway's answer as the trace keeps it: redacted like outcome reasons, since a 404
    /// body often quotes the URL, `$api-key` included.
    private func record(_ trace: ExchangeTrace, status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        let shown = secrets.isEmpty ? body : Array(redacted(String(decoding: body, as: UTF8.self)).utf8)
        trace.received(status: status, headers: headers.map { (name: $0.name, value: redacted($0.value)) }, body: shown)
    }

    private func exchange(_ r: PushRequest, deadline: EventTime, trace: ExchangeTrace?) async -> SendOutcome {
        let payload = template.payload(for: r, options: options)
        let url = payload.path ?? ""
        guard let endpoint = HTTP2Endpoint(url: url) else {
            return SendOutcome(result: .failed, reason: "external-push-uri did not give a URL", provider: "generic")
        }
        guard let lane = lanes.lane("generic:\(endpoint)") else { return lanes.refused("generic:\(endpoint)", provider: "generic") }
        let headers = payload.headers.map { (name: $0.name, value: $0.value) }
        trace?.chose(.generic)
        let shownURL = trace == nil ? "" : redacted(url)
        if http2 {
            let pool = pools.pool("generic|\(endpoint)", endpoint: endpoint) { endpoint.useTLS ? tls : nil }
            let request = HTTP2Request(method: payload.method, path: endpoint.target, headers: headers, body: payload.body)
            return await delivery.run(provider: "generic", lane: lane, deadline: deadline) { _, attemptDeadline, _ in
                trace?.sent(method: payload.method, url: shownURL, headers: headers, body: payload.body)
                switch await pool.execute(request, deadline: attemptDeadline) {
                case .failure(let e): return .transport(e)
                case .success(let response):
                    if let trace { record(trace, status: response.status, headers: response.headers, body: response.body) }
                    return ProviderAnswers.generic(status: response.status, retryAfter: response.header("retry-after"), body: response.body,
                                                   location: response.header("location"))
                }
            }
        }
        let clock = delivery.clock, (http1, proxy) = http1.client(for: url)
        return await delivery.run(provider: "generic", lane: lane, deadline: deadline) { _, attemptDeadline, _ in
            var request = HTTPClientRequest(url: url)
            request.method = HTTPMethod(rawValue: payload.method)
            for h in headers { request.headers.add(name: h.name, value: h.value) }
            if !payload.body.isEmpty { request.body = .bytes(ByteBuffer(bytes: payload.body)) }
            let remaining = max(1, attemptDeadline.millisecondsSince1970 - clock.now().millisecondsSince1970)
            let prepared = request
            trace?.sent(method: payload.method, url: shownURL, headers: headers, body: payload.body)
            do {
                // AHC's deadline covers the head only: the body read is bounded by the same attempt deadline.
                let answer = try await Deadline.run(until: attemptDeadline, clock: clock) {
                    let response = try await http1.execute(prepared, timeout: .milliseconds(remaining))
                    let body = try await response.body.collect(upTo: maxResponseBodyBytes)
                    return (response.status.code, response.headers, Array(body.readableBytesView))
                }
                guard let (status, headers, body) = answer else {
                    return .transport(TransportError(.timeout, "no complete answer before the deadline"))
                }
                if let trace { record(trace, status: Int(status), headers: headers.map { (name: $0.name, value: $0.value) }, body: body) }
                return ProviderAnswers.generic(status: Int(status), retryAfter: headers.first(name: "retry-after"), body: body,
                                               location: headers.first(name: "location"))
            } catch {
                if let why = ProxiedHTTPClients.proxyFailure(error, proxy: proxy, url: url) {
                    return .transport(TransportError(.connect, why, unprocessed: true))
                }
                var e = Self.map(error)
                if let proxy { e.message += " (through proxy \(proxy))" }
                return .transport(e)
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
