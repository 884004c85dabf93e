import Foundation
import Kafka
import PushContract
import PushSandbox
import Testing

extension FleetProcesses {
@Suite("Fleet failover and robustness (real workers)", .serialized, .timeLimit(.minutes(4)))
struct FailoverTests {
    /// Ringing pushes per call, from the APNs sandbox's log (tokens are per call).
    static func pushesByToken(_ requests: [RecordedRequest]) -> [String: [RecordedRequest]] {
        Dictionary(grouping: requests.filter { $0.path.hasPrefix("/3/device/") }) { String($0.path.dropFirst("/3/device/".count)) }
    }

    static func token(_ i: Int) -> String { String(format: "%064x", 0x5eed_0000 + i) }

    @Test("SIGKILL a worker holding 50 ringing calls: the survivor restores them and keeps them ringing on time")
    func killDuringRinging() async throws {
        let interval = 2
        let sessionTimeout = 6.0
        let fleet = try await FleetHarness(partitions: 4, router: ["call-fork-timeout": "120"])
        defer { Task { await fleet.stop() } }
        let a = try await fleet.startWorker()
        let b = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [a, b])

        let calls = (0..<50).map { i in Router.unanswered("ring-\(i)", uri: Router.iosRemote(token: Self.token(i), interval: interval)) }
        try await fleet.publish(calls)
        try await waitUntil("every call rang twice", timeout: .seconds(20)) {
            let byToken = Self.pushesByToken(fleet.apns.requests)
            return (0..<50).allSatisfy { (byToken[Self.token($0)]?.count ?? 0) >= 2 }
        }
        let ownedByA = FleetHarness.ownedPartitions(a)
        #expect(!ownedByA.isEmpty)
        a.signal(SIGKILL)
        let killedAt = Date()
        _ = try await a.waitForExit(timeout: .seconds(5))
        // The survivor takes A's partitions after the session timeout and restores their state.
        try await fleet.waitForAssignment(of: [b], timeout: .seconds(30))
        try await waitUntil("every call rang again after the takeover", timeout: .seconds(30)) {
            let byToken = Self.pushesByToken(fleet.apns.requests)
            return (0..<50).allSatisfy { i in byToken[Self.token(i)]?.contains { $0.receivedAt > killedAt.addingTimeInterval(sessionTimeout + 1) } == true }
        }
        for i in 0..<50 {
            try await fleet.publish([Router.ended("ring-\(i)", .cancelled)])
        }
        try await waitUntil("a 'Missing call' final push for each of the 50 calls", timeout: .seconds(30)) {
            let byToken = Self.pushesByToken(fleet.apns.requests)
            return (0..<50).allSatisfy { i in byToken[Self.token(i)]?.contains { $0.bodyText.contains("Missing call") } == true }
        }
        // No gap longer than one interval plus the session timeout (plus rebalance/restore slack),
        // and duplicates (two pushes of a call much closer than the interval) counted and bounded.
        var duplicates = 0
        var longestGap = 0.0
        for (_, pushes) in Self.pushesByToken(fleet.apns.requests) {
            let ringing = pushes.filter { !$0.bodyText.contains("Missing call") }.sorted { $0.receivedAt < $1.receivedAt }
            for (earlier, later) in zip(ringing, ringing.dropFirst()) {
                let gap = later.receivedAt.timeIntervalSince(earlier.receivedAt)
                if gap < Double(interval) / 2 { duplicates += 1 }
                longestGap = max(longestGap, gap)
            }
            #expect(pushes.filter { $0.bodyText.contains("Missing call") }.count <= 2, "at most one final push, plus one duplicate")
        }
        print("failover: longest ringing gap \(String(format: "%.2f", longestGap)) s, duplicates \(duplicates)")
        #expect(longestGap <= Double(interval) + sessionTimeout + 4, "longest gap \(longestGap) s")
        #expect(duplicates <= 50, "at most one duplicate per call (a push sent but not yet recorded when the worker died)")
    }

