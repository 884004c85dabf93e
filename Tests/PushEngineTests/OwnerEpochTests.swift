import Foundation
import Kafka
import PushContract
import PushFleetTesting
import PushPolicy
import Testing
@testable import PushEngine

/// A former owner's late state writes never override its successor's (`OwnerEpoch`).
@Suite("Owner epochs in the state topic")
struct OwnerEpochTests {
    static func message(_ key: String, _ value: String?, epoch: Int64?, offset: Int64) -> KafkaMessage {
        KafkaMessage(topic: "pushfleet.state", partition: 0, offset: offset, key: Array(key.utf8), value: value.map { Array($0.utf8) },
                     headers: epoch.map { [OwnerEpoch.header($0)] } ?? [])
    }

    @Test("a record of a lower epoch than the key's current one is ignored and counted; equal epochs go by offset")
    func staleIgnored() {
        let latest = LatestValues()
        latest.apply([
            Self.message("k", "pending#1", epoch: 100, offset: 0),
            Self.message("k", "done#3", epoch: 200, offset: 1),
            Self.message("k", "pending#3", epoch: 100, offset: 2),  // the former owner's, landed late
            Self.message("j", "a", epoch: 200, offset: 3),
            Self.message("j", "b", epoch: 200, offset: 4),
        ])
        #expect(latest.values == ["k": Array("done#3".utf8), "j": Array("b".utf8)])
        #expect(latest.staleIgnored == 1)
        #expect(latest.highestEpoch == 200)
    }

    @Test("a tombstone keeps its key's epoch for the rest of the read: a late lower-epoch write does not bring the key back")
    func tombstoneKeepsEpoch() {
        let latest = LatestValues()
        latest.apply([
            Self.message("k", "done", epoch: 200, offset: 0),
            Self.message("k", nil, epoch: 200, offset: 1),
        ])
        latest.apply([Self.message("k", "pending", epoch: 100, offset: 2)])
        #expect(latest.values.isEmpty)
        #expect(latest.staleIgnored == 1)
    }

    @Test("records without an epoch (older workers, hand-written) are taken in offset order, either way round")
    func withoutEpochByOffset() {
        let latest = LatestValues()
        latest.apply([
            Self.message("k", "new", epoch: 200, offset: 0),
            Self.message("k", "legacy", epoch: nil, offset: 1),
            Self.message("j", "legacy", epoch: nil, offset: 2),
            Self.message("j", "new", epoch: 100, offset: 3),
        ])
        #expect(latest.values == ["k": Array("legacy".utf8), "j": Array("new".utf8)])
        #expect(latest.staleIgnored == 0)
    }

    @Test("the header is decimal ASCII; anything else is no epoch")
    func headerParsing() {
        #expect(OwnerEpoch.of(Self.message("k", "v", epoch: 1_795_000_000_123, offset: 0)) == 1_795_000_000_123)
        for bad: [UInt8]? in [nil, [], Array("-5".utf8), Array("12a".utf8), Array(String(repeating: "9", count: 20).utf8)] {
            let m = KafkaMessage(topic: "t", partition: 0, offset: 0, key: nil, value: nil, headers: [KafkaHeader(name: OwnerEpoch.headerName, value: bad)])
            #expect(OwnerEpoch.of(m) == nil)
        }
    }

    @Test("a new owner's epoch is its clock, or above every epoch its restore read when that clock is behind")
    func nextEpoch() {
        #expect(OwnerEpoch.next(after: 0, now: t0) == t0.millisecondsSince1970)
        #expect(OwnerEpoch.next(after: t0.millisecondsSince1970 + 5000, now: t0) == t0.millisecondsSince1970 + 5001)
    }
}

@Suite("Owner epochs: a worker's restore", .timeLimit(.minutes(2)))
struct OwnerEpochRestoreTests {
    /// A due Android push schedule of `call` to `token`, as a lane writes it.
    static func schedule(call: String, token: String, now: EventTime) throws -> ScheduleRecord {
        var core = try makeCore()
        let uri = "sip:alice@10.0.0.2;pn-provider=fcm;pn-param=123456789;pn-prid=\(token)"
        var record = try #require(core.apply(unanswered("\(call)-e", call: call, method: "MESSAGE", uri: uri, at: now), now: now).states.first?.record)
        record.phase = .pending
        record.nextAt = now
        return record
    }

    @Test("a call its last owner finished is not pushed again by the next owner when the owner before wrote its pending late")
    func lateWriteOfFormerOwner() async throws {
        let fleet = try await InProcessFleet(partitions: 1)
        let now = SystemClock().now()
        var stale = try Self.schedule(call: "stale-call", token: "stale-token", now: now.adding(seconds: -10))
        var done = stale
        done.phase = .done
        done.nextAt = now.adding(seconds: 60)
        let control = try Self.schedule(call: "control-call", token: "control-token", now: now.adding(seconds: -1))
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: fleet.broker.bootstrapServers))
        func record(_ s: ScheduleRecord, epoch: Int64) -> KafkaProducerRecord {
            KafkaProducerRecord(topic: "pushfleet.state", partition: 0, key: Array(s.key.utf8), value: RecordEncoder.encode(s),
                                headers: [OwnerEpoch.header(epoch)])
        }
        stale.attempt = 1
        // In log order: the former owner's pending, its successor's done, then the former
        // owner's next pending, which was in its producer when it froze and landed last.
        for r in [record(stale, epoch: 100), record(done, epoch: 200), record(stale, epoch: 100), record(control, epoch: 200)] {
            _ = try await producer.send(r)
        }

        let log = LogCapture()
        let worker = try PushWorker(config: fleet.config, senders: fleet.senders, logger: log.logger)
        let run = Task { try await worker.run() }

        // The control schedule, due later than the stale one would have been, is pushed: the
        // restore acted on what it kept.
        @Sendable func tokens() -> [String] { fleet.fcm.requests.map { String(decoding: $0.body, as: UTF8.self) } }
        try await waitUntil("the control schedule pushed", timeout: .seconds(20)) { tokens().contains { $0.contains("control-token") } }
        #expect(!tokens().contains { $0.contains("stale-token") }, "the finished call was pushed again")
        let notice = log.all.first { $0.message.hasPrefix("state records of a former owner ignored") }
        #expect(notice?.metadata["count"] == "1", "one notice per restore, with the count")
        // What this worker writes carries its own epoch: above every epoch it read, and its clock.
        let reader = KafkaPartitionReader(configuration: KafkaConfiguration(bootstrapServers: fleet.broker.bootstrapServers))
        let written = try await waitForValue("the control schedule's next state written", timeout: .seconds(20)) {
            try await reader.readAll(KafkaTopicPartition(topic: "pushfleet.state", partition: 0))
                .last { $0.offset > 3 && $0.key == Array(control.key.utf8) }
        }
        #expect((OwnerEpoch.of(written) ?? 0) >= now.millisecondsSince1970)

        await worker.stop()
        _ = await run.result
        await fleet.stop()
    }
}
