import Foundation
import Kafka
import PushContract
import PushSandbox
import Testing

/// `pushfleet replay` as an operator runs it: the real binary against the embedded broker and
/// the sandbox providers, with no worker running (replay needs none).
extension FleetProcesses {
@Suite("Replay command: offset and time ranges, dry run, sends, resume, bad arguments", .serialized, .timeLimit(.minutes(3)))
struct ReplayCommandTests {
    private static let textMessage: [(String, String)] = [("Content-Type", "text/plain")]

    private func replay(_ fleet: FleetHarness, _ arguments: [String]) async throws -> (status: Int32, out: String, err: String) {
        let (status, out, err) = try await run("pushfleet", ["replay", "--config", fleet.configPath] + arguments, timeout: .seconds(60))
        return (status, out, err)
    }

    private func lines(_ text: String, prefix: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }

    @Test("dry run over an offset range: exactly the live pushes, the skip, the expired count; nothing sent, written or committed")
    func dryRunOffsets() async throws {
        let fleet = try await FleetHarness(partitions: 1)
        defer { Task { await fleet.stop() } }
        try await fleet.publish([
            Router.unanswered("live-msg", method: "MESSAGE", uri: Router.android(token: "fcm-live"), body: "hi", headers: Self.textMessage),
            Router.unanswered("old-call", uri: Router.iosVoip(), time: Router.now(offsetMs: -3_600_000)),
            Router.unanswered("in-dialog", uri: Router.iosVoip(), toTag: "t1"),
            Router.unanswered("fresh-call", uri: Router.iosVoip()),
            Router.unanswered("after-range", method: "MESSAGE", uri: Router.android(token: "fcm-after"), body: "x", headers: Self.textMessage),
        ])
        let result = try await replay(fleet, ["--from-offset", "0:0", "--to-offset", "0:4", "--dry-run"])
        #expect(result.status == 0, "\(result.err)")
        let pushes = lines(result.out, prefix: "push ")
        #expect(pushes.count == 2, "\(result.out)")
        #expect(pushes.contains { $0.contains("call=live-msg background via fcm prid=fcm-live") })
        #expect(pushes.contains { $0.contains("call=fresh-call voip via apns.dev prid=\(Router.voipToken.prefix(12))…") })
        #expect(lines(result.out, prefix: "expired ").count == 1)
        #expect(lines(result.out, prefix: "expired ").first?.contains("call=old-call at 0@1") == true)
        #expect(lines(result.out, prefix: "skipped ").first?.contains("call=in-dialog at 0@2") == true)
        #expect(result.out.contains("replay dry run done: read 4, would push 2, skipped 1"), "\(result.out)")
        #expect(result.out.contains("expired 1"))
        #expect(!result.out.contains("after-range"))
        // A dry run sends, writes and commits nothing.
        #expect(fleet.apns.requests.isEmpty && fleet.fcm.requests.isEmpty)
        #expect(try await fleet.outcomes().isEmpty)
        let committed = try await KafkaAdmin(embedded: fleet.broker).committedOffsets(group: "pushfleet.replay", topic: "pushfleet.events", partitions: 1)
        #expect(committed[0] == .some(nil))
    }

    @Test("a time range selects by record timestamp (the embedded broker cannot resolve times: read and filtered)")
    func timeRange() async throws {
        let fleet = try await FleetHarness(partitions: 1)
        defer { Task { await fleet.stop() } }
        let base = Router.now(offsetMs: -4 * 3_600_000)
        try await fleet.publish((1...3).map { hour in
            Router.unanswered("msg-h\(hour)", method: "MESSAGE", uri: Router.android(token: "fcm-\(hour)"), body: "m", headers: Self.textMessage,
                              time: base.adding(seconds: hour * 3600))
        })
        let from = base.adding(seconds: 2 * 3600 - 60).rfc3339, to = base.adding(seconds: 3 * 3600 - 60).rfc3339
        let result = try await replay(fleet, ["--from", from, "--to", to, "--dry-run"])
        #expect(result.status == 0, "\(result.err)")
        #expect(lines(result.out, prefix: "push ").map { $0.contains("call=msg-h2 ") } == [true], "\(result.out)")
        #expect(result.out.contains("read 3, outside the time range 2, would push 1"), "\(result.out)")
        #expect(result.err.contains("the broker does not resolve times to offsets"), "the mock's limit is said, not hidden")
    }

