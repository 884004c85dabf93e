import Testing
@testable import PushContract

@Suite("Records the workers write stay within the contract's limits")
struct RecordLimitsTests {
    @Test("a dead letter of the largest input, with a long error quoting it, is at most 64 KiB and decodes")
    func deadLetterSize() throws {
        let hostile = String(repeating: "\u{1F600}", count: 20_000)  // 4 UTF-8 bytes each
        let letter = DeadLetter.capturing(
            header: RecordHeader(id: "dl.t.0.1", time: EventTime(millisecondsSince1970: 0)),
            source: RecordSource(topic: String(repeating: "t", count: 249), partition: 7, offset: 1),
            error: "from.uri: not a SIP URI: \(hostile)",
            key: Array(repeating: 0xff, count: 5_000), value: Array(repeating: 0x22, count: 200_000))
        let bytes = RecordEncoder.encode(letter)
        #expect(bytes.count <= 64 * 1024, "\(bytes.count) bytes")
        let decoded = try RecordDecoder.decodeDeadLetter(bytes)
        #expect(decoded.valueSize == 200_000 && decoded.keySize == 5_000)
        #expect(decoded.error.hasPrefix("from.uri: not a SIP URI: "))
    }

    @Test("ids derived from a 128-character event id stay within 128 characters, counted as the decoder counts them",
          arguments: [String(repeating: "e\u{301}", count: 64), String(repeating: "\u{1F1EB}\u{1F1F7}", count: 64), String(repeating: "a", count: 128)])
    func derivedIds(eventId: String) throws {
        #expect(eventId.unicodeScalars.count == 128)
        let id = RecordHeader.derivedId(eventId, "0.ringing.12345678901234567890")
        #expect(id.unicodeScalars.count <= 128, "\(id.unicodeScalars.count)")
        let outcome = PushOutcome(header: RecordHeader(id: id, time: EventTime(millisecondsSince1970: 0)), eventId: eventId,
                                  callId: "c", branch: "b", provider: "apns", pushType: .ringing, attempt: 1, result: .sent)
        #expect(try RecordDecoder.decodePushOutcome(RecordEncoder.encode(outcome)).header.id == id)
    }
}
