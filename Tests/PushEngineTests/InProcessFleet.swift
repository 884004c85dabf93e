import Foundation
import Kafka
import Logging
import PushPolicy
import PushSandbox
import PushSenders
@testable import PushEngine

/// A worker in the test process against the embedded broker and the sandbox APNs/FCM servers,
/// for what only the worker object shows (its status, its fatal path).
final class InProcessFleet: Sendable {
    let broker: EmbeddedKafkaBroker
    let apns: APNsSandbox
    let fcm: FCMSandbox
    let directory: URL
    let config: PushFleetConfig
    let senders: PushSenders

    init(partitions: Int32 = 2, kafka: [String: String] = [:]) async throws {
        broker = try EmbeddedKafkaBroker(brokers: 1)
        for topic in ["pushfleet.events", "pushfleet.registrations", "pushfleet.state", "pushfleet.outcomes", "pushfleet.dead-letter"] {
            try broker.createTopic(KafkaTopicSpec(name: topic, partitions: partitions))
        }
        let ca = try SandboxCertificateAuthority.generate()
        apns = try APNsSandbox(ca: ca)
        try await apns.start()
        fcm = try FCMSandbox(ca: ca)
        try await fcm.start()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-inproc-\(UUID().uuidString.prefix(8))")
        let files = try SandboxFleetFiles(directory: directory, ca: ca, fcm: fcm)
        try files.writeConfig(bootstrap: broker.bootstrapServers, apns: apns, fcm: fcm, kafka: kafka, pushfleet: ["metrics-listen": ""])
        config = try PushFleetConfig.load(path: files.configFile)
        senders = try PushSenders(config: config, logger: Logger(label: "test.senders"))
    }

    /// Waits (with a deadline) until the worker is ready.
    func waitReady(_ worker: PushWorker, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !worker.isReady, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
    }

    func stop() async {
        await senders.shutdown()
        try? await apns.shutdown()
        try? await fcm.shutdown()
        broker.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}
