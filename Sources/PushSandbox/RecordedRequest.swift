public import Foundation

/// One request as a sandbox server received it, for assertions.
public struct RecordedRequest: Sendable, Hashable {
    public var method: String
    public var path: String
    /// HTTP/2 pseudo-headers excluded, in arrival order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// "2" or "1.1".
    public var httpVersion: String
    /// APNs: UID of the client certificate, if the connection used mutual TLS.
    public var clientCertificateTopic: String?
    public var receivedAt: Date

    public init(
        method: String, path: String, headers: [(name: String, value: String)], body: [UInt8],
        httpVersion: String, clientCertificateTopic: String? = nil, receivedAt: Date = Date()
    ) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        self.httpVersion = httpVersion
        self.clientCertificateTopic = clientCertificateTopic
        self.receivedAt = receivedAt
    }

    /// The first value of header `name`, compared case-insensitively (HTTP/2 sends lower case, HTTP/1.1 may not).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
    }

    /// The body as UTF-8 text, for readable assertions.
    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    // Tuples are not Hashable, hence the hand-written conformance.
    public static func == (lhs: RecordedRequest, rhs: RecordedRequest) -> Bool {
        lhs.method == rhs.method && lhs.path == rhs.path && lhs.body == rhs.body
            && lhs.httpVersion == rhs.httpVersion && lhs.clientCertificateTopic == rhs.clientCertificateTopic
            && lhs.receivedAt == rhs.receivedAt && lhs.headers.count == rhs.headers.count
            && zip(lhs.headers, rhs.headers).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method)
        hasher.combine(path)
        hasher.combine(body)
        hasher.combine(httpVersion)
        hasher.combine(clientCertificateTopic)
        hasher.combine(receivedAt)
        for header in headers {
            hasher.combine(header.name)
            hasher.combine(header.value)
        }
    }
}
