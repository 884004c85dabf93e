import Testing
@testable import PushContract

@Suite struct RoundTripTests {
    static let hostile = "q\"b\\s/\u{0}\u{1}\u{1F}\n\r\t\u{7F} é 😀 \u{2028} <sip:x@y;a=\"b\">"
    static let t0 = EventTime(millisecondsSince1970: 1_764_169_602_123)

    static let records: [ContractRecord] = [
        .routerEvent(.branchUnanswered(BranchUnanswered(
            header: RecordHeader(id: "e1", time: t0), callId: hostile, branch: "b", method: "MESSAGE",
            requestUri: "sip:a@b;pn-msg-str=IM_MSG;pn-prid=\(hostile)",
            from: SIPAddress(uri: "sip:bob@x", displayName: hostile, tag: "t"), to: SIPAddress(uri: "sip:a@b", displayName: "A", tag: hostile),
            headers: SIPHeaders([("User-Agent", hostile), (hostile, "v"), ("X-Dup", "1"), ("X-Dup", "2")]),
            body: hostile, instanceId: "<urn:uuid:1>", messageId: "m", chatRoomAddr: "sip:r@x", isGroupChatInvite: true, forkTimeout: 0))),
        .routerEvent(.branchUnanswered(BranchUnanswered(
            header: RecordHeader(id: String(repeating: "😀", count: 128), time: t0), callId: "c", branch: "b", method: "INVITE",
            requestUri: "sip:a@b", from: SIPAddress(uri: "sip:b@c"), to: SIPAddress(uri: "sip:a@b")))),
        .routerEvent(.branchResponse(BranchResponse(header: RecordHeader(id: "e2", time: t0), callId: "c", branch: hostile, status: 603))),
        .routerEvent(.callEnded(CallEnded(header: RecordHeader(id: "e3", time: t0), callId: "c", reason: .answeredElsewhere))),
        .routerEvent(.registrationUpdated(RegistrationUpdated(
            header: RecordHeader(id: "e4", time: t0), aor: "sip:a@b", contact: "sip:a@1.2.3.4;pn-provider=fcm", instanceId: nil,
            callId: "r", expires: 0, updatedAt: EventTime(millisecondsSince1970: -1)))),
        .pushOutcome(PushOutcome(
            header: RecordHeader(id: "o1", time: t0), eventId: "e1", callId: "c", branch: "b", provider: "apns.dev", pushType: .voip,
            attempt: 3, result: .invalidToken, status: 410, reason: hostile, invalidSince: t0, latencyMs: 12)),
        .pushOutcome(PushOutcome(header: RecordHeader(id: "o2", time: t0), eventId: "e4", registration: "sip:a@b|<urn:uuid:1>", result: .skipped)),
        .deadLetter(DeadLetter(
            header: RecordHeader(id: "d1", time: t0), source: RecordSource(topic: "pushfleet.events", partition: 7, offset: Int64.max),
            error: hostile, key: Array("call-1".utf8), value: [0, 1, 2, 0xFF, 0xFE, 0x80])),
        .deadLetter(DeadLetter(
            header: RecordHeader(id: "d2", time: t0), source: RecordSource(topic: "t", partition: 0, offset: 0), error: "x", key: nil, value: [])),
    ]

    @Test(arguments: records)
    func encodeThenDecodeIsIdentity(record: ContractRecord) throws {
        let bytes = RecordEncoder.encode(record)
        #expect(try RecordDecoder.decode(bytes) == record)
        // The type-specific entry points agree.
        switch record {
        case .routerEvent(let event): #expect(try RouterEventDecoder.decode(bytes) == event)
        case .pushOutcome(let outcome): #expect(try RecordDecoder.decodePushOutcome(bytes) == outcome)
        case .deadLetter(let letter): #expect(try RecordDecoder.decodeDeadLetter(bytes) == letter)
        }
    }

    @Test func encodesCompactJSONWithHeaderFirst() {
        let bytes = RecordEncoder.encode(Self.records[3])
        #expect(String(decoding: bytes, as: UTF8.self)
            == #"{"v":1,"type":"call.ended","id":"e3","time":"2025-11-26T15:06:42.123Z","callId":"c","reason":"answered-elsewhere"}"#)
    }

    @Test func escapesStringsAsRFC8259RequiresAndKeepsUTF8() {
        var writer = JSONWriter()
        writer.value("a\"b\\c\u{0}\u{1F}\n\t\r\u{8}é😀/")
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #""a\"b\\c\u0000\u001f\n\t\r\u0008é😀/""#)
    }

    @Test(arguments: [
        ([], ""), ([0x66], "Zg=="), ([0x66, 0x6F], "Zm8="), ([0x66, 0x6F, 0x6F], "Zm9v"),
        ([0x66, 0x6F, 0x6F, 0x62, 0x61, 0x72], "Zm9vYmFy"), ([0xFF, 0xFE, 0x00], "//4A"),
    ] as [([UInt8], String)])
    func base64MatchesRFC4648(bytes: [UInt8], text: String) {
        #expect(Base64.encode(bytes) == text)
        #expect(Base64.decode(text) == bytes)
    }

    @Test(arguments: ["Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v YmFy", "Zm9v\n", "Zm9*", "=Zg="])
    func base64RejectsMalformedText(text: String) {
        #expect(Base64.decode(text) == nil)
    }

    @Test func base64RoundTripsEveryByteValue() {
        for length in 0..<8 {
            let bytes = (0..<(256 + length)).map { UInt8(truncatingIfNeeded: $0 * 7 + length) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
    }
}

extension ContractRecord: CustomTestStringConvertible {
    public var testDescription: String {
        switch self {
        case .routerEvent(let e): e.type
        case .pushOutcome: "push.outcome"
        case .deadLetter: "dead-letter"
        }
    }
}
