import Testing
@testable import PushContract

@Suite struct HostileInputTests {
    static func outcome(_ bytes: [UInt8]) -> String {
        do {
            _ = try RecordDecoder.decode(bytes)
            return "accepted"
        } catch {
            return error.field
        }
    }

    @Test(arguments: [
        String(repeating: "[", count: 100_000),
        String(repeating: "{\"a\":", count: 50_000),
        String(repeating: "[", count: 33) + String(repeating: "]", count: 33),
    ])
    func deepNestingIsRejectedWithoutRecursion(json: String) {
        let bytes = Array(json.utf8)
        #expect(Self.outcome(bytes) == "$")
        let problem = bytes.withUnsafeBytes { raw -> String in
            do throws(ContractError) { return (try JSONTape(parsing: raw)).tokens.isEmpty ? "empty" : "parsed" } catch { return error.problem }
        }
        #expect(problem.contains("nesting deeper than 32 levels"))
    }

    @Test func nestingUpToTheLimitParses() throws {
        let json = #"{"v":1,"x":"# + String(repeating: "[", count: 31) + String(repeating: "]", count: 31) + "}"
        let tape = try Array(json.utf8).withUnsafeBytes { raw in try JSONTape(parsing: raw).tokens.count }
        #expect(tape == 2 + 2 + 31)
    }

