import PushContract
/// A JSON value laid out in a fixed key order, so bodies match Flexisip's byte for byte.
///
/// The one place where payload strings are escaped: every builder goes through it, so no SIP
/// value can break out of its string (Flexisip's printf bodies did not escape at all).
package indirect enum JSONValue: Sendable {
    case string(String)
    case int(Int)
    case array([JSONValue])
    case object([(String, JSONValue)])

    package func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        write(into: &out)
        return out
    }

    package func write(into out: inout [UInt8]) {
        switch self {
        case .string(let s):
            JSONEscaping.appendQuoted(s, to: &out)
        case .int(let n):
            out.append(contentsOf: String(n).utf8)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (i, item) in items.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                item.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, member) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONEscaping.appendQuoted(member.0, to: &out)
                out.append(UInt8(ascii: ":"))
                member.1.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }
}
