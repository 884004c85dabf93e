import Kafka
import PushContract
import PushPolicy
import PushSenders
import Testing
@testable import PushEngine

@Suite("Replay: argument parsing, ranges, progress text, and the core driven over a range")
struct ReplayTests {
    // MARK: - Arguments

    @Test("offset lists parse; every malformed form names the flag and the value")
    func offsetLists() throws {
        #expect(try ReplayPlan.parseOffsets("0:12,3:5", flag: "--from-offset") == [0: 12, 3: 5])
        #expect(try ReplayPlan.parseOffsets("7:0", flag: "--to-offset") == [7: 0])
        for bad in ["", "0", "0-12", "a:1", "0:x", "0:-1", "-1:3", "0:1,", "0:1:2"] {
            let error = #expect(throws: ReplayArgumentError.self) { try ReplayPlan.parseOffsets(bad, flag: "--from-offset") }
            #expect(error?.description.hasPrefix("--from-offset \(bad.debugDescription)") == true, "\(bad): \(error?.description ?? "")")
        }
        let twice = #expect(throws: ReplayArgumentError.self) { try ReplayPlan.parseOffsets("1:5,1:9", flag: "--to-offset") }
        #expect(twice?.description.contains("partition 1 is given twice") == true)
    }

    @Test("timestamps: RFC 3339 with or without fraction and offset; a bad one names the flag")
    func timestamps() throws {
        #expect(try ReplayPlan.parseTime("2026-11-26T09:30:00Z", flag: "--from") == 1_795_685_400_000)
        #expect(try ReplayPlan.parseTime("2026-11-26T10:30:00.250+01:00", flag: "--from") == 1_795_685_400_250)
        let error = #expect(throws: ReplayArgumentError.self) { try ReplayPlan.parseTime("yesterday", flag: "--to") }
        #expect(error?.description.hasPrefix("--to \"yesterday\": not an RFC 3339 timestamp") == true)
    }

