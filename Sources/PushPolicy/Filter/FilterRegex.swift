/// The `regex`/`regexp` operator's pattern: an ECMAScript subset matched in linear time.
///
/// Flexisip compiles the constant with `std::regex` (ECMAScript, `regex_match`: the whole value
/// must match). A backtracking engine — `std::regex` or Swift's `Regex` — can take exponential
/// time on a pattern like `(a|a)*b` against a hostile 40-byte User-Agent, and offers no step
/// limit. This engine compiles to a Thompson NFA and simulates it with a set of states, so a
/// match costs at most `value length × program size` steps whatever the input, with no
/// recursion at match time. Program size is capped at `maxProgramSize`.
///
/// Supported: literals, `.`, `[...]`/`[^...]` with ranges and `\d\w\s\D\W\S`, `^`, `$`, `\b`,
/// `\B`, groups `(...)`/`(?:...)`, `|`, `*`, `+`, `?`, `{n}`, `{n,}`, `{n,m}` (lazy `?` suffix
/// accepted; it cannot change a whole-match answer), escapes `\n\r\t\f\v\0\xHH\uHHHH` and
/// escaped punctuation. Rejected with an error (rather than misread): backreferences,
/// lookaround, named groups.
struct FilterRegex: Sendable, Hashable {
    struct Error: Swift.Error, Sendable, Hashable {
        /// 0-based offset in the pattern, in Unicode scalars.
        var offset: Int
        var message: String
    }

    static let maxProgramSize = 4096
    static let maxRepeat = 1000
    static let maxDepth = 64

    let pattern: String
    private let program: [Instruction]

    init(_ pattern: String) throws(Error) {
        self.pattern = pattern
        var parser = RegexParser(Array(pattern.unicodeScalars))
        let node = try parser.parseWhole()
        guard node.size <= Self.maxProgramSize else {
            throw Error(offset: 0, message: "pattern compiles to more than \(Self.maxProgramSize) states")
        }
        var compiler = RegexCompiler()
        compiler.emit(node)
        compiler.program.append(.match)
        program = compiler.program
    }

    static func == (lhs: FilterRegex, rhs: FilterRegex) -> Bool { lhs.pattern == rhs.pattern }
    func hash(into hasher: inout Hasher) { hasher.combine(pattern) }

    /// True when the whole of `text` matches (`std::regex_match`).
    func wholeMatch(_ text: String) -> Bool {
        let input = Array(text.unicodeScalars)
        var current: [Int] = []
        var next: [Int] = []
        var marks = [Int](repeating: -1, count: program.count)
        var stack: [Int] = []
        current.reserveCapacity(program.count)
        next.reserveCapacity(program.count)

        // Follows jumps, splits and assertions from `start` at `position`; collects the states
        // that consume a scalar (or accept). `marks` keeps each state once per position, which
        // is what makes empty loops like `(a*)*` terminate.
        func addClosure(_ start: Int, at position: Int, into list: inout [Int]) {
            stack.append(start)
            while let pc = stack.popLast() {
                guard marks[pc] != position else { continue }
                marks[pc] = position
                switch program[pc] {
                case .jump(let target):
                    stack.append(target)
                case .split(let first, let second):
                    stack.append(second)
                    stack.append(first)
                case .assertStart:
                    if position == 0 { stack.append(pc + 1) }
                case .assertEnd:
                    if position == input.count { stack.append(pc + 1) }
                case .boundary(let wanted):
                    let before = position > 0 && Self.isWord(input[position - 1])
                    let after = position < input.count && Self.isWord(input[position])
                    if (before != after) == wanted { stack.append(pc + 1) }
                case .scalar, .any, .set, .match:
                    list.append(pc)
                }
            }
        }

        addClosure(0, at: 0, into: &current)
        for (position, c) in input.enumerated() {
            if current.isEmpty { return false }
            next.removeAll(keepingCapacity: true)
            for pc in current {
                let consumes: Bool
                switch program[pc] {
                case .scalar(let s): consumes = s == c
                case .any: consumes = !Self.isLineTerminator(c)
                case .set(let set): consumes = set.contains(c)
                default: consumes = false
                }
                if consumes { addClosure(pc + 1, at: position + 1, into: &next) }
            }
            swap(&current, &next)
        }
        return current.contains { if case .match = program[$0] { true } else { false } }
    }

