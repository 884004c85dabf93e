import PushContract

/// Compact JWS pieces (RFC 7515): base64url without padding.
package enum JWT {
    package static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        var s = Base64.encode(Array(bytes))
        while s.last == "=" { s.removeLast() }
        return String(s.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// The text of a base64url segment (a JWT's header), nil if it is not base64url or UTF-8.
    package static func decodedBase64URL(_ segment: Substring) -> String? {
        var s = String(segment.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        while s.utf8.count % 4 != 0 { s += "=" }
        return Base64.decode(s).flatMap { String(validating: $0, as: UTF8.self) }
    }

    /// `base64url(header).base64url(claims)`, the bytes that get signed.
    package static func signingInput(header: [(String, JSONField)], claims: [(String, JSONField)]) -> String {
        base64URL(json(header).utf8) + "." + base64URL(json(claims).utf8)
    }

    package enum JSONField: Sendable {
        case string(String)
        case int(Int64)
    }

    static func json(_ fields: [(String, JSONField)]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (i, (key, value)) in fields.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONEscaping.appendQuoted(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch value {
            case .string(let s): JSONEscaping.appendQuoted(s, to: &out)
            case .int(let n): out.append(contentsOf: String(n).utf8)
            }
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