    @Test(arguments: [
        ([0xC0, 0x80], "overlong NUL"), ([0xED, 0xA0, 0x80], "UTF-8 surrogate"), ([0xF4, 0x90, 0x80, 0x80], "above U+10FFFF"),
        ([0x80], "lone continuation"), ([0xE2, 0x82], "truncated"), ([0xFF], "invalid byte"), ([0x00], "raw NUL"),
        ([0x0A], "raw newline"),
    ] as [([UInt8], String)])
    func invalidStringBytesAreRejected(bad: [UInt8], _: String) {
        let bytes = Array(#"{"v":1,"type":"call.ended","id":"e","time":"2025-01-01T00:00:00Z","callId":""#.utf8) + bad
            + Array(#"","reason":"timeout"}"#.utf8)
        let error = decodeError(bytes)
        #expect(error?.field == "$")
        #expect(error?.problem.hasPrefix("invalid JSON at byte") == true)
    }

    @Test(arguments: [#"\ud800"#, #"\udc00"#, #"\ud800\u0041"#, #"\ud800x"#, #"\u12"#, #"\x"#, #"\U0041"#])
    func badEscapesAreRejected(escape: String) {
        let json = #"{"v":1,"type":"call.ended","id":"e","time":"2025-01-01T00:00:00Z","callId":""# + escape + #"","reason":"timeout"}"#
        #expect(decodeError(Array(json.utf8))?.field == "$")
    }

    @Test func escapedNULAndKeysAreDecoded() throws {
        let json = #"{"\u0076":1,"type":"call.ended","id":"e","time":"2025-01-01T00:00:00Z","call\u0049d":"a\u0000b","reason":"timeout"}"#
        guard case .callEnded(let e) = try RouterEventDecoder.decode(Array(json.utf8)) else { Issue.record("wrong case"); return }
        #expect(e.callId == "a\u{0}b")
    }

    @Test(arguments: ["01", "1.", ".5", "-", "1e", "+1", "0x10", "NaN", "Infinity", "1e999999999999"])
    func malformedOrHugeNumbersNeverTrap(number: String) {
        let json = #"{"v":1,"type":"branch.response","id":"e","time":"2025-01-01T00:00:00Z","callId":"c","branch":"b","status":"# + number + "}"
        let error = decodeError(Array(json.utf8))
        #expect(error?.field == "$" || error?.field == "status")
    }

    @Test func hugeIntegersAreOutOfRange() {
        for digits in [19, 20, 400] {
            let json = #"{"v":"# + String(repeating: "9", count: digits) + "}"
            #expect(decodeError(Array(json.utf8))?.field == "v")
        }
        #expect(decodeError(Array(#"{"v":-9223372036854775809}"#.utf8))?.field == "v")
        #expect(decodeError(Array(#"{"v":1.0e0,"type":"x"}"#.utf8))?.field == "type")  // 1.0e0 is the integer 1
    }

    @Test func manyMembersWithSharedPrefixesAreHandled() {
        let members = (0..<3000).map { "\"aaaaaaaaa\($0)\":0" }.joined(separator: ",")
        let json = #"{"v":1,"type":"call.ended","id":"e","time":"2025-01-01T00:00:00Z","callId":"c","reason":"timeout","# + members + "}"
        #expect(Self.outcome(Array(json.utf8)) == "accepted")
        let dup = json.dropLast() + #","aaaaaaaaa17":1}"#
        let error = decodeError(Array(dup.utf8))
        #expect(error == ContractError(field: "aaaaaaaaa17", problem: "duplicate member"))
    }

    /// The reader indexes objects three ways by size (scan, fingerprint list, sorted list): a
    /// duplicate is found in each, for short and long names, written plainly or with escapes,
    /// and an escaped name is still found by lookup.
    @Test(arguments: [0, 2, 3, 10, 14, 40])
    func duplicatesAreFoundAtEverySize(extraMembers: Int) {
        let extras = (0..<extraMembers).map { "\"x\($0)\":0" }
        let base = [#""v":1"#, #""type":"call.ended""#, #""id":"e""#, #""time":"2025-01-01T00:00:00Z""#,
                    #""callId":"c""#, #""reason":"timeout""#]
        func json(_ members: [String]) -> [UInt8] { Array(("{" + members.joined(separator: ",") + "}").utf8) }
        #expect(Self.outcome(json(base + extras)) == "accepted")
        #expect(Self.outcome(json(base.map { $0.replacingOccurrences(of: #""callId""#, with: #""call\u0049d""#) } + extras)) == "accepted")
        for duplicate in [#""callId":"d""#, #""call\u0049d":"d""#, #""v":1"#, #""x0":1"#] where extraMembers > 0 || !duplicate.contains("x0") {
            let field = duplicate.contains("x0") ? "x0" : duplicate.contains("v\"") ? "v" : "callId"
            #expect(decodeError(json(base + extras + [duplicate]))?.problem == "duplicate member", "\(duplicate) among \(base.count + extraMembers)")
            #expect(decodeError(json(base + extras + [duplicate]))?.field == field)
        }
    }

    @Test func duplicatesInNestedObjectsNameTheirPath() {
        let json = #"{"v":1,"type":"branch.unanswered","id":"e","time":"2025-01-01T00:00:00Z","callId":"c","branch":"b","method":"INVITE","requestUri":"sip:a@b","from":{"uri":"sip:x@y","uri":"sip:z@y"},"to":{"uri":"sip:a@b"}}"#
        #expect(decodeError(Array(json.utf8)) == ContractError(field: "from.uri", problem: "duplicate member"))
    }

    @Test func errorMessagesEscapeHostileValues() {
        let json = #"{"v":1,"type":"\n\u0007evil","id":"e","time":"2025-01-01T00:00:00Z"}"#
        let error = decodeError(Array(json.utf8))
        #expect(error?.field == "type")
        #expect(error?.problem.contains("\n") == false)
        #expect(error?.problem.contains("\u{7}") == false)
    }

    /// 20,000 random and mutated inputs: the decoder only ever returns or throws ContractError.
    @Test func randomAndMutatedInputsNeverCrash() {
        var rng = SplitMix64(seed: 0x5EED)
        let seeds = [record(sampleUnanswered)] + RoundTripTests.records.map(RecordEncoder.encode)
        var accepted = 0, rejected = 0
        for round in 0..<20_000 {
            var bytes: [UInt8]
            if round % 4 == 0 {
                bytes = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) { mutate(&bytes, &rng) }
            }
            do {
                _ = try RecordDecoder.decode(bytes)
                accepted += 1
            } catch {
                #expect(!error.field.isEmpty && !error.problem.isEmpty)
                rejected += 1
            }
        }
        #expect(accepted + rejected == 20_000)
        #expect(accepted > 0 && rejected > 10_000)
    }

    private func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
        guard !bytes.isEmpty else { bytes = [UInt8(truncatingIfNeeded: rng.next())]; return }
        let at = Int(rng.next() % UInt64(bytes.count))
        let interesting: [UInt8] = Array("{}[]\":,\\u0e-+.9 ".utf8) + [0, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        switch rng.next() % 5 {
        case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())
        case 1: bytes[at] = interesting[Int(rng.next() % UInt64(interesting.count))]
        case 2: bytes.remove(at: at)
        case 3: bytes.insert(interesting[Int(rng.next() % UInt64(interesting.count))], at: at)
        default: bytes.removeSubrange(at..<min(bytes.count, at + Int(rng.next() % 16)))
        }
    }
}

/// Deterministic generator so that a failing input can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
