import Foundation
import Kafka
import PushContract
import Synchronization

/// What the router simulator published, for the checker: one entry per input record.
struct SimulatedInput: Sendable, Codable {
    enum Kind: String, Sendable, Codable {
        case voip, ringing, message, response, ended, registration, garbage
    }

    var kind: Kind
    var eventId: String?
    var callId: String?
    /// APNs token or FCM registration token of the device the push goes to.
    var token: String?
    /// Registration key `<aor>|<instance>` (registrations).
    var registration: String?
    /// The event's `time` (seconds since the run's start).
    var eventTime: Double
    /// When the broker acknowledged it (seconds since the run's start); nil if it never did.
    var acknowledged: Double?
    var topic: String
    var partition: Int32?
    var offset: Int64?
    /// `branch.response` status, `call.ended` reason, garbage flavour.
    var detail: String?
}

/// The router simulator: a realistic mix for the whole run, each call played by a task of its
/// own so calls overlap (and wait out broker outages in the producer, as a router would).
final class RouterSimulator: Sendable {
    static let ringInterval = 3
    static let appleBundle = "org.linphone.phone"

    private let producer: KafkaProducer
    private let timeline: Timeline
    private let inputs = Mutex<[SimulatedInput]>([])
    private let firebaseProject: String

    init(bootstrap: String, timeline: Timeline, firebaseProject: String) throws {
        producer = try KafkaProducer(configuration: KafkaConfiguration(
            bootstrapServers: bootstrap, clientId: "chaos-router",
            properties: [("linger.ms", "5"), ("message.timeout.ms", "60000")]))
        self.timeline = timeline
        self.firebaseProject = firebaseProject
    }

    var published: [SimulatedInput] { inputs.withLock { $0 } }

    private func publish(_ input: SimulatedInput, key: String, value: [UInt8]?, timestamp: Int64?) async {
        var input = input
        let record = KafkaProducerRecord(topic: input.topic, key: Array(key.utf8), value: value, timestamp: timestamp)
        if let report = try? await producer.send(record) {
            input.acknowledged = timeline.seconds()
            input.partition = report.partition
            input.offset = report.offset
        }
        let done = input
        inputs.withLock { $0.append(done) }
    }

    private func now() -> EventTime { SystemClock().now() }

    private func seconds(_ time: EventTime) -> Double {
        timeline.seconds(Date(timeIntervalSince1970: Double(time.millisecondsSince1970) / 1000))
    }

    private func send(_ event: RouterEvent, kind: SimulatedInput.Kind, token: String? = nil, detail: String? = nil) async {
        let (callId, key): (String?, String) = switch event {
        case .branchUnanswered(let e): (e.callId, e.callId)
        case .branchResponse(let e): (e.callId, e.callId)
        case .callEnded(let e): (e.callId, e.callId)
        case .registrationUpdated(let r): (nil, "\(r.aor)|\(r.instanceId ?? r.contact)")
        }
        let isRegistration = if case .registrationUpdated = event { true } else { false }
        let input = SimulatedInput(kind: kind, eventId: event.header.id, callId: callId, token: token,
                                   registration: isRegistration ? key : nil, eventTime: seconds(event.header.time),
                                   topic: isRegistration ? "pushfleet.registrations" : "pushfleet.events", detail: detail)
        await publish(input, key: key, value: RecordEncoder.encode(event), timestamp: event.header.time.millisecondsSince1970)
    }

    private func unanswered(_ call: String, method: String, contact: String, body: String? = nil) -> RouterEvent {
        .branchUnanswered(BranchUnanswered(
            header: RecordHeader(id: "\(call)-u", time: now()), callId: call, branch: "b1", method: method, requestUri: contact,
            from: SIPAddress(uri: "sip:bob@example.org", displayName: "Bob"), to: SIPAddress(uri: "sip:alice@example.org"),
            headers: SIPHeaders([(name: "Content-Type", value: method == "MESSAGE" ? "text/plain" : "application/sdp")]), body: body,
            instanceId: "<urn:uuid:\(UUID().uuidString.lowercased())>"))
    }

    private func response(_ call: String, _ status: Int, _ n: Int = 0) -> RouterEvent {
        .branchResponse(BranchResponse(header: RecordHeader(id: "\(call)-r\(status)-\(n)", time: now()), callId: call, branch: "b1", status: status))
    }

    private func ended(_ call: String, _ reason: CallEndReason) -> RouterEvent {
        .callEnded(CallEnded(header: RecordHeader(id: "\(call)-end", time: now()), callId: call, reason: reason))
    }

