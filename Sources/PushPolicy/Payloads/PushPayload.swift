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
    static func render(
        _ inputs: PayloadInputs, limit: Int, shrinking shrinkable: [WritableKeyPath<PayloadInputs, String>],
        _ build: (PayloadInputs) -> JSONValue
    ) throws(PayloadError) -> [UInt8] {
        var p = inputs
        var body = build(p).serialized()
        for field in shrinkable where body.count > limit {
            let excess = body.count - limit
            let current = JSONEscaping.escapedCount(p[keyPath: field])
            p[keyPath: field] = JSONEscaping.truncated(p[keyPath: field], toEscapedBytes: max(0, current - excess))
            body = build(p).serialized()
        }
        guard body.count <= limit else {
            throw PayloadError(field: "body", problem: "\(body.count) bytes exceed the \(limit)-byte limit even with variable fields truncated")
        }
        return body
    }
}

/// Flexisip's `send-time`: UTC `YYYY-MM-DD HH:MM:SS`.
enum SendTime {
    static func format(_ t: EventTime) -> String {
        // Floor divisions written so that no input, however extreme, can overflow and trap.
        let ms = t.millisecondsSince1970
        let seconds = ms / 1000 - (ms % 1000 < 0 ? 1 : 0)
        var days = seconds / 86_400
        var secondOfDay = seconds % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
    }

    private static func pad(_ n: Int64, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