    static func isWord(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x5F: true
        default: false
        }
    }

    static func isLineTerminator(_ c: Unicode.Scalar) -> Bool {
        c == "\n" || c == "\r" || c.value == 0x2028 || c.value == 0x2029
    }
}

/// One NFA state.
private enum Instruction: Sendable {
    case scalar(Unicode.Scalar)
    case any
    case set(RegexCharSet)
    case jump(Int)
    case split(Int, Int)
    case assertStart, assertEnd
    /// `\b` when true, `\B` when false.
    case boundary(Bool)
    case match
}

/// A bracket expression or class escape. Classes are ASCII, as `std::regex` in the C locale.
struct RegexCharSet: Sendable, Hashable {
    enum Item: Sendable, Hashable {
        case range(UInt32, UInt32)
        case digit(negated: Bool)
        case word(negated: Bool)
        case space(negated: Bool)
    }

    var items: [Item]
    var negated: Bool

    func contains(_ c: Unicode.Scalar) -> Bool {
        var found = false
        for item in items {
            switch item {
            case .range(let lo, let hi): found = lo <= c.value && c.value <= hi
            case .digit(let n): found = (c.value >= 0x30 && c.value <= 0x39) != n
            case .word(let n): found = FilterRegex.isWord(c) != n
            case .space(let n): found = RegexCharSet.isSpace(c) != n
            }
            if found { break }
        }
        return found != negated
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c == " " || (c.value >= 0x09 && c.value <= 0x0D)
    }
}

private indirect enum RegexNode {
    case empty
    case scalar(Unicode.Scalar)
    case any
    case set(RegexCharSet)
    case assertStart, assertEnd
    case boundary(Bool)
    case concat([RegexNode])
    case alternation([RegexNode])
    case repetition(RegexNode, min: Int, max: Int?)

    /// Instructions this node compiles to; saturates so that nested counts cannot overflow.
    var size: Int {
        let cap = FilterRegex.maxProgramSize + 1
        switch self {
        case .empty: return 0
        case .scalar, .any, .set, .assertStart, .assertEnd, .boundary: return 1
        case .concat(let parts): return parts.reduce(0) { min(cap, $0 + $1.size) }
        case .alternation(let parts): return parts.reduce(0) { min(cap, $0 + $1.size + 2) }
        case .repetition(let body, let lo, let hi):
            let copies = max(1, hi ?? (lo + 1))
            return min(cap, copies * (body.size + 2))
        }
    }
}

private struct RegexCompiler {
    var program: [Instruction] = []

    /// Recursion depth is bounded by the parser's group depth limit.
    mutating func emit(_ node: RegexNode) {
        switch node {
        case .empty: break
        case .scalar(let c): program.append(.scalar(c))
        case .any: program.append(.any)
        case .set(let set): program.append(.set(set))
        case .assertStart: program.append(.assertStart)
        case .assertEnd: program.append(.assertEnd)
        case .boundary(let wanted): program.append(.boundary(wanted))
        case .concat(let parts):
            for part in parts { emit(part) }
        case .alternation(let parts):
            var exits: [Int] = []
            for (index, part) in parts.enumerated() {
                if index == parts.count - 1 {
                    emit(part)
                } else {
                    let split = program.count
                    program.append(.split(split + 1, -1))
                    emit(part)
                    exits.append(program.count)
                    program.append(.jump(-1))
                    program[split] = .split(split + 1, program.count)
                }
            }
            for exit in exits { program[exit] = .jump(program.count) }
        case .repetition(let body, let lo, let hi):
            for _ in 0..<lo { emit(body) }
            if let hi {
                var splits: [Int] = []
                for _ in lo..<hi {
                    splits.append(program.count)
                    program.append(.split(program.count + 1, -1))
                    emit(body)
                }
                for split in splits { program[split] = .split(split + 1, program.count) }
            } else {
                let loop = program.count
                program.append(.split(loop + 1, -1))
                emit(body)
                program.append(.jump(loop))
                program[loop] = .split(loop + 1, program.count)
            }
        }
    }
}

private struct RegexParser {
    let scalars: [Unicode.Scalar]
    var i = 0
    var depth = 0

