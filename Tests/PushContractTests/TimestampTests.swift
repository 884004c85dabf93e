import Testing
@testable import PushContract

@Suite struct TimestampTests {
    @Test(arguments: [
        ("1970-01-01T00:00:00Z", 0),
        ("1970-01-01T00:00:00.000Z", 0),
        ("1970-01-01T00:00:00.5Z", 500),
        ("1970-01-01T00:00:00.12Z", 120),
        ("1970-01-01T00:00:00.123456789Z", 123),  // truncated, not rounded
        ("1970-01-01T00:00:00.999999Z", 999),
        ("1970-01-01T01:00:00+01:00", 0),
        ("1969-12-31T19:00:00-05:00", 0),
        ("1970-01-01T00:00:00-00:00", 0),
        ("1969-12-31T23:59:59.999Z", -1),
        ("2000-02-29T12:00:00Z", 951_825_600_000),
        ("2024-02-29T23:59:59.123Z", 1_709_251_199_123),
        ("2025-11-26T15:06:42.123Z", 1_764_169_602_123),
        ("0000-01-01T00:00:00Z", -62_167_219_200_000),
        ("9999-12-31T23:59:59.999Z", 253_402_300_799_999),
    ] as [(String, Int64)])
    func parsesValidTimestamps(text: String, milliseconds: Int64) throws {
        #expect(try EventTime(rfc3339: text).millisecondsSince1970 == milliseconds)
    }

    @Test(arguments: [
        "", "2025", "2025-11-26", "2025-11-26T15:06:42", "2025-11-26 15:06:42Z", "2025-11-26t15:06:42Z",
        "2025-11-26T15:06:42z", "2025-11-26T15:06:42.Z", "2025-11-26T15:06:42.1234567890Z",
        "2025-13-01T00:00:00Z", "2025-00-01T00:00:00Z", "2025-11-31T00:00:00Z", "2023-02-29T00:00:00Z",
        "1900-02-29T00:00:00Z", "2025-11-26T24:00:00Z", "2025-11-26T23:60:00Z", "2025-11-26T23:59:60Z",
        "2025-11-26T15:06:42+0100", "2025-11-26T15:06:42+24:00", "2025-11-26T15:06:42+01:60",
        "2025-11-26T15:06:42Z ", " 2025-11-26T15:06:42Z", "+2025-11-26T15:06:42Z", "2025-1-26T15:06:42Z",
        "9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00+00:01", "２０２５-11-26T15:06:42Z",
    ])
    func rejectsInvalidTimestamps(text: String) {
        #expect(throws: ContractError.self) { try EventTime(rfc3339: text) }
        do {
            _ = try EventTime(rfc3339: text, field: "updatedAt")
        } catch {
            #expect(error.field == "updatedAt")
            #expect(error.problem.hasPrefix("not a valid RFC 3339 timestamp"))
        }
    }

    @Test(arguments: [
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (1_709_251_199_123, "2024-02-29T23:59:59.123Z"),
        (951_825_600_000, "2000-02-29T12:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (Int64.max, "9999-12-31T23:59:59.999Z"),  // clamped
        (Int64.min, "0000-01-01T00:00:00.000Z"),
    ] as [(Int64, String)])
    func formatsWithMilliseconds(milliseconds: Int64, text: String) {
        #expect(EventTime(millisecondsSince1970: milliseconds).rfc3339 == text)
    }

    @Test func formatParseRoundTripAcrossCenturies() throws {
        var ms: Int64 = -62_167_219_200_000
        while ms < 253_402_300_799_999 {
            let time = EventTime(millisecondsSince1970: ms)
            #expect(try EventTime(rfc3339: time.rfc3339) == time)
            ms += 86_399_999 * 97 + 12_345  // steps through every month and many leap days
        }
    }
}
