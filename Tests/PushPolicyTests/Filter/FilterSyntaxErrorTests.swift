import PushPolicy
import Testing

@Suite("Filter syntax errors")
struct FilterSyntaxErrorTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var filter: String
        var column: Int
        var messageContains: String
        var testDescription: String { "\(filter) @\(column)" }
    }

    @Test(arguments: [
        Case(filter: "from.uri.domian == 'a'", column: 1, messageContains: "unknown variable 'from.uri.domian'"),
        Case(filter: "true && frm.uri.user == 'a'", column: 9, messageContains: "unknown variable"),
        Case(filter: "request.method = 'INVITE'", column: 16, messageContains: "'=' must be doubled"),
        Case(filter: "true & false", column: 6, messageContains: "'&' must be doubled"),
        Case(filter: "true | false", column: 6, messageContains: "'|' must be doubled"),
        Case(filter: "user-agent == 'abc", column: 15, messageContains: "never closed"),
        Case(filter: "user-agent == \"abc\"", column: 15, messageContains: "unexpected character '\"'"),
        Case(filter: "(true && false", column: 1, messageContains: "'(' is never closed"),
        Case(filter: "true)", column: 5, messageContains: "')' has no matching '('"),
        Case(filter: "()", column: 1, messageContains: "empty parentheses"),
        Case(filter: "true &&", column: 8, messageContains: "expected a condition"),
        Case(filter: "&& true", column: 1, messageContains: "needs a condition or value on its left"),
        Case(filter: "user-agent", column: 1, messageContains: "is a value, not a condition"),
        Case(filter: "'x'", column: 1, messageContains: "is a value, not a condition"),
        Case(filter: "true false", column: 6, messageContains: "expected '&&' or '||'"),
        Case(filter: "user-agent user-agent", column: 12, messageContains: "expected ==, !=, contains"),
        Case(filter: "contains 'x'", column: 1, messageContains: "needs a value on its left"),
        Case(filter: "in 'a b'", column: 1, messageContains: "needs a value on its left"),
        Case(filter: "user-agent == ", column: 15, messageContains: "expected a variable or a 'constant'"),
        Case(filter: "user-agent == true", column: 15, messageContains: "found 'true'"),
        Case(filter: "user-agent == is_request", column: 15, messageContains: "found 'is_request'"),
        Case(filter: "defined", column: 8, messageContains: "expected a variable"),
        Case(filter: "user-agent regex call-id", column: 18, messageContains: "expected a 'constant' pattern"),
        Case(filter: "user-agent regex 'a(b'", column: 20, messageContains: "regex: '(' is never closed"),
        Case(filter: "user-agent regex 'ab\\1'", column: 21, messageContains: "backreferences"),
        Case(filter: "user-agent regex '(?=a)'", column: 19, messageContains: "only (?:...)"),
        Case(filter: "user-agent regex 'a**'", column: 21, messageContains: "nothing to repeat"),
        Case(filter: "user-agent regex 'a{3,1}'", column: 20, messageContains: "n > m"),
        Case(filter: "user-agent regex 'a{2000}'", column: 20, messageContains: "above 1000"),
        Case(filter: "user-agent regex '[z-a]'", column: 21, messageContains: "out of order"),
        Case(filter: "user-agent regex '(a{1000}){1000}'", column: 19, messageContains: "states"),
        Case(filter: "user-agent\u{0} == 'a'", column: 11, messageContains: "U+0000"),
        Case(filter: "user-agent == 'é' && é", column: 22, messageContains: "U+00E9"),
        Case(filter: "! ", column: 3, messageContains: "expected a condition"),
    ])
    func columnAndMessage(_ c: Case) {
        let error = syntaxError(c.filter)
        #expect(error?.column == c.column)
        #expect(error?.message.contains(c.messageContains) == true, "\(String(describing: error))")
    }

    @Test func nestingBeyondTheLimitIsAnErrorAtTheOffendingColumn() {
        let limit = FilterExpression.maxDepth
        let parens = String(repeating: "(", count: 10_000) + "true" + String(repeating: ")", count: 10_000)
        #expect(syntaxError(parens)?.column == limit + 1)
        let nots = String(repeating: "!", count: 10_000) + "true"
        #expect(syntaxError(nots)?.column == limit + 1)
        let mixed = String(repeating: "!(", count: 40) + "true" + String(repeating: ")", count: 40)
        #expect(syntaxError(mixed)?.column == limit + 1)
    }

    @Test func descriptionNamesTheColumn() {
        #expect(syntaxError("true &")?.description == "filter: column 6: '&' must be doubled: '&&'")
    }

    @Test func longUnknownNamesAreTruncatedInMessages() {
        let name = String(repeating: "x", count: 5_000)
        let message = syntaxError(name + " == 'a'")?.message ?? ""
        #expect(message.count < 100)
    }
}