    @Test("partition selection: --partition, else --from-offset's, else all; unknown ones name the flag")
    func partitionSelection() throws {
        #expect(try ReplayPlan.partitions(topic: "ev", count: 4, requested: [], fromOffsets: nil, toOffsets: nil) == [0, 1, 2, 3])
        #expect(try ReplayPlan.partitions(topic: "ev", count: 4, requested: [], fromOffsets: [3: 1, 1: 0], toOffsets: nil) == [1, 3])
        #expect(try ReplayPlan.partitions(topic: "ev", count: 4, requested: [2, 2], fromOffsets: nil, toOffsets: nil) == [2])
        let unknown = #expect(throws: ReplayArgumentError.self) {
            try ReplayPlan.partitions(topic: "ev", count: 4, requested: [4], fromOffsets: nil, toOffsets: nil)
        }
        #expect(unknown?.description == "--partition: partition 4 does not exist (ev has 4 partition(s): 0…3)")
        let unknownOffset = #expect(throws: ReplayArgumentError.self) {
            try ReplayPlan.partitions(topic: "ev", count: 2, requested: [], fromOffsets: [5: 0], toOffsets: nil)
        }
        #expect(unknownOffset?.description.hasPrefix("--from-offset: partition 5 does not exist") == true)
        let notReplayed = #expect(throws: ReplayArgumentError.self) {
            try ReplayPlan.partitions(topic: "ev", count: 4, requested: [], fromOffsets: [0: 0], toOffsets: [1: 9])
        }
        #expect(notReplayed?.description == "--to-offset: partition 1 is not replayed (replayed: 0)")
    }

    @Test("ranges: clamped to the watermarks, resumed past committed offsets, start after end refused")
    func ranges() throws {
        let marks: [Int32: (low: Int64, high: Int64)] = [0: (10, 100), 1: (0, 50), 2: (0, 30)]
        let r = try ReplayPlan.ranges(partitions: [0, 1, 2], starts: [0: 5, 1: 20, 2: 0], ends: [0: 200, 1: 40], watermarks: marks,
                                      committed: [0: nil, 1: 25, 2: 90], fromFlag: "--from-offset", toFlag: "--to-offset")
        #expect(r == [
            ReplayPartitionRange(partition: 0, start: 10, end: 100),
            ReplayPartitionRange(partition: 1, start: 25, end: 40, resumedFrom: 25),
            ReplayPartitionRange(partition: 2, start: 30, end: 30, resumedFrom: 90),
        ])
        #expect(r.map(\.count) == [90, 15, 0])
        let backwards = #expect(throws: ReplayArgumentError.self) {
            try ReplayPlan.ranges(partitions: [1], starts: [1: 40], ends: [1: 20], watermarks: marks, committed: [:],
                                  fromFlag: "--from-offset", toFlag: "--to-offset")
        }
        #expect(backwards?.description == "--from-offset is after --to-offset on partition 1: offset 40 > 20")
    }

    // MARK: - Progress text

    @Test("progress: bar, plain line, rate and ETA")
    func progressText() {
        #expect(ReplayProgressText.bar(done: 500, total: 1000, elapsedSeconds: 2, width: 10)
                == "[#####-----]  500/1000  50%  250 rec/s  ETA 0:02")
        #expect(ReplayProgressText.line(done: 250, total: 1000, elapsedSeconds: 5)
                == "replay: 250/1000 records (25%), 50 rec/s, ETA 0:15")
        #expect(ReplayProgressText.eta(done: 1, total: 7201, elapsedSeconds: 1) == "2:00:00")
        #expect(ReplayProgressText.eta(done: 0, total: 10, elapsedSeconds: 3) == "-")
        #expect(ReplayProgressText.bar(done: 0, total: 0, elapsedSeconds: 0, width: 4) == "[####]  0/0  100%  - rec/s  ETA -")
    }

    // MARK: - Core over a range

    private func message(_ event: (RouterEvent, [UInt8]), offset: Int64, timestamp: Int64? = nil) -> KafkaMessage {
        KafkaMessage(topic: "pushfleet.events", partition: 0, offset: offset, key: nil, value: event.1, timestamp: timestamp)
    }

    private func makeReplay(timeRange: (from: Int64?, to: Int64?) = (nil, nil), _ configure: (inout PushNotificationOptions) -> Void = { _ in }) throws -> ReplayCore {
        var options = PushNotificationOptions()
        options.enabled = true
        options.retransmissionCount = 3
        configure(&options)
        return ReplayCore(partition: 0, policy: try BranchPolicy(options: options, router: RouterOptions()), timeRange: timeRange)
    }

    @Test("live pushes are due, expired ones counted, ended calls and skips give none, nothing writes state")
    func decisions() throws {
        var replay = try makeReplay()
        let now = t0.adding(seconds: 3600)
        let batch = [
            // A message an hour old: its TTL (7 days) has not passed → pushed now.
            message(unanswered("m1", call: "msg", method: "MESSAGE", uri: Contacts.android, headers: [("Content-Type", "text/plain")]), offset: 0),
            // A call an hour old: its TTL (fork timeout, 90 s) has passed → expired.
            message(unanswered("c1", call: "old-call", uri: Contacts.iosVoip), offset: 1),
            // needsPush: a To tag → skipped.
            message(unanswered("c2", call: "in-dialog", uri: Contacts.iosVoip, toTag: "x"), offset: 2),
            // A message whose device answered later in the range → no push.
            message(unanswered("m2", call: "answered", method: "MESSAGE", uri: Contacts.iosRemote, headers: [("Content-Type", "text/plain")]), offset: 3),
            message(response("r2", call: "answered", status: 200, at: t0.adding(seconds: 1)), offset: 4),
            KafkaMessage(topic: "pushfleet.events", partition: 0, offset: 5, key: nil, value: Array("{not json".utf8)),
        ]
        let step = replay.handle(batch, now: now)
        #expect(step.sends.map(\.callId) == ["msg"])
        #expect(step.sends.first?.attempt == 1)
        #expect(step.notes.map(\.kind) == [.expired, .skipped, .undecodable])
        #expect(step.notes.map(\.offset) == [1, 2, 5])
        let written = replay.sent(step.sends[0], outcome: SendOutcome(result: .sent, status: 200, provider: "fcm"), now: now)
        let outcome = try #require(written)
        #expect(outcome.header.id == "m1.0.background.1.replay")
        #expect(outcome.result == .sent && outcome.attempt == 1 && outcome.callId == "msg")
        // First push only: no retransmission fires later, even with retransmission-count=3.
        #expect(replay.handle([], now: now.adding(seconds: 120)).sends.isEmpty)
        replay.finish()
        let t = replay.tally
        #expect((t.read, t.pushes, t.expired, t.undecodable, t.skippedTotal) == (6, 1, 1, 1, 1))
        #expect((t.notDue, t.failedSends) == (0, 0))
    }

    @Test("a re-delivered event in the range is not pushed twice; a dry run settles like a send")
    func redelivery() throws {
        var replay = try makeReplay()
        let event = unanswered("m1", call: "msg", method: "MESSAGE", uri: Contacts.android, headers: [("Content-Type", "text/plain")])
        let first = replay.handle([message(event, offset: 0)], now: t0.adding(seconds: 10))
        #expect(first.sends.count == 1)
        replay.listed(first.sends[0], now: t0.adding(seconds: 10))
        let again = replay.handle([message(event, offset: 1)], now: t0.adding(seconds: 11))
        #expect(again.sends.isEmpty)
        #expect(again.notes.first?.reason.contains("re-delivery") == true)
    }

    @Test("records outside the time range are counted, not applied; a future delay is left to the workers")
    func timeRangeAndNotDue() throws {
        var replay = try makeReplay(timeRange: (from: 1000, to: 2000)) { $0.timeout = 30 }
        let now = t0
        let inRange = message(unanswered("m1", call: "a", method: "MESSAGE", uri: Contacts.android, at: t0,
                                         headers: [("Content-Type", "text/plain")]), offset: 1, timestamp: 1500)
        let before = message(unanswered("m0", call: "b", method: "MESSAGE", uri: Contacts.android, headers: [("Content-Type", "text/plain")]), offset: 0, timestamp: 999)
        let after = message(unanswered("m2", call: "c", method: "MESSAGE", uri: Contacts.android, headers: [("Content-Type", "text/plain")]), offset: 2, timestamp: 2000)
        let step = replay.handle([before, inRange, after], now: now)
        #expect(step.sends.isEmpty, "timeout=30 s: the push is due 30 s after the event")
        replay.finish()
        #expect((replay.tally.read, replay.tally.outsideTimeRange, replay.tally.notDue) == (3, 2, 1))
    }
}
