import Foundation
import Kafka
import PushContract
import Testing

extension FleetProcesses {
@Suite("pushfleet tail: outcomes and dead letters, live and filtered", .serialized, .timeLimit(.minutes(2)))
struct TailCommandTests {
    /// The embedded broker with the outcomes and dead-letter topics, and a producer writing to
    /// them as the workers do.
    final class Topics: Sendable {
        let broker: EmbeddedKafkaBroker
        let producer: KafkaProducer

        init() throws {
            broker = try EmbeddedKafkaBroker(brokers: 1)
            for topic in ["pushfleet.outcomes", "pushfleet.dead-letter"] {
                try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 3, configs: ["cleanup.policy": "delete"]))
            }
            producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "tail-test"))
        }

        func write(_ outcomes: [PushOutcome], deadLetters: [DeadLetter] = []) async throws {
            let records = outcomes.map { KafkaProducerRecord(topic: "pushfleet.outcomes", key: Array(($0.callId ?? $0.registration ?? "").utf8), value: RecordEncoder.encode($0)) }
                + deadLetters.map { KafkaProducerRecord(topic: "pushfleet.dead-letter", key: $0.key, value: RecordEncoder.encode($0)) }
            for result in await producer.sendBatch(records) { _ = try result.get() }
        }
    }

    static func outcome(_ id: String, call: String, result: PushResult, prid: String = "tok-1", reason: String? = nil) -> PushOutcome {
        PushOutcome(header: RecordHeader(id: id, time: EventTime(millisecondsSince1970: 1_796_000_000_000)), eventId: "ev-\(id)",
                    callId: call, branch: "z9hG4bK-\(id)", provider: "apns", pushType: .voip, result: result,
                    status: result == .sent ? 200 : 410, reason: reason,
                    device: PushDevice(provider: "apns", param: "ABCD1234.org.example.voip", prid: prid, aor: "sip:ivy@example.org"))
    }

    static func deadLetter(key: String, value: String) -> DeadLetter {
        DeadLetter(header: RecordHeader(id: "dl-\(key)", time: EventTime(millisecondsSince1970: 1_796_000_000_000)),
                   source: RecordSource(topic: "pushfleet.events", partition: 1, offset: 7),
                   error: "branch.unanswered: missing field 'branch'", key: Array(key.utf8), value: Array(value.utf8))
    }

    @Test("--from-beginning with filters: only the records of the call, the token or the result asked for")
    func filtersOverRetainedRecords() async throws {
        let topics = try Topics()
        try await topics.write([
            Self.outcome("a1", call: "call-a", result: .sent),
            Self.outcome("b1", call: "call-b", result: .failed, reason: "APNs 500 InternalServerError"),
            Self.outcome("a2", call: "call-a", result: .invalidToken, prid: "tok-dead", reason: "APNs 410 Unregistered"),
        ], deadLetters: [Self.deadLetter(key: "call-a", value: "{\"type\":\"branch.unanswered\",\"callId\":\"call-a\"}"),
                         Self.deadLetter(key: "call-c", value: "{\"type\":\"branch.unanswered\",\"pn-prid\":\"tok-dead\"}")])
        let bootstrap = ["--bootstrap-servers", topics.broker.bootstrapServers, "--from-beginning"]

        let (status, out, err) = try await run("pushfleet", ["tail"] + bootstrap + ["--call-id", "call-a", "--max-records", "3"])
        #expect(status == 0, "\(err)")
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(out)")
        #expect(lines.contains { $0.hasPrefix("✓ sent") && $0.contains("voip via apns call call-a attempt 1 HTTP 200") }, "\(out)")
        #expect(lines.contains { $0.hasPrefix("⊘ invalid-token") && $0.contains("— APNs 410 Unregistered") }, "\(out)")
        #expect(lines.contains { $0.hasPrefix("☠ dead letter   pushfleet.events[1]@7: branch.unanswered: missing field 'branch'") }, "\(out)")
        #expect(!out.contains("call-b"))
        #expect(err.contains("following pushfleet.outcomes and pushfleet.dead-letter from the beginning"), "\(err)")

        // --prid: the outcome of that device and the dead letter whose original value names it.
        let (pStatus, pOut, pErr) = try await run("pushfleet", ["tail"] + bootstrap + ["--prid", "tok-dead", "--max-records", "2"])
        #expect(pStatus == 0, "\(pErr)")
        #expect(pOut.contains("⊘ invalid-token") && pOut.contains("☠ dead letter"), "\(pOut)")
        #expect(!pOut.contains("✓ sent"))

        // --result with --json: the record as the workers wrote it.
        let (jStatus, jOut, jErr) = try await run("pushfleet", ["tail"] + bootstrap + ["--result", "failed", "--json", "--max-records", "1"])
        #expect(jStatus == 0, "\(jErr)")
        let decoded = try RecordDecoder.decodePushOutcome(Array(jOut.trimmingCharacters(in: .newlines).utf8))
        #expect(decoded == Self.outcome("b1", call: "call-b", result: .failed, reason: "APNs 500 InternalServerError"))
    }

    @Test("follows live from now: only records written after it started, until SIGTERM ends it with status 0")
    func followsLive() async throws {
        let topics = try Topics()
        try await topics.write([Self.outcome("old", call: "call-old", result: .sent)])
        let tail = try ChildProcess("pushfleet", ["tail", "-b", topics.broker.bootstrapServers, "--result", "sent", "--result", "dead-letter"])
        defer { if tail.process.isRunning { tail.process.terminate() } }
        try await waitUntil("tail following", timeout: .seconds(20)) {
            if !tail.process.isRunning { throw TestFailure("tail exited: \(tail.errors.text)") }
            return tail.errors.text.contains("from now")
        }
        try await topics.write([Self.outcome("new", call: "call-new", result: .sent), Self.outcome("skip", call: "call-new", result: .failed)],
                               deadLetters: [Self.deadLetter(key: "call-x", value: "not json")])
        _ = try await topics.producer.send(KafkaProducerRecord(topic: "pushfleet.outcomes", key: nil, value: Array("{not an outcome".utf8)))
        try await waitUntil("the new records printed", timeout: .seconds(20)) {
            tail.output.text.contains("call call-new") && tail.output.text.contains("☠ dead letter")
        }
        try await waitUntil("the unreadable record reported, not dropped", timeout: .seconds(20)) {
            tail.errors.text.contains("unreadable record pushfleet.outcomes[")
        }
        #expect(!tail.output.text.contains("call-old"), "a record from before the start: \(tail.output.text)")
        #expect(!tail.output.text.contains("✗ failed"), "filtered out by --result: \(tail.output.text)")
        tail.signal(SIGTERM)
        let status = try await tail.waitForExit(timeout: .seconds(10))
        #expect(status == 0, "\(tail.errors.text)")
    }

    @Test("bad options name the flag and what is allowed")
    func badOptions() async throws {
        let (status, _, err) = try await run("pushfleet", ["tail", "--bootstrap-servers", "127.0.0.1:1", "--result", "ok"])
        #expect(status != 0)
        #expect(err.contains("--result: 'ok' is not a result; use one of sent, failed, invalid-token, dropped, skipped, dead-letter"), "\(err)")
        let (mStatus, _, mErr) = try await run("pushfleet", ["tail", "--bootstrap-servers", "127.0.0.1:1", "--max-records", "0"])
        #expect(mStatus != 0)
        #expect(mErr.contains("--max-records must be at least 1, got 0"), "\(mErr)")
    }
}
}  // extension FleetProcesses