    @Test("a real replay sends through the sandbox, writes outcomes, commits; running it again resumes and sends nothing twice")
    func sendAndResume() async throws {
        let fleet = try await FleetHarness(partitions: 1)
        defer { Task { await fleet.stop() } }
        try await fleet.publish([
            Router.unanswered("r-msg-1", method: "MESSAGE", uri: Router.android(token: "fcm-r1"), body: "one", headers: Self.textMessage),
            Router.unanswered("r-old", uri: Router.iosVoip(), time: Router.now(offsetMs: -3_600_000)),
            Router.unanswered("r-voip", uri: Router.iosVoip(token: String(repeating: "12", count: 32))),
        ])
        let first = try await replay(fleet, ["--from-offset", "0:0"])
        #expect(first.status == 0, "\(first.err)")
        #expect(first.out.contains("replay done: read 3, pushed 2, skipped 0, expired 1"), "\(first.out)")
        #expect(first.out.split(separator: "\n").count == 1, "a real run prints no line per record, only failures and the summary")
        #expect(first.err.contains("replay: 3/3 records (100%)"), "plain progress when stderr is not a terminal: \(first.err)")
        #expect(fleet.fcm.requests.filter { $0.bodyText.contains("fcm-r1") }.count == 1)
        #expect(fleet.apns.requests.filter { $0.path.hasSuffix(String(repeating: "12", count: 32)) }.count == 1)
        let outcomes = try await fleet.outcomes()
        #expect(Set(outcomes.map(\.callId)) == ["r-msg-1", "r-voip"], "no outcome for the expired push: the worker wrote that decision")
        #expect(outcomes.allSatisfy { $0.result == .sent && $0.header.id.hasSuffix(".replay") && $0.attempt == 1 })
        let admin = KafkaAdmin(embedded: fleet.broker)
        #expect(try await admin.committedOffsets(group: "pushfleet.replay", topic: "pushfleet.events", partitions: 1)[0] == 3)

        // The same replay again: the group's progress says everything is done.
        let again = try await replay(fleet, ["--from-offset", "0:0"])
        #expect(again.status == 0, "\(again.err)")
        #expect(again.out.contains("read 0, pushed 0"), "\(again.out)")
        #expect(again.err.contains("0:[3,3) resumed at 3"), "\(again.err)")

        // New records after the first run: resuming sends only them.
        try await fleet.publish([Router.unanswered("r-msg-2", method: "MESSAGE", uri: Router.android(token: "fcm-r2"), body: "two", headers: Self.textMessage)])
        let resumed = try await replay(fleet, ["--from-offset", "0:0"])
        #expect(resumed.out.contains("read 1, pushed 1"), "\(resumed.out)")
        #expect(fleet.fcm.requests.count == 2)
        #expect(fleet.apns.requests.count == 1)
        #expect(try await admin.committedOffsets(group: "pushfleet.replay", topic: "pushfleet.events", partitions: 1)[0] == 4)
        // Another group replays the whole range again (duplicates are the operator's choice); a
        // token the provider now rejects gives a failure line and an invalid-token outcome.
        fleet.apns.script(token: String(repeating: "12", count: 32), [.badDeviceToken])
        let other = try await replay(fleet, ["--from-offset", "0:0", "--group", "incident-42", "--partition", "0"])
        #expect(other.out.contains("read 4, pushed 3 (1 failed)"), "\(other.out)")
        #expect(lines(other.out, prefix: "failed ").first?.contains("call=r-voip: invalid-token HTTP 400 BadDeviceToken") == true, "\(other.out)")
        #expect(try await fleet.outcomes().contains { $0.callId == "r-voip" && $0.result == .invalidToken && $0.header.id.hasSuffix(".replay") })
        // Replay never writes the state topic.
        #expect(try await fleet.read("pushfleet.state").isEmpty)
    }

    @Test("bad arguments fail with a message naming the flag", arguments: [
        (["--from", "2026-11-26T10:00:00Z", "--to", "2026-11-26T09:00:00Z"], "--from 2026-11-26T10:00:00Z is after --to 2026-11-26T09:00:00Z"),
        (["--from-offset", "7:0"], "--from-offset: partition 7 does not exist (pushfleet.events has 1 partition(s): 0…0)"),
        (["--from", "nope"], "--from \"nope\": not an RFC 3339 timestamp"),
        (["--from-offset", "0:5", "--to-offset", "0:2"], "--from-offset is after --to-offset on partition 0: offset 5 > 2"),
        (["--from-offset", "0:0", "--partition", "3"], "--partition: partition 3 does not exist"),
        (["--to-offset", "0:2"], "give exactly one of --from (a time) or --from-offset"),
    ])
    func badArguments(arguments: [String], message: String) async throws {
        let fleet = try await FleetHarness(partitions: 1)
        defer { Task { await fleet.stop() } }
        try await fleet.publish((0..<6).map { Router.unanswered("c\($0)", uri: Router.iosVoip()) })
        let result = try await replay(fleet, arguments)
        #expect(result.status != 0)
        #expect(result.err.contains(message), "\(result.err)")
        #expect(fleet.apns.requests.isEmpty)
    }

    @Test("--help shows an example")
    func help() async throws {
        let (status, out, _) = try await run("pushfleet", ["replay", "--help"])
        #expect(status == 0)
        #expect(out.contains("pushfleet replay --config pf.conf --from 2026-11-26T09:00:00Z --dry-run"))
        #expect(out.contains("--dry-run"))
    }
}
}  // extension FleetProcesses
