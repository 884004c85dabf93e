import Testing
@testable import PushContract

/// A realistic branch.unanswered record; tests override members with `with`.
let sampleUnanswered: [String: String] = [
    "v": "1", "type": "\"branch.unanswered\"", "id": "\"evt-1\"", "time": "\"2025-11-26T15:06:42.123Z\"",
    "callId": "\"call-1@example.com\"", "branch": "\"b1\"", "method": "\"INVITE\"",
    "requestUri": "\"sip:alice@192.0.2.1;pn-provider=apns;pn-prid=TOKEN:voip;pn-param=TEAM.org.app.voip\"",
    "from": #"{"uri":"sip:bob@example.com","displayName":"Bob","tag":"t1"}"#,
    "to": #"{"uri":"sip:alice@example.com"}"#,
    "headers": #"{"User-Agent":"Linphone/5","Priority":"normal"}"#,
]

/// Builds a record from JSON member texts; a nil value removes the member.
func record(_ base: [String: String], with changes: [String: String?] = [:]) -> [UInt8] {
    var members = base
    for (key, value) in changes { members[key] = value }
    let body = members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
    return Array("{\(body)}".utf8)
}

func decodeError(_ bytes: [UInt8]) -> ContractError? {
    do {
        _ = try RecordDecoder.decode(bytes)
        return nil
    } catch {
        return error
    }
}

@Suite struct RecordDecodingTests {
    @Test func decodesBranchUnanswered() throws {
        let event = try RouterEventDecoder.decode(record(sampleUnanswered, with: [
            "body": "\"hi \\u00e9\\ud83d\\ude00\"", "instanceId": "\"<urn:uuid:1>\"", "forkTimeout": "30",
            "isGroupChatInvite": "true", "messageId": "\"m1\"", "chatRoomAddr": "\"sip:room@x\"",
        ]))
        guard case .branchUnanswered(let e) = event else { Issue.record("wrong case \(event)"); return }
        #expect(e.header == RecordHeader(id: "evt-1", time: try EventTime(rfc3339: "2025-11-26T15:06:42.123Z")))
        #expect(e.callId == "call-1@example.com")
        #expect(e.method == "INVITE")
        #expect(e.requestUri.hasSuffix("pn-param=TEAM.org.app.voip"))
        #expect(e.from == SIPAddress(uri: "sip:bob@example.com", displayName: "Bob", tag: "t1"))
        #expect(e.to == SIPAddress(uri: "sip:alice@example.com"))
        #expect(e.headers["user-agent"] == "Linphone/5")
        #expect(e.headers.fields.map(\.name) == ["User-Agent", "Priority"])
        #expect(e.body == "hi é😀")
        #expect(e.instanceId == "<urn:uuid:1>")
        #expect(e.forkTimeout == 30)
        #expect(e.isGroupChatInvite)
        #expect(e.messageId == "m1")
        #expect(e.chatRoomAddr == "sip:room@x")
    }

