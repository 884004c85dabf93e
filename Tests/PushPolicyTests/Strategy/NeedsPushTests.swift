import PushContract
@testable import PushPolicy
import Testing

@Suite struct NeedsPushTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var method: String
        var headers: [(String, String)] = []
        var toTag: String? = nil
        var groupChat = false
        var expected: NeedsPushDecision
        var testDescription: String { "\(method) \(headers.map { "\($0.0): \($0.1)" }) → \(expected)" }
    }

    static let cases: [Case] = [
        Case(method: "INVITE", expected: .push(kind: .call)),
        Case(method: "INVITE", groupChat: true, expected: .push(kind: .message)),
        Case(method: "MESSAGE", expected: .push(kind: .message)),
        Case(method: "MESSAGE", headers: [("Content-Type", "text/plain;charset=UTF-8")], expected: .push(kind: .message)),
        Case(method: "REFER", expected: .push(kind: .refer)),
        Case(method: "INVITE", toTag: "abc", expected: .skip(reason: OutcomeReason(.needsPush, "To has a tag (in-dialog request)"))),
        Case(method: "REFER", toTag: "abc", expected: .skip(reason: OutcomeReason(.needsPush, "To has a tag (in-dialog request)"))),
        Case(method: "INVITE", toTag: "", expected: .push(kind: .call)),
        Case(method: "INVITE", headers: [("priority", " Non-Urgent ")], expected: .skip(reason: OutcomeReason(.needsPush, "Priority: non-urgent"))),
        Case(method: "INVITE", headers: [("Priority", "urgent")], expected: .push(kind: .call)),
        Case(method: "MESSAGE", headers: [("x-fs-message-type", "chat-service")], expected: .skip(reason: OutcomeReason(.needsPush, "X-fs-message-type: chat-service"))),
        Case(method: "INVITE", headers: [("Replaces", "abc;to-tag=1;from-tag=2")], expected: .skip(reason: OutcomeReason(.needsPush, "INVITE with Replaces"))),
        Case(method: "MESSAGE", headers: [("Content-Type", "application/im-iscomposing+xml")],
             expected: .skip(reason: OutcomeReason(.needsPush, "MESSAGE of type application/im-iscomposing+xml"))),
        Case(method: "MESSAGE", headers: [("content-type", " Message/IMDN+xml ; charset=utf-8")],
             expected: .skip(reason: OutcomeReason(.needsPush, "MESSAGE of type message/imdn+xml"))),
        Case(method: "OPTIONS", expected: .skip(reason: OutcomeReason(.needsPush, "method OPTIONS never gets a push"))),
        Case(method: "SUBSCRIBE", expected: .skip(reason: OutcomeReason(.needsPush, "method SUBSCRIBE never gets a push"))),
        Case(method: "invite", expected: .skip(reason: OutcomeReason(.needsPush, "method invite never gets a push"))),
    ]

    @Test(arguments: cases)
    func rule(_ c: Case) {
        let e = Fixture.event(c.method, uri: Fixture.iosRemote, headers: c.headers, toTag: c.toTag, groupChat: c.groupChat)
        #expect(NeedsPush.evaluate(e) == c.expected)
    }

    @Test func skippedRequestYieldsSkippedDecisionWithTheReason() {
        let e = Fixture.event("INVITE", uri: Fixture.iosVoip, headers: [("Replaces", "x")])
        #expect(PushStrategy.decide(e, options: Fixture.options(), router: RouterOptions()) == .skipped(reason: OutcomeReason(.needsPush, "INVITE with Replaces")))
    }
}
