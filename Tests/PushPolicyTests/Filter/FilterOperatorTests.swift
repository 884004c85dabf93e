import PushPolicy
import Testing

@Suite("Filter operators")
struct FilterOperatorTests {
    static let subject = DictionarySubject([
        .direction: "request",
        .requestMethod: "INVITE",
        .userAgent: "Linphone/5.2 (iPhone)",
        .fromURIDomain: "sip.linphone.org",
        .toURIUser: "0612",
        .fromURIUser: "",
    ])

    @Test(arguments: [
        // constants
        FilterCase(filter: "true", expected: true),
        FilterCase(filter: "false", expected: false),
        FilterCase(filter: "", expected: true),
        FilterCase(filter: "   \t ", expected: true),
        // !
        FilterCase(filter: "!true", expected: false),
        FilterCase(filter: "!false", expected: true),
        FilterCase(filter: "!!true", expected: true),
        FilterCase(filter: "! request.method == 'BYE'", expected: true),
        // && and || truth tables
        FilterCase(filter: "true && true", expected: true),
        FilterCase(filter: "true && false", expected: false),
        FilterCase(filter: "false && true", expected: false),
        FilterCase(filter: "false && false", expected: false),
        FilterCase(filter: "true || true", expected: true),
        FilterCase(filter: "true || false", expected: true),
        FilterCase(filter: "false || true", expected: true),
        FilterCase(filter: "false || false", expected: false),
        // == and != (variable or constant on either side)
        FilterCase(filter: "request.method == 'INVITE'", expected: true),
        FilterCase(filter: "request.method == 'invite'", expected: false),
        FilterCase(filter: "'INVITE' == request.method", expected: true),
        FilterCase(filter: "request.method != 'INVITE'", expected: false),
        FilterCase(filter: "request.method != 'MESSAGE'", expected: true),
        FilterCase(filter: "request.method == request.method-name", expected: false),  // method-name undefined here
        FilterCase(filter: "'a' == 'a'", expected: true),
        // contains: substring, empty needle always contained
        FilterCase(filter: "user-agent contains 'Linphone'", expected: true),
        FilterCase(filter: "user-agent contains 'linphone'", expected: false),
        FilterCase(filter: "user-agent contains ''", expected: true),
        FilterCase(filter: "from.uri.domain contains 'linphone.org'", expected: true),
        FilterCase(filter: "call-id contains 'x'", expected: false),  // undefined reads as ""
        // in / notin / nin: space-separated list, exact element match
        FilterCase(filter: "request.method in 'INVITE MESSAGE'", expected: true),
        FilterCase(filter: "request.method in '  MESSAGE   INVITE  '", expected: true),
        FilterCase(filter: "request.method in 'INV MESSAGE'", expected: false),
        FilterCase(filter: "request.method in 'INVITE,MESSAGE'", expected: false),
        FilterCase(filter: "request.method in ''", expected: false),
        FilterCase(filter: "request.method notin 'INVITE MESSAGE'", expected: false),
        FilterCase(filter: "request.method nin 'BYE MESSAGE'", expected: true),
        FilterCase(filter: "'a' in request.method", expected: false),
        // defined: present and non-empty
        FilterCase(filter: "defined user-agent", expected: true),
        FilterCase(filter: "defined call-id", expected: false),
        FilterCase(filter: "defined from.uri.user", expected: false),
        FilterCase(filter: "defined ''", expected: false),
        FilterCase(filter: "defined 'x'", expected: true),
        // numeric: only ASCII digits; the empty string counts (Flexisip)
        FilterCase(filter: "numeric to.uri.user", expected: true),
        FilterCase(filter: "numeric request.method", expected: false),
        FilterCase(filter: "numeric status.code", expected: true),
        FilterCase(filter: "numeric '12a'", expected: false),
        FilterCase(filter: "numeric '١٢'", expected: false),
        // regex / regexp: whole-value match
        FilterCase(filter: "request.method regex 'INV.*'", expected: true),
        FilterCase(filter: "request.method regex 'NVI'", expected: false),
        FilterCase(filter: "request.method regexp 'INVITE|BYE'", expected: true),
        FilterCase(filter: "user-agent regex 'Linphone/[0-9.]+ \\(.*\\)'", expected: true),
        FilterCase(filter: "call-id regex ''", expected: true),
        // is_request / is_response follow direction
        FilterCase(filter: "is_request", expected: true),
        FilterCase(filter: "is_response", expected: false),
        FilterCase(filter: "direction == 'request'", expected: true),
        // operators need no spaces around them
        FilterCase(filter: "request.method=='INVITE'&&!false", expected: true),
        FilterCase(filter: "(request.method in'INVITE')||false", expected: true),
    ])
    func truthTable(_ c: FilterCase) throws {
        #expect(try eval(c.filter, Self.subject) == c.expected)
    }

    @Test func predicatesOnAResponse() throws {
        let response = DictionarySubject([.direction: "response", .statusCode: "200"])
        #expect(try eval("is_response && !is_request && status.code == '200'", response))
        #expect(try !eval("is_request", response))
    }

    @Test func equalityComparesBytesNotCanonicalEquivalence() throws {
        // "é" precomposed vs e + combining acute: Swift's == says equal, std::string does not.
        let subject = DictionarySubject([.userAgent: "caf\u{E9}"])
        #expect(try !eval("user-agent == 'cafe\u{301}'", subject))
        #expect(try eval("user-agent == 'caf\u{E9}'", subject))
        #expect(try !eval("user-agent contains 'e\u{301}'", subject))
    }

    @Test func undefinedVariablesReadAsEmptyInEveryOperator() throws {
        let empty = DictionarySubject()
        #expect(try eval("call-id == ''", empty))
        #expect(try !eval("call-id != ''", empty))
        #expect(try !eval("call-id in 'a b'", empty))
        #expect(try eval("call-id nin 'a b'", empty))
        #expect(try eval("call-id regex 'x*'", empty))
        #expect(try !eval("defined call-id", empty))
    }

    @Test func quotingEdgeCases() throws {
        let subject = DictionarySubject([.userAgent: "x) && (y || !z == 'q"])
        // Operators and parentheses inside a constant are text, also inside a group.
        #expect(try eval("(user-agent contains ') && (y || !z')", subject))
        #expect(try eval("(user-agent != ')')", subject))
        #expect(try !eval("(user-agent == ')')", subject))
        // The constant ends at the next quote: no escaping, so ' can only be matched by regex.
        #expect(try eval("user-agent regex '.*\\x27q'", subject))
        #expect(try eval("'' == call-id", subject))
        #expect(try eval("'a b' contains ' '", subject))
        #expect(try eval("'日本' == '日本'", subject))
        #expect(syntaxError("user-agent == 'a''b'")?.column == 18)
        #expect(syntaxError("user-agent == 'it\\'s'")?.column == 20)
    }
}