    @Test func decodesOtherRouterEvents() throws {
        let header = #""v":1,"id":"e","time":"2025-01-01T00:00:00Z""#
        #expect(try RouterEventDecoder.decode(Array(#"{\#(header),"type":"branch.response","callId":"c","branch":"b","status":180}"#.utf8))
            == .branchResponse(BranchResponse(header: RecordHeader(id: "e", time: EventTime(millisecondsSince1970: 1_735_689_600_000)), callId: "c", branch: "b", status: 180)))
        #expect(try RouterEventDecoder.decode(Array(#"{\#(header),"type":"call.ended","callId":"c","reason":"declined-elsewhere"}"#.utf8))
            == .callEnded(CallEnded(header: RecordHeader(id: "e", time: EventTime(millisecondsSince1970: 1_735_689_600_000)), callId: "c", reason: .declinedElsewhere)))
        let registration = try RouterEventDecoder.decode(Array(#"{\#(header),"type":"registration.updated","aor":"sip:a@b","contact":"sip:a@1.2.3.4;pn-provider=fcm","callId":"r","expires":3600,"updatedAt":"2025-01-01T00:00:01.000Z"}"#.utf8))
        guard case .registrationUpdated(let r) = registration else { Issue.record("wrong case"); return }
        #expect(r.expires == 3600 && r.instanceId == nil && r.updatedAt.millisecondsSince1970 == 1_735_689_601_000)
    }

    @Test func ignoresUnknownMembers() throws {
        let plain = try RouterEventDecoder.decode(record(sampleUnanswered))
        let extended = try RouterEventDecoder.decode(record(sampleUnanswered, with: [
            "future": #"{"a":[1,2,{"b":null}],"c":1e300}"#, "zzz": "\"x\"",
        ]))
        #expect(plain == extended)
    }

    @Test(arguments: [
        (["callId": nil], "callId", "missing"),
        (["from": #"{"displayName":"x"}"#], "from.uri", "missing"),
        (["from": #"{"uri":5}"#], "from.uri", "expected string, got number"),
        (["to": "\"sip:a@b\""], "to", "expected object, got string"),
        (["headers": #"{"User-Agent":1}"#], "headers.User-Agent", "expected string, got number"),
        (["headers": "[]"], "headers", "expected object, got array"),
        (["method": "null"], "method", "expected string, got null"),
        (["method": "\"\""], "method", "must not be empty"),
        (["time": "\"2025-11-26\""], "time", "not a valid RFC 3339 timestamp"),
        (["time": nil], "time", "missing"),
        (["v": "2"], "v", "unsupported contract version 2"),
        (["v": "\"1\""], "v", "expected integer, got string"),
        (["v": nil], "v", "missing"),
        (["type": "\"branch.answered\""], "type", "unknown record type"),
        (["type": "7"], "type", "expected string, got number"),
        (["id": "\"\""], "id", "must be 1 to 128 characters long, got 0"),
        (["id": "\"\(String(repeating: "é", count: 129))\""], "id", "must be 1 to 128 characters long, got 129"),
        (["forkTimeout": "-1"], "forkTimeout", "must be an integer from 0"),
        (["forkTimeout": "1.5"], "forkTimeout", "expected integer, got 1.5"),
        (["forkTimeout": "99999999999999999999999"], "forkTimeout", "out of range"),
        (["isGroupChatInvite": "1"], "isGroupChatInvite", "expected boolean, got number"),
    ] as [([String: String?], String, String)])
    func namesTheFieldOfEachError(changes: [String: String?], field: String, problem: String) {
        let error = decodeError(record(sampleUnanswered, with: changes))
        #expect(error?.field == field)
        #expect(error?.problem.contains(problem) == true, "\(String(describing: error))")
    }

    @Test(arguments: [
        (#"{"v":1,"type":"branch.response","id":"e","time":"2025-01-01T00:00:00Z","callId":"c","branch":"b","status":99}"#, "status"),
        (#"{"v":1,"type":"branch.response","id":"e","time":"2025-01-01T00:00:00Z","callId":"c","branch":"b","status":"180"}"#, "status"),
        (#"{"v":1,"type":"call.ended","id":"e","time":"2025-01-01T00:00:00Z","callId":"c","reason":"busy"}"#, "reason"),
        (#"{"v":1,"type":"registration.updated","id":"e","time":"2025-01-01T00:00:00Z","aor":"a","contact":"c","callId":"r","expires":-1,"updatedAt":"2025-01-01T00:00:00Z"}"#, "expires"),
        (#"{"v":1,"type":"push.outcome","id":"e","time":"2025-01-01T00:00:00Z","eventId":"x","attempt":1,"result":"sent"}"#, "callId"),
        (#"{"v":1,"type":"dead-letter","id":"e","time":"2025-01-01T00:00:00Z","source":{"topic":"t","partition":0,"offset":"1"},"error":"x"}"#, "source.offset"),
        (#"{"v":1,"type":"dead-letter","id":"e","time":"2025-01-01T00:00:00Z","source":{"topic":"t","partition":0,"offset":1},"error":"x","value":"QQ"}"#, "value"),
        (#"{"v":1,"type":"call.ended","id":"e","time":"2025-01-01T00:00:00Z","callId":"c","callId":"d","reason":"timeout"}"#, "callId"),
        (#"{"v":1,"type":"call.ended","id":"e","time":"2025-01-01T00:00:00Z","callId":"c","reason":"timeout","x":1,"x":2}"#, "x"),
        (#"[]"#, "$"),
        (#"{"v":1,"#, "$"),
        (#"{"v":1} x"#, "$"),
    ])
    func namesTheFieldInOtherRecords(json: String, field: String) {
        #expect(decodeError(Array(json.utf8))?.field == field)
    }

    @Test func routerEventDecoderRefusesWorkerRecords() {
        let outcome = #"{"v":1,"type":"push.outcome","id":"e","time":"2025-01-01T00:00:00Z","eventId":"x","callId":"c","attempt":1,"result":"sent"}"#
        #expect(throws: ContractError(field: "type", problem: "\"push.outcome\" is not expected here")) {
            try RouterEventDecoder.decode(Array(outcome.utf8))
        }
        #expect((try? RecordDecoder.decodePushOutcome(Array(outcome.utf8)))?.callId == "c")
    }

    @Test func enforcesTheSizeLimitBeforeParsing() throws {
        let base = record(sampleUnanswered, with: ["pad": "\"\""])
        let fill = RecordDecoder.maximumRecordSize - base.count
        let atLimit = record(sampleUnanswered, with: ["pad": "\"\(String(repeating: "x", count: fill))\""])
        #expect(atLimit.count == 65_536)
        _ = try RouterEventDecoder.decode(atLimit)
        let over = record(sampleUnanswered, with: ["pad": "\"\(String(repeating: "x", count: fill + 1))\""])
        let error = decodeError(over)
        #expect(error?.field == "$")
        #expect(error?.problem.contains("64 KiB") == true)
        // Rejected even though it is not JSON at all: the size is checked first.
        #expect(decodeError([UInt8](repeating: 0xFF, count: 70_000))?.problem.contains("64 KiB") == true)
    }
}
