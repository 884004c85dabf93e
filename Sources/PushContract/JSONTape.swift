/// A strict, allocation-light JSON reader (RFC 8259) for contract records.
///
/// Parsing produces a flat "tape" of tokens pointing into the input bytes instead of a tree of
/// values: strings are only materialised for the fields a decoder asks for, which is what makes
/// 200k+ records per second possible. The parser is iterative with an explicit depth limit, so
/// hostile nesting cannot exhaust the stack.
///
/// Strictness: invalid UTF-8 (overlong forms, surrogates, > U+10FFFF), lone `\u` surrogates,
/// raw control characters in strings, leading zeros, trailing garbage and nesting deeper than
/// `maximumDepth` are all rejected. Duplicate member names are detected by the typed readers
/// (`JSONObjectReader`), not here.
package struct JSONTape {
    package static let maximumDepth = 32

    package enum Kind: UInt8 {
        case object, array, string, number, `true`, `false`, null

        /// Name used in "expected X, got Y" problems.
        package var name: String {
            switch self {
            case .object: "object"
            case .array: "array"
            case .string: "string"
            case .number: "number"
            case .true, .false: "boolean"
            case .null: "null"
            }
        }
    }

    package struct Token {
        package var kind: Kind
        /// String: contains backslash escapes. Number: has a fraction or an exponent.
        package var flag: Bool
        /// String: first byte after the opening quote. Others: first byte of the value.
        package var start: Int32
        /// String: offset of the closing quote. Number: one past its last byte.
        package var end: Int32
        /// Tape index just past this value and everything nested in it.
        package var next: Int32
    }

    /// The input; the tape must not outlive it.
    package let bytes: UnsafeRawBufferPointer
    package private(set) var tokens: [Token]

    package init(parsing bytes: UnsafeRawBufferPointer) throws(ContractError) {
        var parser = Parser(bytes)
        try parser.parse()
        self.bytes = bytes
        self.tokens = parser.tokens
    }

    fileprivate static func syntax(_ what: String, at offset: Int) -> ContractError {
        ContractError(field: "$", problem: "invalid JSON at byte \(offset): \(what)")
    }

    /// The parsing state; a struct with mutating methods so the hot loops need no captured
    /// variables (which would cost dynamic exclusivity checks).
    private struct Parser {
        let p: UnsafeRawBufferPointer
        let n: Int
        var i = 0
        var tokens: [Token] = []
        /// Tape index of the innermost open container, -1 at top level. While a container is
        /// open its `next` holds its parent's index, so no separate stack is allocated.
        var open: Int32 = -1
        var depth = 0

        init(_ bytes: UnsafeRawBufferPointer) {
            p = bytes
            n = bytes.count
            tokens.reserveCapacity(min(max(16, n / 12), 8192))
        }

        @inline(__always) mutating func skipWhitespace() {
            while i < n {
                let c = p[i]
                guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
                i += 1
            }
        }

        mutating func parse() throws(ContractError) {
            value: while true {
                skipWhitespace()
                guard i < n else { throw syntax("unexpected end of input", at: i) }
                let c = p[i]
                switch c {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard depth < maximumDepth else {
                        throw syntax("nesting deeper than \(maximumDepth) levels", at: i)
                    }
                    let isObject = c == UInt8(ascii: "{")
                    tokens.append(Token(kind: isObject ? .object : .array, flag: false, start: Int32(i), end: Int32(i), next: open))
                    open = Int32(tokens.count - 1)
                    depth += 1
                    i += 1
                    skipWhitespace()
                    if i < n, p[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        i += 1
                        close()
                    } else {
                        if isObject { try memberName() }
                        continue value
                    }
                case UInt8(ascii: "\""):
                    try string()
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    try number()
                case UInt8(ascii: "t"):
                    try literal("true", .true)
                case UInt8(ascii: "f"):
                    try literal("false", .false)
                case UInt8(ascii: "n"):
                    try literal("null", .null)
                default:
                    throw syntax("unexpected character \(describe(c))", at: i)
                }
                // A value is complete: close containers or move to the next element.
                while open >= 0 {
                    let top = open
                    skipWhitespace()
                    guard i < n else { throw syntax("unexpected end of input", at: i) }
                    let isObject = tokens[Int(top)].kind == .object
                    let d = p[i]
                    if d == UInt8(ascii: ",") {
                        i += 1
                        if isObject {
                            skipWhitespace()
                            try memberName()
                        }
                        continue value
                    }
                    guard d == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                        throw syntax(isObject ? "expected ',' or '}'" : "expected ',' or ']'", at: i)
                    }
                    i += 1
                    close()
                }
                break
            }
            skipWhitespace()
            guard i == n else { throw syntax("unexpected characters after the JSON value", at: i) }
        }

        mutating func close() {
            let top = Int(open)
            open = tokens[top].next
            tokens[top].next = Int32(tokens.count)
            depth -= 1
        }

        /// `"name"` then `:`; leaves `i` at the member's value.
        mutating func memberName() throws(ContractError) {
            guard i < n, p[i] == UInt8(ascii: "\"") else {
                throw syntax("expected a member name in double quotes", at: i)
            }
            try string()
            skipWhitespace()
            guard i < n, p[i] == UInt8(ascii: ":") else { throw syntax("expected ':'", at: i) }
            i += 1
        }

        mutating func literal(_ word: StaticString, _ kind: Kind) throws(ContractError) {
            let count = word.utf8CodeUnitCount
            guard i + count <= n else { throw syntax("invalid literal", at: i) }
            for k in 0..<count where p[i + k] != word.utf8Start[k] { throw syntax("invalid literal", at: i) }
            tokens.append(Token(kind: kind, flag: false, start: Int32(i), end: Int32(i + count), next: Int32(tokens.count + 1)))
            i += count
        }

        @inline(__always) mutating func digits() -> Int {
            let from = i
            while i < n, p[i] &- 48 <= 9 { i += 1 }
            return i - from
        }

        mutating func number() throws(ContractError) {
            let start = i
            if p[i] == UInt8(ascii: "-") { i += 1 }
            let intStart = i
            let intDigits = digits()
            guard intDigits > 0 else { throw syntax("expected digits", at: i) }
            guard intDigits == 1 || p[intStart] != UInt8(ascii: "0") else { throw syntax("leading zero in number", at: intStart) }
            var isPlain = true
            if i < n, p[i] == UInt8(ascii: ".") {
                i += 1
                isPlain = false
                guard digits() > 0 else { throw syntax("expected digits after '.'", at: i) }
            }
            if i < n, p[i] | 0x20 == UInt8(ascii: "e") {
                i += 1
                isPlain = false
                if i < n, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
                guard digits() > 0 else { throw syntax("expected exponent digits", at: i) }
            }
            tokens.append(Token(kind: .number, flag: !isPlain, start: Int32(start), end: Int32(i), next: Int32(tokens.count + 1)))
        }

        /// Validates a string (escapes and UTF-8) starting at its opening quote.
        mutating func string() throws(ContractError) {
            let open = i
            var j = i + 1
            var escaped = false
            while j < n {
                // Eight plain ASCII bytes at a time: no quote, backslash, control or non-ASCII byte.
                while j + 8 <= n {
                    let v = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: j, as: UInt64.self))
                    let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
                    let quote = v ^ (ones &* 0x22), backslash = v ^ (ones &* 0x5C)
                    let special = ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)
                        | (v &- ones &* 0x20) | v
                    guard special & highs == 0 else { break }
                    j += 8
                }
                guard j < n else { break }
                let b = p[j]
                if b == UInt8(ascii: "\"") {
                    tokens.append(Token(kind: .string, flag: escaped, start: Int32(open + 1), end: Int32(j), next: Int32(tokens.count + 1)))
                    i = j + 1
                    return
                }
                if b < 0x80 {
                    if b == UInt8(ascii: "\\") {
                        escaped = true
                        j = try escape(at: j)
                        continue
                    }
                    guard b >= 0x20 else { throw syntax("control character \(describe(b)) in string", at: j) }
                    j += 1
                    continue
                }
                j = try validateUTF8Sequence(p, at: j)
            }
            throw syntax("unterminated string", at: open)
        }

        /// Checks the escape at `j` (a backslash); returns the offset after it.
        func escape(at j: Int) throws(ContractError) -> Int {
            guard j + 1 < n else { throw syntax("unterminated string", at: j) }
            switch p[j + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                 UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                return j + 2
            case UInt8(ascii: "u"):
                guard let unit = hex4(p, j + 2) else { throw syntax("invalid \\u escape", at: j) }
                if (0xDC00...0xDFFF).contains(unit) { throw syntax("lone low surrogate in \\u escape", at: j) }
                guard (0xD800...0xDBFF).contains(unit) else { return j + 6 }
                guard j + 7 < n, p[j + 6] == UInt8(ascii: "\\"), p[j + 7] == UInt8(ascii: "u"),
                      let low = hex4(p, j + 8), (0xDC00...0xDFFF).contains(low)
                else { throw syntax("high surrogate not followed by a low surrogate", at: j) }
                return j + 12
            default:
                throw syntax("invalid escape", at: j)
            }
        }
    }

    private static func hex4(_ p: UnsafeRawBufferPointer, _ at: Int) -> UInt32? {
        guard at + 4 <= p.count else { return nil }
        var value: UInt32 = 0
        for k in at..<(at + 4) {
            let c = p[k]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - 55
            default: return nil
            }
            value = value << 4 | UInt32(d)
        }
        return value
    }

    /// Well-formed UTF-8 per Unicode Table 3-7; returns the offset after the sequence.
    private static func validateUTF8Sequence(_ p: UnsafeRawBufferPointer, at j: Int) throws(ContractError) -> Int {
        let b = p[j]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF
        switch b {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw syntax("invalid UTF-8", at: j)
        }
        guard j + length <= p.count else { throw syntax("truncated UTF-8 sequence", at: j) }
        guard p[j + 1] >= low, p[j + 1] <= high else { throw syntax("invalid UTF-8", at: j) }
        for k in (j + 2)..<(j + length) where p[k] & 0xC0 != 0x80 {
            throw syntax("invalid UTF-8", at: j)
        }
        return j + length
    }

    private static func describe(_ byte: UInt8) -> String {
        byte >= 0x20 && byte < 0x7F ? "'\(Character(Unicode.Scalar(byte)))'" : "0x\(String(byte, radix: 16, uppercase: true))"
    }

    // MARK: Reading values

    package subscript(index: Int) -> Token { tokens[index] }

    /// The raw bytes of a string token (between the quotes, escapes not decoded).
    @inline(__always)
    package func rawBytes(_ token: Token) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[Int(token.start)..<Int(token.end)])
    }

    /// The decoded text of a string token.
    package func string(_ token: Token) -> String {
        guard token.flag else { return String(decoding: rawBytes(token), as: UTF8.self) }
        return String(decoding: unescaped(token), as: UTF8.self)
    }

    /// Calls `body` with the decoded UTF-8 of a string token, copying only if it has escapes.
    package func withStringBytes<R>(_ token: Token, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard token.flag else { return body(rawBytes(token)) }
        return unescaped(token).withUnsafeBytes(body)
    }

    /// Decodes escapes of an already validated string token.
    private func unescaped(_ token: Token) -> [UInt8] {
        let raw = rawBytes(token)
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var j = 0
        while j < raw.count {
            let b = raw[j]
            guard b == UInt8(ascii: "\\") else {
                out.append(b)
                j += 1
                continue
            }
            let e = raw[j + 1]
            j += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = Self.hex4(raw, j)!
                j += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    let low = Self.hex4(raw, j + 2)!
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                }
                UTF8.encode(Unicode.Scalar(scalar)!) { out.append($0) }
            default: out.append(e)  // " \ /
            }
        }
        return out
    }

    /// The number token's text, for messages and the slow path of integer parsing.
    package func text(_ token: Token) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[Int(token.start)..<Int(token.end)]), as: UTF8.self)
    }

    /// An integer-valued number token as Int64; `1.0` and `1e2` count as integers, as in JSON Schema.
    package func integer(_ token: Token) -> IntegerValue {
        if !token.flag {
            var j = Int(token.start)
            let end = Int(token.end)
            let negative = bytes[j] == UInt8(ascii: "-")
            if negative { j += 1 }
            guard end - j <= 19 else { return .outOfRange }
            var value: Int64 = 0
            while j < end {
                let (times10, o1) = value.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(Int64(bytes[j] - 48))
                guard !o1, !o2 else { return .outOfRange }
                value = sum
                j += 1
            }
            return .value(negative ? -value : value)
        }
        guard let d = Double(text(token)) else { return .outOfRange }
        guard d.isFinite, abs(d) < 1e18 else { return .outOfRange }
        guard d == d.rounded(.towardZero) else { return .notInteger }
        return .value(Int64(d))
    }

    package enum IntegerValue {
        case value(Int64)
        case notInteger
        case outOfRange
    }
}
