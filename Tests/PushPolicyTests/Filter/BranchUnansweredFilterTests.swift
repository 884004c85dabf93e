import PushContract
import PushPolicy
import Testing

@Suite("BranchUnanswered as a filter subject")
struct BranchUnansweredFilterTests {
    static let invite = BranchUnanswered(
        header: RecordHeader(id: "e1", time: EventTime(millisecondsSince1970: 0)),
        callId: "a84b4c76e66710@pc33.example.org",
        branch: "z9hG4bK776asdhds",
        method: "INVITE",
        requestUri: "sip:%61lice@Sip.Example.org:5061;pn-provider=apns;pn-prid=abc%3Avoip;transport=tls",
        from: SIPAddress(uri: "sip:bob@biloxi.example.com;user=phone", displayName: "Bob", tag: "1928"),
        to: SIPAddress(uri: "<sip:alice@example.org>"),
        headers: SIPHeaders([
            ("User-Agent", "Linphone/5.2.0 (iPhone)"),
            ("contact", "\"Bob <mobile>\" <sip:bob@192.0.2.4:5060;transport=tcp>;expires=60"),
            ("Content-Type", "application/sdp ; charset=utf-8"),
        ])
    )

    struct Case: CustomTestStringConvertible, Sendable {
        var variable: FilterVariable
        var value: String?
        var testDescription: String { "\(variable.name) = \(value ?? "nil")" }
    }

    @Test(arguments: [
        Case(variable: .direction, value: "request"),
        Case(variable: .requestMethod, value: "INVITE"),
        Case(variable: .requestMethodName, value: "INVITE"),
        Case(variable: .requestURIDomain, value: "sip.example.org"),
        Case(variable: .requestURIUser, value: "alice"),
        Case(variable: .requestURIParams, value: "pn-provider=apns;pn-prid=abc%3Avoip;transport=tls"),
        Case(variable: .fromURIDomain, value: "biloxi.example.com"),
        Case(variable: .fromURIUser, value: "bob"),
        Case(variable: .fromURIParams, value: "user=phone"),
        Case(variable: .toURIDomain, value: "example.org"),
        Case(variable: .toURIUser, value: "alice"),
        Case(variable: .toURIParams, value: ""),
        Case(variable: .contactURIDomain, value: "192.0.2.4"),
        Case(variable: .contactURIUser, value: "bob"),
        Case(variable: .contactURIParams, value: "transport=tcp"),
        Case(variable: .userAgent, value: "Linphone/5.2.0 (iPhone)"),
        Case(variable: .callID, value: "a84b4c76e66710@pc33.example.org"),
        Case(variable: .contentType, value: "application/sdp"),
        Case(variable: .statusCode, value: nil),
        Case(variable: .statusPhrase, value: nil),
    ])
    func everyVariable(_ c: Case) {
        #expect(Self.invite.filterValue(c.variable) == c.value)
    }

    @Test func realisticFilters() throws {
        let filters: [(String, Bool)] = [
            ("is_request && request.method in 'INVITE MESSAGE'", true),
            ("from.uri.domain contains 'biloxi' && user-agent regex 'Linphone/5\\..*'", true),
            ("(to.uri.domain in 'a.org example.org') && (user-agent == 'Linphone v2')", false),
            ("request.uri.params contains 'pn-provider=apns'", true),
            ("defined status.code || is_response", false),
            ("contact.uri.params == 'transport=tcp' && !defined to.uri.params", true),
            ("numeric call-id.hash && defined call-id.hash", true),
        ]
        for (text, expected) in filters {
            #expect(try FilterExpression(parsing: text).evaluate(Self.invite) == expected, "\(text)")
        }
    }

    @Test func missingOrBrokenHeadersAreUndefined() {
        var event = Self.invite
        event.headers = SIPHeaders()
        event.from = SIPAddress(uri: "tel:+33612345678")
        for variable: FilterVariable in [.userAgent, .contentType, .contactURIUser, .fromURIDomain] {
            #expect(event.filterValue(variable) == nil, "\(variable.name)")
        }
    }

    @Test(arguments: [
        ("<sip:a@h;x=1>;expires=3", "sip:a@h;x=1"),
        ("sip:a@h;q=0.5", "sip:a@h"),
        ("Alice <sip:a@h>", "sip:a@h"),
        ("\"<not this>\" <sip:a@h>", "sip:a@h"),
        ("\"esc \\\" <x>\" <sip:a@h>", "sip:a@h"),
        ("<sip:a@h>, <sip:b@h>", "sip:a@h"),
        ("  sip:a@h  ", "sip:a@h"),
        ("*", "*"),
    ] as [(String, String)])
    func contactURIExtraction(_ value: String, _ uri: String) {
        #expect(BranchUnanswered.nameAddrURI(value) == uri)
    }

    @Test(arguments: ["<sip:a@h", "\"unterminated <sip:a@h>", "", " ; x"])
    func unusableContactsGiveNoURI(_ value: String) {
        #expect(BranchUnanswered.nameAddrURI(value) == nil)
    }

    @Test func compactHeaderNamesAreRead() {
        var event = Self.invite
        event.headers = SIPHeaders([("m", "<sip:c@compact.example>"), ("c", "text/plain")])
        #expect(event.filterValue(.contactURIDomain) == "compact.example")
        #expect(event.filterValue(.contentType) == "text/plain")
    }

    /// Values computed by hand from sofia-sip's msg_hash_string, truncated to 32 bits.
    @Test(arguments: [
        ("", UInt32.max),           // hash 0 becomes ULONG_MAX
        ("a", UInt32(97 * 38501)),  // 3_734_597
        ("ab", UInt32(truncatingIfNeeded: (UInt64(97 * 38501) + 98) * 38501)),
        // UTF-8 C3 A9: chars -61 and -87, cast to unsigned 0xFFFFFFC3 and 0xFFFFFFA9.
        ("\u{E9}", UInt32(truncatingIfNeeded: (UInt64(0xFFFF_FFC3) &* 38501 &+ 0xFFFF_FFA9) &* 38501)),
    ] as [(String, UInt32)])
    func callIDHash(_ callID: String, _ expected: UInt32) {
        #expect(BranchUnanswered.sofiaCallIDHash(callID) == expected)
        var event = Self.invite
        event.callId = callID
        #expect(event.filterValue(.callIDHash) == String(expected))
    }
}
