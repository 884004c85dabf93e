/// One request as the transport sends it: pseudo-headers already resolved.
package struct HTTP2Request: Sendable {
    package var method: String
    /// Path and query, starting with `/`.
    package var path: String
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    package init(method: String = "POST", path: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// A complete answer: status, headers and (bounded) body.
package struct HTTP2Response: Sendable {
    package var status: Int
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// First value of `name` (lower-case, as HTTP/2 sends it).
    package func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }
}

/// Why a request got no HTTP answer.
package struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Kind: Sendable, Hashable {
        /// TCP connect failed or timed out.
        case connect
        /// TLS handshake failed (verification, protocol); not retried: it will not heal by itself.
        case tls
        /// The connection closed under the request.
        case closed
        /// The server sent GOAWAY.
        case goAway
        /// The server reset the stream.
        case reset
        /// No answer before the attempt's deadline.
        case timeout
        /// The server broke HTTP/2 (or ALPN did not select h2).
        case protocolViolation
        /// The caller's task was cancelled.
        case cancelled
    }

    package var kind: Kind
    package var message: String
    /// True when the server certainly did not process the request (GOAWAY above its last stream,
    /// REFUSED_STREAM, never written): retrying cannot deliver it twice.
    package var unprocessed: Bool

    package init(_ kind: Kind, _ message: String, unprocessed: Bool = false) {
        self.kind = kind
        self.message = message
        self.unprocessed = unprocessed
    }

    package var description: String { message }
}

/// Largest response body kept: provider answers are a few hundred bytes; anything longer is a
/// broken or hostile server, and the stream is reset rather than buffered.
package let maxResponseBodyBytes = 65_535 - 1
