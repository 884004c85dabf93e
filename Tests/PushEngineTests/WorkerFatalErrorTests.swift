import Foundation
import Kafka
import Logging
import PushPolicy
import PushSandbox
import PushSenders
import Synchronization
import Testing
@testable import PushEngine

@Suite("Worker: a fatal Kafka error stops it", .timeLimit(.minutes(2)))
struct WorkerFatalErrorTests {
    @Test("a fatal producer error makes /health fail at once and run() throw it, instead of retrying writes forever")
    func fatalProducerError() async throws {
        let broker = try EmbeddedKafkaBroker(brokers: 1)
        defer { broker.shutdown() }
        for topic in ["pushfleet.events", "pushfleet.registrations", "pushfleet.state", "pushfleet.outcomes", "pushfleet.dead-letter"] {
            try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 2))
        }
        let ca = try SandboxCertificateAuthority.generate()
        let apns = try APNsSandbox(ca: ca)
        try await apns.start()
        let fcm = try FCMSandbox(ca: ca)
        try await fcm.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-fatal-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = try SandboxFleetFiles(directory: directory, ca: ca, fcm: fcm)
        try files.writeConfig(bootstrap: broker.bootstrapServers, apns: apns, fcm: fcm, pushNotification: [:], router: [:],
                              pushfleet: ["metrics-listen": ""])
        let config = try PushFleetConfig.load(path: files.configFile)
        let senders = try PushSenders(config: config, logger: Logger(label: "test.senders"))
        let told = Mutex<WorkerFatalError?>(nil)
        let worker = try PushWorker(config: config, senders: senders) { error in told.withLock { $0 = error } }
        let run = Task { try await worker.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while !worker.isReady, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(worker.isReady && worker.status().live)

        worker.raiseProducerFatalErrorForTesting()
        let ended = await run.result
        let thrown = #expect(throws: WorkerFatalError.self) { try ended.get() }
        #expect(thrown?.error.isFatal == true)
        #expect(told.withLock { $0 } != nil, "the owner was told as the worker started stopping")
        let status = worker.status()
        #expect(!status.live && !status.ready)
        #expect(status.problems.first?.hasPrefix("fatal:") == true, "\(status.problems)")
        await senders.shutdown()
        try await apns.shutdown()
        try await fcm.shutdown()
    }
}