    @Test("a worker frozen past its session timeout wakes fenced: it neither rings nor reschedules calls its successor ended")
    func frozenWorkerWakesFenced() async throws {
        let interval = 4
        let fleet = try await FleetHarness(partitions: 4, router: ["call-fork-timeout": "120"])
        defer { Task { await fleet.stop() } }
        let a = try await fleet.startWorker()
        let b = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [a, b])
        let calls = 24
        try await fleet.publish((0..<calls).map { i in Router.unanswered("frozen-\(i)", uri: Router.iosRemote(token: Self.token(100 + i), interval: interval)) })
        try await waitUntil("every call rang", timeout: .seconds(20)) {
            let byToken = Self.pushesByToken(fleet.apns.requests)
            return (0..<calls).allSatisfy { (byToken[Self.token(100 + $0)]?.count ?? 0) >= 1 }
        }
        #expect(!FleetHarness.ownedPartitions(a).isEmpty)
        // Quiet point: every call's schedule after its first ring is in the state topic (what
        // a worker's producer holds when it freezes is a window of its own: docs/chaos.md).
        try await waitUntil("every call's first ring recorded in the state topic", timeout: .seconds(20)) {
            var rung = Set<String>()
            for message in try await fleet.read("pushfleet.state") {
                if let r = message.value.flatMap({ try? RecordDecoder.decodeSchedule($0) }), r.attempt >= 1 { rung.insert(r.callId) }
            }
            return rung.count == calls
        }
        // A freezes with its ringing timers armed; B takes its partitions and ends every call.
        a.signal(SIGSTOP)
        try await waitUntil("B owns every partition", timeout: .seconds(40)) { FleetHarness.ownedPartitions(b).count == 4 }
        try await fleet.publish((0..<calls).map { Router.ended("frozen-\($0)", .cancelled) })
        try await waitUntil("a 'Missing call' final push for each call", timeout: .seconds(30)) {
            let byToken = Self.pushesByToken(fleet.apns.requests)
            return (0..<calls).allSatisfy { byToken[Self.token(100 + $0)]?.contains { $0.bodyText.contains("Missing call") } == true }
        }
        let endedAt = Date()
        // A wakes with every timer overdue. It must hold them until librdkafka finds the session
        // lost, then close its lanes without acting.
        a.signal(SIGCONT)
        try await waitUntil("A says it was paused and that its assignment is lost", timeout: .seconds(30)) {
            a.errors.text.contains("this process was paused") && a.errors.text.contains("assignment lost")
        }
        let late = fleet.apns.requests.filter { $0.receivedAt > endedAt && $0.path.hasPrefix("/3/device/") && !$0.bodyText.contains("Missing call") }
        #expect(late.isEmpty, "\(late.count) ringing pushes after the calls ended")
        // And the state says every call is over: nothing A wrote on waking revives a schedule.
        var latest: [String: [UInt8]?] = [:]
        for message in try await fleet.read("pushfleet.state") {
            latest[String(decoding: message.key ?? [], as: UTF8.self)] = message.value
        }
        let ringing = latest.values.compactMap { $0 }.compactMap { try? RecordDecoder.decodeSchedule($0) }
            .filter { $0.callId.hasPrefix("frozen-") && $0.phase != .done }
        #expect(ringing.isEmpty, "schedules left ringing: \(ringing.map { "\($0.callId) \($0.phase) attempt \($0.attempt)" })")
    }

    @Test("rolling restart of both workers under traffic: no push lost")
    func rollingRestart() async throws {
        let fleet = try await FleetHarness(partitions: 4)
        defer { Task { await fleet.stop() } }
        let a = try await fleet.startWorker()
        let b = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [a, b])

        let sent = SentCalls()
        let traffic = Task {
            var i = 0
            while !Task.isCancelled && i < 400 {
                let id = "roll-\(i)"
                try await fleet.publish([Router.unanswered(id, uri: Router.iosVoip(token: Self.token(10_000 + i)))])
                sent.add(Self.token(10_000 + i))
                i += 1
                try await Task.sleep(for: .milliseconds(40))
            }
        }
        // Restart A, then B (SIGTERM: graceful), while events keep coming.
        a.signal(SIGTERM)
        #expect(try await a.waitForExit(timeout: .seconds(30)) == 0)
        let a2 = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [a2, b], timeout: .seconds(40))
        b.signal(SIGTERM)
        #expect(try await b.waitForExit(timeout: .seconds(30)) == 0)
        let b2 = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [a2, b2], timeout: .seconds(40))
        try await traffic.value
        let tokens = sent.all
        do {
            try await waitUntil("a push for every one of the \(tokens.count) calls", timeout: .seconds(40)) {
                let pushed = Set(Self.pushesByToken(fleet.apns.requests).keys)
                return tokens.allSatisfy { pushed.contains($0) }
            }
        } catch {
            let pushed = Set(Self.pushesByToken(fleet.apns.requests).keys)
            let missing = Set((0..<tokens.count).filter { !pushed.contains(Self.token(10_000 + $0)) }.map { "roll-\($0)" })
            let outcomes = try await fleet.outcomes().filter { missing.contains($0.callId ?? "") }
            let events = try await fleet.read("pushfleet.events")
            let located = events.filter { m in missing.contains { id in m.valueString.contains("\"callId\":\"\(id)\"") } }.map { "\($0.partition)@\($0.offset)" }
            Issue.record("missing \(missing.count): \(missing.sorted().prefix(10)) at \(located); their outcomes: \(outcomes.prefix(10).map { "\($0.callId ?? "") \($0.result.rawValue) \($0.reason ?? "")" })")
            for w in [a, a2, b, b2] { print("---- worker log\n" + w.errors.text.suffix(3000)) }
            throw error
        }
        let counts = Self.pushesByToken(fleet.apns.requests)
        let duplicates = tokens.map { (counts[$0]?.count ?? 0) - 1 }.reduce(0, +)
        print("rolling restart: \(tokens.count) calls, \(duplicates) duplicate pushes")
        #expect(duplicates <= tokens.count / 10, "graceful hand-overs repeat few pushes")
    }

    @Test("broker down 10 s under traffic: every due push is sent afterwards or reported expired")
    func brokerOutage() async throws {
        let fleet = try await FleetHarness(partitions: 2, router: ["call-fork-timeout": "60"])
        defer { Task { await fleet.stop() } }
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])
        try await fleet.publish((0..<20).map { Router.unanswered("pre-\($0)", uri: Router.iosVoip(token: Self.token(20_000 + $0))) })
        try await waitUntil("pushes before the outage") { fleet.apns.requests.count >= 20 }
        try fleet.broker.setBrokerDown(1)
        // Events written during the outage wait in the router's producer and arrive afterwards.
        let during = Task { try await fleet.publish((0..<20).map { Router.unanswered("during-\($0)", uri: Router.iosVoip(token: Self.token(20_100 + $0))) }) }
        let downFor = ContinuousClock.now
        try await waitUntil("10 s of outage", timeout: .seconds(12)) { ContinuousClock.now - downFor >= .seconds(10) }
        try fleet.broker.setBrokerUp(1)
        try await during.value
        let expected = Set((0..<20).map { Self.token(20_000 + $0) } + (0..<20).map { Self.token(20_100 + $0) })
        try await waitUntil("every push sent after the outage", timeout: .seconds(40)) {
            expected.isSubset(of: Set(Self.pushesByToken(fleet.apns.requests).keys))
        }
        let outcomes = try await fleet.waitForOutcomes("an outcome for every call") { outcomes in
            Set(outcomes.compactMap(\.callId)).isSuperset(of: (0..<20).map { "during-\($0)" })
        }
        #expect(outcomes.filter { $0.callId?.hasPrefix("during-") == true }.allSatisfy { $0.result == .sent || $0.result == .dropped })
        #expect(worker.process.isRunning)
    }

    @Test("10,000 garbage records among valid ones: every input accounted for, no crash, lag back to 0")
    func garbage() async throws {
        let fleet = try await FleetHarness(partitions: 4)
        defer { Task { await fleet.stop() } }
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])
        var generator = SystemRandomNumberGenerator()
        var records: [KafkaProducerRecord] = []
        var garbageCount = 0
        var validIds: [String] = []
        let valid = (0..<300).map { Router.response("unknown-\($0)", status: 200) }
        for i in 0..<10_000 {
            let value: [UInt8]?
            switch i % 8 {
            case 0: value = Array("{not json".utf8)
            case 1: value = Array(#"{"v":1,"type":"branch.response","id":"g\#(i)","time":"2026-01-01T00:00:00.000Z","callId":5,"branch":"b","status":180}"#.utf8)
            case 2: value = Array(#"{"v":2,"type":"call.ended","id":"g\#(i)","time":"2026-01-01T00:00:00.000Z","callId":"c","reason":"cancelled"}"#.utf8)
            case 3: value = (0..<64).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 4: value = nil
            case 5: value = Array(#"{"v":1,"type":"party.started","id":"g\#(i)","time":"2026-01-01T00:00:00.000Z"}"#.utf8)
            case 6: value = i % 400 == 6 ? [UInt8](repeating: 0x20, count: 70_000) : Array("[]".utf8)
            default: value = Array(#"{"v":1,"type":"call.ended","id":"g\#(i)","time":"yesterday","callId":"c","reason":"cancelled"}"#.utf8)
            }
            records.append(KafkaProducerRecord(topic: "pushfleet.events", key: Array("garbage-\(i % 97)".utf8), value: value))
            garbageCount += 1
            if i % 33 == 0, let event = valid.dropFirst(validIds.count).first {
                records.append(KafkaProducerRecord(topic: "pushfleet.events", key: Array("k\(validIds.count)".utf8), value: RecordEncoder.encode(event)))
                validIds.append(event.header.id)
            }
        }
        for chunk in stride(from: 0, to: records.count, by: 2000) {
            try await fleet.publishRaw(Array(records[chunk..<min(chunk + 2000, records.count)]))
        }
        let admin = KafkaAdmin(embedded: fleet.broker)
        let ends = try await withThrowingTaskGroup(of: (Int32, Int64).self) { group in
            for p in 0..<fleet.partitions {
                group.addTask {
                    let consumer = KafkaPartitionReader(configuration: KafkaConfiguration(bootstrapServers: fleet.broker.bootstrapServers))
                    return (p, try await consumer.read(KafkaTopicPartition(topic: "pushfleet.events", partition: p)) { _ in }.endOffset)
                }
            }
            var out: [Int32: Int64] = [:]
            for try await (p, end) in group { out[p] = end }
            return out
        }
        try await waitUntil("consumer lag back to 0 on every partition", timeout: .seconds(60)) {
            let committed = try await admin.committedOffsets(group: "pushfleet", topic: "pushfleet.events", partitions: fleet.partitions)
            return ends.allSatisfy { committed[$0.key] == .some($0.value) }
        }
        let letters = try await fleet.deadLetters()
        let outcomes = try await fleet.outcomes()
        #expect(letters.count == garbageCount, "one dead letter per garbage record")
        let accounted = Set(outcomes.map(\.eventId))
        #expect(validIds.allSatisfy { accounted.contains($0) }, "an outcome for every valid event")
        #expect(letters.contains { $0.error.contains("callId") && $0.error.contains("expected string") })
        #expect(letters.contains { $0.error.contains("unsupported contract version 2") })
        #expect(letters.contains { $0.error.contains("64 KiB") })
        #expect(letters.contains { $0.error.contains("time") })
        #expect(letters.contains { $0.error.contains("null") })
        #expect(worker.process.isRunning, "the worker never crashes")
    }
}
}  // extension FleetProcesses

/// Tokens of calls published so far (the traffic task writes, the test reads).
final class SentCalls: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var tokens: [String] = []
    func add(_ token: String) { lock.withLock { tokens.append(token) } }
    var all: [String] { lock.withLock { tokens } }
}
