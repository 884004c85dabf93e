import PushContract
import PushPolicy
import PushSenders
@testable import PushEngine

/// Contacts and events for engine tests (tokens are 64 hex characters, as APNs requires).
enum Contacts {
    static let voipToken = String(repeating: "ab", count: 32)
    static let remoteToken = String(repeating: "cd", count: 32)
    static let iosVoip = "sip:alice@10.0.0.1;pn-provider=apns;pn-param=ABCD1234.org.linphone.phone.voip;pn-prid=\(voipToken):voip"
    static let iosRemote = "sip:alice@10.0.0.1;pn-provider=apns;pn-param=ABCD1234.org.linphone.phone;pn-prid=\(remoteToken)"
    static let android = "sip:alice@10.0.0.2;pn-provider=fcm;pn-param=123456789;pn-prid=fcm-token-1"
}

let t0 = EventTime(millisecondsSince1970: 1_795_000_000_000)

func unanswered(_ id: String, call: String = "call-1", branch: String = "b1", method: String = "INVITE", uri: String,
                at time: EventTime = t0, headers: [(String, String)] = [], toTag: String? = nil, body: String? = nil,
                forkTimeout: Int? = nil) -> (RouterEvent, [UInt8]) {
    let event = RouterEvent.branchUnanswered(BranchUnanswered(
        header: RecordHeader(id: id, time: time), callId: call, branch: branch, method: method, requestUri: uri,
        from: SIPAddress(uri: "sip:bob@example.org", displayName: "Bob"), to: SIPAddress(uri: "sip:alice@example.org", tag: toTag),
        headers: SIPHeaders(headers.map { (name: $0.0, value: $0.1) }), body: body, forkTimeout: forkTimeout))
    return (event, RecordEncoder.encode(event))
}

func response(_ id: String, call: String = "call-1", branch: String = "b1", status: Int, at time: EventTime) -> (RouterEvent, [UInt8]) {
    let event = RouterEvent.branchResponse(BranchResponse(header: RecordHeader(id: id, time: time), callId: call, branch: branch, status: status))
    return (event, RecordEncoder.encode(event))
}

func ended(_ id: String, call: String = "call-1", reason: CallEndReason, at time: EventTime) -> (RouterEvent, [UInt8]) {
    let event = RouterEvent.callEnded(CallEnded(header: RecordHeader(id: id, time: time), callId: call, reason: reason))
    return (event, RecordEncoder.encode(event))
}

func makeCore(_ configure: (inout PushNotificationOptions, inout RouterOptions) -> Void = { _, _ in }) throws -> PartitionCore {
    var options = PushNotificationOptions()
    options.enabled = true
    var router = RouterOptions()
    configure(&options, &router)
    return PartitionCore(partition: 0, policy: try BranchPolicy(options: options, router: router))
}

extension Array where Element == CoreAction {
    var sends: [SendOrder] { compactMap { if case .send(let o) = $0 { o } else { nil } } }
    var outcomes: [PushOutcome] { compactMap { if case .outcome(let o) = $0 { o } else { nil } } }
    var states: [(key: String, record: ScheduleRecord?)] { compactMap { if case .state(let k, let r) = $0 { (k, r) } else { nil } } }
    var deadLetters: [DeadLetter] { compactMap { if case .deadLetter(let d) = $0 { d } else { nil } } }
}

extension PartitionCore {
    mutating func apply(_ event: (RouterEvent, [UInt8]), now: EventTime) -> [CoreAction] {
        handle(event.0, bytes: event.1, now: now) + fireDue(now: now)
    }

    /// The provider answered `result` to `order` at `now`.
    mutating func answer(_ order: SendOrder, _ result: PushResult = .sent, at now: EventTime, status: Int? = 200) -> [CoreAction] {
        completed(order, outcome: SendOutcome(result: result, status: status, provider: order.request.destination.provider.rawValue), now: now)
    }
}