    static func appleToken(_ n: Int, salt: UInt64) -> String { String(format: "%016llx%048x", salt, n) }

    private func appleContact(_ token: String, voip: Bool) -> String {
        voip ? "sip:alice@192.0.2.1;pn-provider=apns.dev;pn-param=ABCD1234.\(Self.appleBundle).voip;pn-prid=\(token):voip"
            : "sip:alice@192.0.2.1;pn-provider=apns.dev;pn-param=ABCD1234.\(Self.appleBundle);pn-prid=\(token);pn-call-remote-push-interval=\(Self.ringInterval)"
    }

    private func androidContact(_ token: String) -> String {
        "sip:alice@192.0.2.2;pn-provider=fcm;pn-param=\(firebaseProject);pn-prid=\(token)"
    }

    /// A VoIP call answered by the device after 2–6 s.
    func voipCall(_ n: Int, salt: UInt64, answerAfter: Double) async {
        let call = "chaos-voip-\(n)", token = Self.appleToken(n, salt: salt)
        await send(unanswered(call, method: "INVITE", contact: appleContact(token, voip: true)), kind: .voip, token: token)
        try? await Task.sleep(for: .seconds(answerAfter))
        await send(response(call, 200), kind: .response, detail: "200")
        await send(ended(call, .answered), kind: .ended, detail: "answered")
    }

    /// A remote-only call (repeated alerts every `ringInterval` s) ringing until `call.ended`.
    func ringingCall(_ n: Int, salt: UInt64, ringFor: Double, reason: CallEndReason) async {
        let call = "chaos-ring-\(n)", token = Self.appleToken(n, salt: salt)
        await send(unanswered(call, method: "INVITE", contact: appleContact(token, voip: false)), kind: .ringing, token: token)
        try? await Task.sleep(for: .seconds(ringFor))
        await send(ended(call, reason), kind: .ended, token: token, detail: reason.rawValue)
    }

    /// A message retransmitted until the device's 180; some get a 503 first (which changes nothing).
    func message(_ n: Int, ringingAfter: Double, with503: Bool) async {
        let call = "chaos-msg-\(n)", token = "fcm-chaos-\(n)"
        await send(unanswered(call, method: "MESSAGE", contact: androidContact(token), body: "hello \(n)"), kind: .message, token: token)
        if with503 {
            try? await Task.sleep(for: .seconds(ringingAfter / 2))
            await send(response(call, 503), kind: .response, token: token, detail: "503")
            try? await Task.sleep(for: .seconds(ringingAfter / 2))
        } else {
            try? await Task.sleep(for: .seconds(ringingAfter))
        }
        await send(response(call, 180, 1), kind: .response, token: token, detail: "180")
    }

    /// A registration for register wake-up (Android, so it gets Background pushes).
    func registration(_ n: Int, expires: Int) async {
        let token = "fcm-reg-\(n)"
        let event = RouterEvent.registrationUpdated(RegistrationUpdated(
            header: RecordHeader(id: "chaos-reg-\(n)", time: now()), aor: "sip:user\(n)@example.org",
            contact: androidContact(token), instanceId: "<urn:uuid:00000000-0000-0000-0000-\(String(format: "%012d", n))>",
            callId: "reg-\(n)", expires: expires, updatedAt: now()))
        await send(event, kind: .registration, token: token)
    }

    /// A record no worker can use: it must come back as a dead letter.
    func garbage(_ n: Int, flavour: Int) async {
        let value: [UInt8]? = switch flavour % 5 {
        case 0: Array("{not json".utf8)
        case 1: Array(#"{"v":2,"type":"call.ended","id":"g\#(n)","time":"2026-01-01T00:00:00.000Z","callId":"c","reason":"cancelled"}"#.utf8)
        case 2: Array(#"{"v":1,"type":"branch.response","id":"g\#(n)","time":"2026-01-01T00:00:00.000Z","callId":5,"branch":"b","status":180}"#.utf8)
        case 3: nil
        default: (0..<48).map { UInt8(truncatingIfNeeded: ($0 &* 7919) ^ n) }
        }
        let input = SimulatedInput(kind: .garbage, eventTime: timeline.seconds(), topic: "pushfleet.events", detail: "flavour \(flavour % 5)")
        await publish(input, key: "garbage-\(n)", value: value, timestamp: nil)
    }

    func close() async {
        try? await producer.flush(timeout: .seconds(30))
    }
}
