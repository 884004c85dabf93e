/// RFC 8259 string escaping, plus size-aware truncation that never splits a character or an
/// escape sequence.
package enum JSONEscaping {
    private static let hex = Array("0123456789abcdef".utf8)

    package static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            // Runs of bytes that need no escape are copied at once; this writes every state
            // record (with its base64 event) and outcome.
            var runStart = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
                appendEscaped(b, to: &out)
                runStart = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Bytes ≥ 0x80 are parts of valid UTF-8 sequences (Swift strings are valid UTF-8) and are
    /// copied as is; only `"`, `\` and controls need escapes.
    @inline(__always)
    package static func appendEscaped(_ b: UInt8, to out: inout [UInt8]) {
        switch b {
        case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
        case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case 0x00..<0x20:
            out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
        default: out.append(b)
        }
    }

    /// Bytes `s` takes inside a JSON string, quotes excluded.
    package static func escapedCount(_ s: String) -> Int {
        s.utf8.reduce(0) { $0 + escapedCount($1) }
    }

    package static func escapedCount(_ b: UInt8) -> Int {
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), 0x0A, 0x0D, 0x09: 2
        case 0x00..<0x20: 6
        default: 1
        }
    }

    /// The longest prefix of `s`, whole Unicode scalars only, whose escaped form fits in `limit`
    /// bytes; scalars (not grapheme clusters) keep the walk linear on hostile combining runs.
    package static func truncated(_ s: String, toEscapedBytes limit: Int) -> String {
        var used = 0
        var view = String.UnicodeScalarView()
        for scalar in s.unicodeScalars {
            var size = 0
            for b in UTF8.encode(scalar)! { size += escapedCount(b) }
            if used + size > limit { break }
            used += size
            view.append(scalar)
        }
        return String(view)
    }
}
