import PushPolicy
import Testing

/// Hostile-input property: whatever the text, parsing returns a filter or a FilterSyntaxError
/// with a column inside the text, and evaluation returns. libFuzzer goes further
/// (fuzz/filter/run.sh); this runs in CI.
@Suite("Filter property")
struct FilterPropertyTests {
    /// SplitMix64: deterministic, so a failure is reproducible from its index.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let vocabulary: [String] = [
        "(", ")", "&&", "||", "!", "==", "!=", "&", "|", "=", " ", "'", "''", "'a b'", "'INVITE'",
        "'.*'", "'(a|a)*b'", "'[^'", "'\\\\'", "contains", "in", "notin", "nin", "defined", "numeric",
        "regex", "regexp", "true", "false", "is_request", "is_response", "\t", "é", "\u{0}", "\"",
    ] + FilterVariable.allCases.map(\.name)

    static let subjects = [
        DictionarySubject([.direction: "request", .requestMethod: "INVITE", .userAgent: "a b 'c' (d)"]),
        DictionarySubject([.direction: "response", .statusCode: "486", .callID: String(repeating: "a", count: 300)]),
    ]

    static func randomText(_ rng: inout Generator, kind: UInt64) -> String {
        if kind % 100 == 1 {  // deep nesting of one opener, sometimes closed (500 inputs)
            let opener = ["(", "!", "!(", "( "].randomElement(using: &rng)!
            let n = Int.random(in: 1...10_000, using: &rng)
            let closed = Bool.random(using: &rng)
            return String(repeating: opener, count: n) + "true" + (closed ? String(repeating: ")", count: n) : "")
        }
        switch kind % 10 {
        case 0:  // raw bytes, repaired as the config loader would
            let bytes = (0..<Int.random(in: 0...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            return String(decoding: bytes, as: UTF8.self)
        case 2:  // regex patterns made of regex syntax
            let pieces = ["a", "(", ")", "|", "*", "+", "?", "{2}", "{1,", "}", "[", "]", "^", "$", "\\", "\\d", ".", "-", "(?:"]
            let pattern = (0..<Int.random(in: 0...24, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            return "user-agent regex '\(pattern)'"
        default:  // token soup
            return (0..<Int.random(in: 0...30, using: &rng)).map { _ in
                vocabulary.randomElement(using: &rng)!
            }.joined(separator: Bool.random(using: &rng) ? " " : "")
        }
    }

    @Test func randomInputsParseOrThrowAndEvaluate() {
        var rng = Generator(state: 0x5EED)
        var parsed = 0, rejected = 0
        let start = ContinuousClock.now
        for index in 0..<50_000 {
            let text = Self.randomText(&rng, kind: UInt64(index))
            do {
                let filter = try FilterExpression(parsing: text)
                for subject in Self.subjects { _ = filter.evaluate(subject) }
                parsed += 1
            } catch {
                let limit = text.unicodeScalars.count + 1
                if !(1...limit).contains(error.column) {
                    Issue.record("input #\(index): column \(error.column) outside 1...\(limit)")
                }
                rejected += 1
            }
        }
        #expect(parsed + rejected == 50_000)
        // Both outcomes must be exercised, or the generator is not testing anything.
        #expect(parsed > 1_000)
        #expect(rejected > 1_000)
        // Generous for a loaded debug build; about 2 s on a quiet one.
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}
