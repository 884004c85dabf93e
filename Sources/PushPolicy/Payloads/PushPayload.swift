import PushContract

/// An HTTP header field of a push request.
public struct HeaderField: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// The exact bytes of one push request; the sender adds authority and credentials.
public struct PushPayload: Sendable, Hashable {
    /// `POST` or `GET`.
    public var method: String
    /// Request path (APNs `/3/device/<token>`, FCM legacy `/fcm/send`); nil when only the sender
    /// knows it (FCM v1 needs the service account's `project_id`).
    /// For generic pushes, the whole substituted `external-push-uri`.
    public var path: String?
    public var headers: [HeaderField]
    public var body: [UInt8]

    public init(method: String = "POST", path: String?, headers: [HeaderField], body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    /// The first value of header `name`.
    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }
}

/// Why no valid payload could be built.
public struct PayloadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The payload field or input at fault.
    public var field: String
    public var problem: String

    public init(field: String, problem: String) {
        self.field = field
        self.problem = problem
    }

    public var description: String { "\(field): \(problem)" }
}

enum PayloadFitting {
    /// Renders `inputs`, shortening the `shrinkable` fields in order until the body fits in
    /// `limit` bytes. Each step cuts exactly the excess from one field, so it takes at most
    /// `shrinkable.count + 1` renders; a body still too big (e.g. a huge Call-ID) is an error,
    /// never a body cut mid-JSON as Flexisip's 2048-byte buffer did.
    ///
    /// Bodies are written straight into bytes in their fixed key order (so they match Flexisip's
    /// byte for byte): building a value tree first cost an allocation per node on every push.
    /// `JSONWriter` is the one place where payload strings are escaped, so no SIP value can break
    /// out of its string (Flexisip's printf bodies did not escape at all).
    static func render(
        _ inputs: PayloadInputs, limit: Int, shrinking shrinkable: [WritableKeyPath<PayloadInputs, String> & Sendable],
        _ write: (PayloadInputs, inout JSONWriter) -> Void
    ) throws(PayloadError) -> [UInt8] {
        func rendered(_ p: PayloadInputs) -> [UInt8] {
            var w = JSONWriter(capacity: 768)
            write(p, &w)
            return w.bytes
        }
        var p = inputs
        var body = rendered(p)
        for field in shrinkable where body.count > limit {
            let excess = body.count - limit
            let current = JSONEscaping.escapedCount(p[keyPath: field])
            p[keyPath: field] = JSONEscaping.truncated(p[keyPath: field], toEscapedBytes: max(0, current - excess))
            body = rendered(p)
        }
        guard body.count <= limit else {
            throw PayloadError(field: "body", problem: "\(body.count) bytes exceed the \(limit)-byte limit even with variable fields truncated")
        }
        return body
    }
}

/// Flexisip's `send-time`: UTC `YYYY-MM-DD HH:MM:SS`, i.e. the contract's RFC 3339 form
/// without `T`, fraction and `Z` (one calendar implementation for both, in PushContract).
enum SendTime {
    static func format(_ t: EventTime) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(24)
        t.writeRFC3339(into: &text)
        text.removeLast(text.count - 19)
        text[10] = UInt8(ascii: " ")
        return String(decoding: text, as: UTF8.self)
    }
}
