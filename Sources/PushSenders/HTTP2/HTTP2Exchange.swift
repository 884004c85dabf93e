/// One request as the transport sends it: pseudo-headers already resolved.
package struct HTTP2Request: Sendable {
    package var method: String
    /// Path and query, starting with `/`.
    package var path: String
    package var headers: [(name: String, value: String)]
    /// One more field, already checked: sent after `headers` without being validated again.
    package var checkedField: HTTP2CheckedField?
    package var body: [UInt8]

    package init(method: String = "POST", path: String, headers: [(name: String, value: String)] = [],
                 checkedField: HTTP2CheckedField? = nil, body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.headers = headers
        self.checkedField = checkedField
        self.body = body
    }
}

/// A header field lower-cased and passed through nghttp2's RFC 9113 validators once, for a
/// value that many requests carry unchanged (the APNs `authorization` bearer, ~200 bytes, lives
/// for 50 minutes): re-checking it byte by byte on every request was a visible share of the
/// event loop's time. Immutable, so a checked field cannot be altered after the check.
package struct HTTP2CheckedField: Sendable {
    /// Lower-cased name, then value.
    let bytes: [UInt8]
    let nameCount: Int

    /// Nil when the field is not valid HTTP/2 (the caller then sends it as a plain header,
    /// whose per-request check fails the request with the usual reason).
    package init?(name: String, value: String) {
        var bytes: [UInt8] = []
        guard let ranges = NGHTTP2HeaderBlock.appendChecked(name: name, value: value, to: &bytes) else { return nil }
        self.bytes = bytes
        nameCount = ranges.name.count
    }
}

/// A complete answer: status, headers and (bounded) body.
package struct HTTP2Response: Sendable {
    package var status: Int
    package var body: [UInt8]
    /// The header fields as received, in one byte array: providers answer with several fields
    /// (date, server, apns-id…) that senders mostly never read, and a `String` pair per field
    /// cost the event loop several allocations per response. Decoded only when asked for.
    private var fields: HTTP2ResponseFields

    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        var fields = HTTP2ResponseFields()
        for h in headers { fields.append(name: h.name.utf8, value: h.value.utf8) }
        self.init(status: status, fields: fields, body: body)
    }

    init(status: Int, fields: HTTP2ResponseFields, body: [UInt8]) {
        self.status = status
        self.fields = fields
        self.body = body
    }

    /// Every field, in order (lower-case names, as HTTP/2 sends them).
    package var headers: [(name: String, value: String)] {
        var out: [(name: String, value: String)] = []
        fields.forEach { name, value in
            out.append((name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
        }
        return out
    }

    /// First value of `name` (lower-case, as HTTP/2 sends it).
    package func header(_ name: String) -> String? {
        var found: String?
        fields.forEach { n, value in
            if found == nil, n.elementsEqual(name.utf8) { found = String(decoding: value, as: UTF8.self) }
        }
        return found
    }
}

/// Response header fields packed as `[length][name][length][value]…` (32-bit lengths).
struct HTTP2ResponseFields: Sendable {
    private var bytes: [UInt8] = []
    private(set) var count = 0

    mutating func append(name: some Collection<UInt8>, value: some Collection<UInt8>) {
        appendLength(name.count)
        bytes.append(contentsOf: name)
        appendLength(value.count)
        bytes.append(contentsOf: value)
        count += 1
    }

    private mutating func appendLength(_ n: Int) {
        let n = UInt32(truncatingIfNeeded: n)
        bytes.append(UInt8(truncatingIfNeeded: n >> 24))
        bytes.append(UInt8(truncatingIfNeeded: n >> 16))
        bytes.append(UInt8(truncatingIfNeeded: n >> 8))
        bytes.append(UInt8(truncatingIfNeeded: n))
    }

    func forEach(_ body: (ArraySlice<UInt8>, ArraySlice<UInt8>) -> Void) {
        var i = 0
        func next() -> ArraySlice<UInt8> {
            let n = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            defer { i += 4 + n }
            return bytes[(i + 4)..<(i + 4 + n)]
        }
        while i < bytes.count {
            let name = next()
            body(name, next())
        }
    }
}

/// Why a request got no HTTP answer.
package struct TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    package enum Kind: Sendable, Hashable {
        /// TCP connect failed or timed out.
        case connect
        /// TLS failed in a way that may heal (EOF or reset during the handshake, a protocol
        /// error): retried with backoff.
        case tls
        /// The server's certificate failed verification, or the server refused ours: final for
        /// the push (it will not heal within its lifetime); the pool still tries a new
        /// connection at its reconnect backoff, so a fixed certificate is picked up.
        case untrusted
        /// The pool is waiting out its reconnect backoff and the attempt's deadline came first:
        /// no request was made, so it is no attempt and says nothing about the destination.
        case reconnectWait
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
