import Foundation
import PushContract
@testable import PushPolicy

/// Shared inputs: hex tokens, a fixed clock and a branch.unanswered builder.
enum Fixture {
    static let remoteToken = String(repeating: "ab", count: 32)
    static let voipToken = String(repeating: "cd", count: 32)
    /// 2023-11-14 22:13:20 UTC.
    static let now = EventTime(millisecondsSince1970: 1_700_000_000_000)
    static let sendTime = "2023-11-14 22:13:20"

    static let iosRemote = "sip:bob@10.0.0.1;pn-provider=apns;pn-param=ABCD1234.org.linphone.phone;pn-prid=\(remoteToken)"
    static let iosVoip = "sip:bob@10.0.0.1;pn-provider=apns;pn-param=ABCD1234.org.linphone.phone.voip;pn-prid=\(voipToken):voip"
    static let iosBoth = "sip:bob@10.0.0.1;pn-provider=apns;pn-param=ABCD1234.org.linphone.phone.remote&voip;pn-prid=\(remoteToken):remote&\(voipToken):voip"
    static let android = "sip:bob@10.0.0.2;transport=tls;pn-provider=fcm;pn-param=123456789;pn-prid=fcm-token_1"

    static func event(
        _ method: String = "INVITE", uri: String, headers: [(String, String)] = [], toTag: String? = nil,
        displayName: String? = "Alice", fromURI: String = "sip:alice@example.org", callId: String = "call-1",
        body: String? = nil, groupChat: Bool = false, chatRoom: String? = nil, forkTimeout: Int? = nil
    ) -> BranchUnanswered {
        BranchUnanswered(
            header: RecordHeader(id: "ev-1", time: now), callId: callId, branch: "b1", method: method,
            requestUri: uri, from: SIPAddress(uri: fromURI, displayName: displayName, tag: "ftag"),
            to: SIPAddress(uri: "sip:bob@example.org", tag: toTag),
            headers: SIPHeaders(headers.map { (name: $0.0, value: $0.1) }), body: body,
            instanceId: "\"<urn:uuid:123>\"", messageId: "msg-9", chatRoomAddr: chatRoom,
            isGroupChatInvite: groupChat, forkTimeout: forkTimeout)
    }

    static func options(_ edit: (inout PushNotificationOptions) -> Void = { _ in }) -> PushNotificationOptions {
        var o = PushNotificationOptions()
        o.enabled = true
        o.displayFromURI = true
        edit(&o)
        return o
    }

    /// The single request of a `.push` decision, or nil.
    static func request(_ e: BranchUnanswered, _ o: PushNotificationOptions = options(), router: RouterOptions = RouterOptions()) -> PushRequest? {
        guard case .push(let requests) = PushStrategy.decide(e, options: o, router: router), requests.count == 1 else { return nil }
        return requests[0]
    }

    static func skipReason(_ e: BranchUnanswered, _ o: PushNotificationOptions = options()) -> String? {
        skip(e, o)?.text
    }

    static func skip(_ e: BranchUnanswered, _ o: PushNotificationOptions = options()) -> OutcomeReason? {
        guard case .skipped(let reason) = PushStrategy.decide(e, options: o, router: RouterOptions()) else { return nil }
        return reason
    }

    /// Proves a body is valid JSON by parsing it with Foundation.
    static func json(_ bytes: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
    }

    /// Every kind of character a SIP value may smuggle into a payload or URL.
    static let hostile = "x\"q'\\&a=1/../?#\r\nX-Evil: 1\t\u{01}\u{7F} Ünïcødé 😀 \u{2028}</s>"
}