    init(_ scalars: [Unicode.Scalar]) { self.scalars = scalars }

    var peek: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }

    func fail(_ message: String, at offset: Int? = nil) -> FilterRegex.Error {
        FilterRegex.Error(offset: offset ?? i, message: message)
    }

    mutating func parseWhole() throws(FilterRegex.Error) -> RegexNode {
        let node = try parseAlternation()
        if peek == ")" { throw fail("unmatched ')' in regex") }
        return node
    }

    mutating func parseAlternation() throws(FilterRegex.Error) -> RegexNode {
        var branches = [try parseConcat()]
        while peek == "|" {
            i += 1
            branches.append(try parseConcat())
        }
        return branches.count == 1 ? branches[0] : .alternation(branches)
    }

    mutating func parseConcat() throws(FilterRegex.Error) -> RegexNode {
        var parts: [RegexNode] = []
        while let c = peek, c != "|", c != ")" {
            let atomStart = i
            let atom = try parseAtom()
            parts.append(try parseQuantifiers(atom, atomStart: atomStart))
        }
        return parts.count == 1 ? parts[0] : .concat(parts)
    }

    /// At most one quantifier per atom (ECMAScript: `a**` is "nothing to repeat"), so
    /// repetitions nest only through groups, whose depth is limited.
    mutating func parseQuantifiers(_ atom: RegexNode, atomStart: Int) throws(FilterRegex.Error) -> RegexNode {
        guard let c = peek, c == "*" || c == "+" || c == "?" || (c == "{" && quantifierBraceAhead()) else {
            return atom
        }
        switch atom {
        case .assertStart, .assertEnd, .boundary:
            throw fail("nothing to repeat before '\(c)'")
        default: break
        }
        let bounds: (Int, Int?)
        switch c {
        case "*": bounds = (0, nil); i += 1
        case "+": bounds = (1, nil); i += 1
        case "?": bounds = (0, 1); i += 1
        default: bounds = try parseBraces()
        }
        if peek == "?" { i += 1 }  // lazy: same set of whole matches
        let node = RegexNode.repetition(atom, min: bounds.0, max: bounds.1)
        if node.size > FilterRegex.maxProgramSize {
            throw fail("pattern compiles to more than \(FilterRegex.maxProgramSize) states", at: atomStart)
        }
        return node
    }

    func quantifierBraceAhead() -> Bool {
        var j = i + 1
        while j < scalars.count, Self.isDigit(scalars[j]) { j += 1 }
        return j > i + 1 && j < scalars.count && (scalars[j] == "}" || scalars[j] == ",")
    }

    static func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }

    mutating func parseBraces() throws(FilterRegex.Error) -> (Int, Int?) {
        let open = i
        i += 1
        let lo = try parseNumber()
        var hi: Int? = lo
        if peek == "," {
            i += 1
            hi = peek == "}" ? nil : try parseNumber()
        }
        guard peek == "}" else { throw fail("malformed {n,m} quantifier", at: open) }
        i += 1
        if let hi, hi < lo { throw fail("{n,m} quantifier with n > m", at: open) }
        if lo > FilterRegex.maxRepeat || (hi ?? 0) > FilterRegex.maxRepeat {
            throw fail("repeat count above \(FilterRegex.maxRepeat)", at: open)
        }
        return (lo, hi)
    }

    mutating func parseNumber() throws(FilterRegex.Error) -> Int {
        var value = 0
        var digits = 0
        while let c = peek, Self.isDigit(c) {
            value = min(value * 10 + Int(c.value - 0x30), 1_000_000)
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw fail("malformed {n,m} quantifier") }
        return value
    }

    mutating func parseAtom() throws(FilterRegex.Error) -> RegexNode {
        let start = i
        let c = scalars[i]
        i += 1
        switch c {
        case ".": return .any
        case "^": return .assertStart
        case "$": return .assertEnd
        case "*", "+", "?": throw fail("nothing to repeat before '\(c)'", at: start)
        case "{": throw fail("'{' does not start a valid quantifier", at: start)
        case "[": return .set(try parseBracket())
        case "(":
            depth += 1
            guard depth <= FilterRegex.maxDepth else {
                throw fail("groups nested deeper than \(FilterRegex.maxDepth)", at: start)
            }
            if peek == "?" {
                guard i + 1 < scalars.count, scalars[i + 1] == ":" else {
                    throw fail("only (?:...) groups are supported (no lookaround or named groups)", at: start)
                }
                i += 2
            }
            let inner = try parseAlternation()
            guard peek == ")" else { throw fail("'(' is never closed", at: start) }
            i += 1
            depth -= 1
            return inner
        case "\\": return try parseEscape(inClass: false)
        default: return .scalar(c)
        }
    }

    /// Parses after `\`; returns a scalar, a class or (outside brackets) an assertion.
    mutating func parseEscape(inClass: Bool) throws(FilterRegex.Error) -> RegexNode {
        let start = i - 1
        guard let c = peek else { throw fail("pattern ends with '\\'", at: start) }
        i += 1
        switch c {
        case "d": return .set(RegexCharSet(items: [.digit(negated: false)], negated: false))
        case "D": return .set(RegexCharSet(items: [.digit(negated: true)], negated: false))
        case "w": return .set(RegexCharSet(items: [.word(negated: false)], negated: false))
        case "W": return .set(RegexCharSet(items: [.word(negated: true)], negated: false))
        case "s": return .set(RegexCharSet(items: [.space(negated: false)], negated: false))
        case "S": return .set(RegexCharSet(items: [.space(negated: true)], negated: false))
        case "b": return inClass ? .scalar("\u{8}") : .boundary(true)
        case "B":
            if inClass { throw fail("\\B is not allowed in a bracket expression", at: start) }
            return .boundary(false)
        case "n": return .scalar("\n")
        case "r": return .scalar("\r")
        case "t": return .scalar("\t")
        case "f": return .scalar("\u{C}")
        case "v": return .scalar("\u{B}")
        case "0": return .scalar("\0")
        case "x": return .scalar(try parseHex(count: 2, escapeStart: start))
        case "u": return .scalar(try parseHex(count: 4, escapeStart: start))
        case "1"..."9": throw fail("backreferences are not supported", at: start)
        default:
            let isAlnum = FilterRegex.isWord(c) && c != "_"
            if isAlnum { throw fail("unknown escape '\\\(c)'", at: start) }
            return .scalar(c)
        }
    }

    mutating func parseHex(count: Int, escapeStart: Int) throws(FilterRegex.Error) -> Unicode.Scalar {
        var value: UInt32 = 0
        for _ in 0..<count {
            guard let c = peek, c.isASCII, let digit = UInt32(String(c), radix: 16) else {
                throw fail("malformed hexadecimal escape", at: escapeStart)
            }
            value = value << 4 | digit
            i += 1
        }
        guard let scalar = Unicode.Scalar(value) else { throw fail("escape is not a Unicode scalar", at: escapeStart) }
        return scalar
    }

    mutating func parseBracket() throws(FilterRegex.Error) -> RegexCharSet {
        let open = i - 1
        var set = RegexCharSet(items: [], negated: false)
        if peek == "^" { set.negated = true; i += 1 }
        // ECMAScript: `]` always closes, so `[]` matches nothing and `[^]` any scalar.
        while true {
            guard let c = peek else { throw fail("'[' is never closed", at: open) }
            if c == "]" { i += 1; break }
            let lo = try parseClassAtom()
            if peek == "-", i + 1 < scalars.count, scalars[i + 1] != "]" {
                let dash = i
                i += 1
                let hi = try parseClassAtom()
                guard case .range(let a, _) = lo, case .range(let b, _) = hi else {
                    throw fail("a class like \\d cannot bound a range", at: dash)
                }
                guard a <= b else { throw fail("range out of order in bracket expression", at: dash) }
                set.items.append(.range(a, b))
            } else {
                set.items.append(lo)
            }
        }
        return set
    }

    mutating func parseClassAtom() throws(FilterRegex.Error) -> RegexCharSet.Item {
        let c = scalars[i]
        i += 1
        guard c == "\\" else { return .range(c.value, c.value) }
        switch try parseEscape(inClass: true) {
        case .scalar(let s): return .range(s.value, s.value)
        case .set(let set): return set.items[0]
        default: throw fail("invalid escape in bracket expression", at: i - 2)
        }
    }
}
