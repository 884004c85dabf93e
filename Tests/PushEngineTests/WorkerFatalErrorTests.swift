import Foundation
import Kafka
import Logging
import PushPolicy
import PushSandbox
import PushSenders
import PushContract
import Synchronization
import Testing
@testable import PushEngine

@Suite("Worker: a fatal Kafka error stops it", .timeLimit(.minutes(2)))
struct WorkerFatalErrorTests {
    @Test("a fatal producer error makes /health fail at once and run() throw it, instead of retrying writes forever")
    func fatalProducerError() async throws {
        let fleet = try await InProcessFleet()
        let told = Mutex<WorkerFatalError?>(nil)
        let worker = try PushWorker(config: fleet.config, senders: fleet.senders) { error in told.withLock { $0 = error } }
        let run = Task { try await worker.run() }
        try await fleet.waitReady(worker)
        #expect(worker.isReady && worker.status().live)

        worker.raiseProducerFatalErrorForTesting()
        let ended = await run.result
        let thrown = #expect(throws: WorkerFatalError.self) { try ended.get() }
        #expect(thrown?.error.isFatal == true)
        #expect(told.withLock { $0 } != nil, "the owner was told as the worker started stopping")
        let status = worker.status()
        #expect(!status.live && !status.ready)
        #expect(status.problems.first?.hasPrefix("fatal:") == true, "\(status.problems)")
        await fleet.stop()
    }
}

@Suite("Worker: health over time", .timeLimit(.minutes(2)))
struct WorkerHealthTests {
    @Test("a worker idle after its last push stays live: a lane is busy only while it has work")
    func idleAfterWorkStaysLive() async throws {
        let fleet = try await InProcessFleet()
        var bounds = WorkerHealthBounds()
        bounds.laneStall = .milliseconds(300)
        let worker = try PushWorker(config: fleet.config, senders: fleet.senders, health: bounds)
        let run = Task { try await worker.run() }
        try await fleet.waitReady(worker)
        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: fleet.broker.bootstrapServers))
        let token = String(repeating: "ab", count: 32)
        let event = RouterEvent.branchUnanswered(BranchUnanswered(
            header: RecordHeader(id: "idle-1", time: SystemClock().now()), callId: "idle-call", branch: "b1", method: "INVITE",
            requestUri: "sip:a@192.0.2.1;pn-provider=apns.dev;pn-param=ABCD1234.org.linphone.phone.voip;pn-prid=\(token):voip",
            from: SIPAddress(uri: "sip:bob@example.org"), to: SIPAddress(uri: "sip:alice@example.org")))
        try await producer.send(KafkaProducerRecord(topic: "pushfleet.events", key: Array("idle-call".utf8), value: RecordEncoder.encode(event)))
        _ = try await fleet.apns.waitForRequests(count: 1, timeout: .seconds(20))
        // Its outcome (written with the final state, in one step) is acknowledged...
        let reader = KafkaPartitionReader(configuration: KafkaConfiguration(bootstrapServers: fleet.broker.bootstrapServers))
        let written = ContinuousClock.now + .seconds(20)
        var recorded = false
        while !recorded, ContinuousClock.now < written {
            for partition in Int32(0)..<2 {
                let outcomes = try await reader.readAll(KafkaTopicPartition(topic: "pushfleet.outcomes", partition: partition))
                recorded = recorded || outcomes.contains { String(decoding: $0.key ?? [], as: UTF8.self) == "idle-call" }
            }
            if !recorded { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(recorded)
        // ...then nothing happens for 2 s, over 6 stall bounds: once the acknowledgement has
        // reached the lane (a few ms), the worker must stay live (it went "wedged" 300 ms after
        // its last write, and stayed so). No problem may show in the last 1.5 s.
        let start = ContinuousClock.now
        var lastProblem: (Duration, [String])?
        while ContinuousClock.now - start < .seconds(2) {
            let problems = worker.status().problems.filter { $0.contains("no progress") }
            if !problems.isEmpty { lastProblem = (ContinuousClock.now - start, problems) }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(lastProblem.map { $0.0 < .milliseconds(500) } ?? true, "\(lastProblem.map { "\($0.1) at \($0.0)" } ?? "")")
        #expect(worker.status().live)
        await worker.stop()
        _ = await run.result
        await fleet.stop()
    }
}
