import PushPolicy
import Testing

@Suite("Filter regex")
struct FilterRegexTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var pattern: String
        var value: String
        var matches: Bool
        var testDescription: String { "'\(pattern)' ~ '\(value)'" }
    }

    @Test(arguments: [
        Case(pattern: "abc", value: "abc", matches: true),
        Case(pattern: "abc", value: "abcd", matches: false),  // whole match, not search
        Case(pattern: "b", value: "abc", matches: false),
        Case(pattern: ".*b.*", value: "abc", matches: true),
        Case(pattern: "^abc$", value: "abc", matches: true),
        Case(pattern: "a|b|c", value: "b", matches: true),
        Case(pattern: "ab|cd", value: "abd", matches: false),
        Case(pattern: "(ab)+", value: "ababab", matches: true),
        Case(pattern: "(?:ab)*c", value: "c", matches: true),
        Case(pattern: "a?b", value: "b", matches: true),
        Case(pattern: "a{2}", value: "aa", matches: true),
        Case(pattern: "a{2}", value: "aaa", matches: false),
        Case(pattern: "a{2,}", value: "aaaaa", matches: true),
        Case(pattern: "a{2,3}", value: "aaaa", matches: false),
        Case(pattern: "a{1,2}?b", value: "aab", matches: true),
        Case(pattern: "[a-c]+", value: "abcabc", matches: true),
        Case(pattern: "[^a-c]+", value: "xyz", matches: true),
        Case(pattern: "[^a-c]+", value: "xaz", matches: false),
        Case(pattern: "[]", value: "", matches: false),
        Case(pattern: "[^]", value: "é", matches: true),
        Case(pattern: "[\\d.]+", value: "5.2.1", matches: true),
        Case(pattern: "\\d+", value: "0123", matches: true),
        Case(pattern: "\\D", value: "1", matches: false),
        Case(pattern: "\\w+", value: "a_B9", matches: true),
        Case(pattern: "\\W", value: "-", matches: true),
        Case(pattern: "\\s\\S", value: "\tx", matches: true),
        Case(pattern: "\\.", value: "x", matches: false),
        Case(pattern: "a\\.b", value: "a.b", matches: true),
        Case(pattern: "\\bab\\b.*", value: "ab cd", matches: true),
        Case(pattern: "a\\Bb", value: "ab", matches: true),
        Case(pattern: "a\\bb", value: "ab", matches: false),
        Case(pattern: "\\x41\\u00e9", value: "Aé", matches: true),
        Case(pattern: ".", value: "\n", matches: false),
        Case(pattern: ".", value: "é", matches: true),  // scalars, not bytes (std::regex: bytes)
        Case(pattern: "a}b]", value: "a}b]", matches: true),
        Case(pattern: "(a*)*", value: "aaaa", matches: true),
        Case(pattern: "(|a)+", value: "aa", matches: true),
        Case(pattern: "x*", value: "", matches: true),
    ])
    func semantics(_ c: Case) throws {
        let subject = DictionarySubject([.userAgent: c.value])
        #expect(try eval("user-agent regex '\(c.pattern)'", subject) == c.matches)
    }

    /// Patterns that make backtracking engines take exponential time finish at once here.
    @Test(arguments: ["(a|a)*b", "(a*)*b", "(a+)+b", "(.*a){20}", "(a|aa)*c", "(\\w+\\s?)*$x"])
    func catastrophicPatternsStayLinear(_ pattern: String) throws {
        let filter = try FilterExpression(parsing: "user-agent regex '\(pattern)'")
        let hostile = String(repeating: "a", count: 5_000) + "!"
        let start = ContinuousClock.now
        #expect(!filter.evaluate(DictionarySubject([.userAgent: hostile])))
        #expect(ContinuousClock.now - start < .seconds(2))
    }
}
