import Foundation
import Kafka
import PushContract
import PushSandbox
import Synchronization

/// A whole fleet on loopback for end-to-end tests: the embedded Kafka broker, sandbox APNs and
/// FCM servers with a throwaway CA, a config file pointing at them, and real `pushfleet worker`
/// processes. Events go in through Kafka; pushes are observed at the sandboxes and outcomes read
/// back from the outcomes topic.
final class FleetHarness: @unchecked Sendable {
    // @unchecked: `workers` is only touched by the (serialized) test that owns the harness.
    let broker: EmbeddedKafkaBroker
    let apns: APNsSandbox
    let fcm: FCMSandbox
    let directory: URL
    let configPath: String
    let partitions: Int32
    var workers: [ChildProcess] = []
    let producer: KafkaProducer

    static let fcmProject = SandboxFleetFiles.firebaseProject
    static let topics = ["pushfleet.events", "pushfleet.registrations", "pushfleet.state", "pushfleet.outcomes", "pushfleet.dead-letter"]

    /// `metricsListen` is `[pushfleet] metrics-listen` (empty: no endpoint; `127.0.0.1:0`: a free
    /// port, which the worker logs).
    init(partitions: Int32 = 4, pushNotification: [String: String] = [:], router: [String: String] = [:],
         pushfleet: [String: String] = [:], metricsListen: String = "") async throws {
        self.partitions = partitions
        broker = try EmbeddedKafkaBroker(brokers: 1)
        for topic in Self.topics {
            try broker.createTopic(KafkaTopicSpec(name: topic, partitions: partitions,
                                                  configs: ["cleanup.policy": topic.hasSuffix("state") || topic.hasSuffix("registrations") ? "compact" : "delete"]))
        }
        let ca = try SandboxCertificateAuthority.generate()
        apns = try APNsSandbox(ca: ca)
        try await apns.start()
        fcm = try FCMSandbox(ca: ca)
        try await fcm.start()

        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-e2e-\(UUID().uuidString.prefix(8))")
        let files = try SandboxFleetFiles(directory: directory, ca: ca, fcm: fcm)
        try files.writeConfig(bootstrap: broker.bootstrapServers, apns: apns, fcm: fcm, pushNotification: pushNotification,
                              router: router, pushfleet: pushfleet.merging(["metrics-listen": metricsListen]) { $1 })
        configPath = files.configFile
        var producerConfig = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "e2e-router")
        producerConfig.set("linger.ms", "1")
        producer = try KafkaProducer(configuration: producerConfig)
    }

    /// Starts a `pushfleet worker` and waits until it logged that it started consuming.
    @discardableResult
    func startWorker(_ extra: [String] = []) async throws -> ChildProcess {
        let worker = try ChildProcess("pushfleet", ["worker", "--config", configPath] + extra)
        workers.append(worker)
        try await waitUntil("worker started", timeout: .seconds(20)) {
            if !worker.process.isRunning { throw TestFailure("worker exited: \(worker.errors.text)") }
            return worker.errors.text.contains("worker started")
        }
        return worker
    }

    /// Events partitions a worker owns according to its log: restored ones minus revoked ones.
    static func ownedPartitions(_ worker: ChildProcess) -> Set<Int> {
        owned(worker, restored: "] partition restored", revokedKey: "partitions=[")
    }

    /// Registrations partitions (register wake-up) a worker owns according to its log.
    static func ownedRegistrationPartitions(_ worker: ChildProcess) -> Set<Int> {
        owned(worker, restored: "registrations partition restored", revokedKey: "registrations=[")
    }

    /// `restored` lines add their `partition=N`; "partitions revoked" lines remove the list under
    /// `revokedKey` (the worker logs events and registrations partitions under separate keys).
    private static func owned(_ worker: ChildProcess, restored: String, revokedKey: String) -> Set<Int> {
        var owned = Set<Int>()
        for line in worker.errors.text.split(separator: "\n") {
            if line.contains(restored), let p = Self.number(after: "partition=", in: line) {
                owned.insert(p)
            } else if line.contains("partitions revoked"), let range = line.range(of: revokedKey) {
                let list = line[range.upperBound...].prefix { $0 != "]" }
                for item in list.split(separator: ",") { if let p = Int(item.trimmingCharacters(in: .whitespaces)) { owned.remove(p) } }
            }
        }
        return owned
    }

    private static func number(after prefix: String, in line: Substring) -> Int? {
        guard let range = line.range(of: prefix) else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// Waits until `workers` together own every partition, each exactly once.
    func waitForAssignment(of workers: [ChildProcess], timeout: Duration = .seconds(40)) async throws {
        let total = Int(partitions)
        try await waitUntil("all \(total) partitions restored across \(workers.count) worker(s)", timeout: timeout) {
            let sets = workers.map { Self.ownedPartitions($0) }
            let all = sets.reduce(Set<Int>()) { $0.union($1) }
            return all.count == total && sets.map(\.count).reduce(0, +) == total && sets.allSatisfy { !$0.isEmpty }
        }
    }

    func publish(_ events: [RouterEvent]) async throws {
        let records = events.map { event -> KafkaProducerRecord in
            let key: String = switch event {
            case .branchUnanswered(let e): e.callId
            case .branchResponse(let e): e.callId
            case .callEnded(let e): e.callId
            case .registrationUpdated(let r): "\(r.aor)|\(r.instanceId ?? r.contact)"
            }
            let topic = if case .registrationUpdated = event { "pushfleet.registrations" } else { "pushfleet.events" }
            // Stamped with the event's time, as `pushfleet publish` and a router should do.
            return KafkaProducerRecord(topic: topic, key: Array(key.utf8), value: RecordEncoder.encode(event),
                                       timestamp: event.header.time.millisecondsSince1970)
        }
        for result in await producer.sendBatch(records) { _ = try result.get() }
    }

    func publishRaw(_ records: [KafkaProducerRecord]) async throws {
        for result in await producer.sendBatch(records) { _ = try result.get() }
    }

    /// Every record of a topic, all partitions.
    func read(_ topic: String) async throws -> [KafkaMessage] {
        let reader = KafkaPartitionReader(configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "e2e-reader"))
        var all: [KafkaMessage] = []
        for partition in 0..<partitions {
            all += try await reader.readAll(KafkaTopicPartition(topic: topic, partition: partition))
        }
        return all
    }

    func outcomes() async throws -> [PushOutcome] {
        try await read("pushfleet.outcomes").map { try RecordDecoder.decodePushOutcome($0.value ?? []) }
    }

    func deadLetters() async throws -> [DeadLetter] {
        try await read("pushfleet.dead-letter").map { try RecordDecoder.decodeDeadLetter($0.value ?? []) }
    }

    /// Waits until the outcomes satisfy `condition`; returns them.
    @discardableResult
    func waitForOutcomes(_ what: String, timeout: Duration = .seconds(30), _ condition: @escaping @Sendable ([PushOutcome]) -> Bool) async throws -> [PushOutcome] {
        let found = Mutex<[PushOutcome]>([])
        try await waitUntil(what, timeout: timeout) {
            let outcomes = try await self.outcomes()
            found.withLock { $0 = outcomes }
            return condition(outcomes)
        }
        return found.withLock { $0 }
    }

    func stop() async {
        for worker in workers where worker.process.isRunning {
            worker.signal(SIGTERM)
            _ = try? await worker.waitForExit(timeout: .seconds(20))
        }
        try? await apns.shutdown()
        try? await fcm.shutdown()
        broker.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Contact URIs with push parameters and events stamped with the current time.
enum Router {
    static let voipToken = String(repeating: "ab", count: 32)
    static let remoteToken = String(repeating: "cd", count: 32)

    static func iosVoip(token: String = voipToken) -> String {
        "sip:alice@192.0.2.1;pn-provider=apns.dev;pn-param=ABCD1234.org.linphone.phone.voip;pn-prid=\(token):voip"
    }

    static func iosRemote(token: String = remoteToken, interval: Int? = nil) -> String {
        "sip:alice@192.0.2.1;pn-provider=apns.dev;pn-param=ABCD1234.org.linphone.phone;pn-prid=\(token)"
            + (interval.map { ";pn-call-remote-push-interval=\($0)" } ?? "")
    }

    static func android(token: String = "fcm-token-1") -> String {
        "sip:alice@192.0.2.2;pn-provider=fcm;pn-param=\(FleetHarness.fcmProject);pn-prid=\(token)"
    }

    static func now(offsetMs: Int64 = 0) -> EventTime { SystemClock().now().adding(milliseconds: offsetMs) }

    static func unanswered(_ call: String, branch: String = "b1", method: String = "INVITE", uri: String, body: String? = nil,
                           headers: [(String, String)] = [], toTag: String? = nil, time: EventTime = now()) -> RouterEvent {
        .branchUnanswered(BranchUnanswered(
            header: RecordHeader(id: "\(call)-\(branch)-\(method)-\(UUID().uuidString.prefix(6))", time: time), callId: call, branch: branch,
            method: method, requestUri: uri, from: SIPAddress(uri: "sip:bob@example.org", displayName: "Bob \"the caller\""),
            to: SIPAddress(uri: "sip:alice@example.org", tag: toTag), headers: SIPHeaders(headers.map { (name: $0.0, value: $0.1) }),
            body: body, instanceId: "<urn:uuid:0e0e0e0e-1111-2222-3333-444444444444>"))
    }

    static func response(_ call: String, branch: String = "b1", status: Int) -> RouterEvent {
        .branchResponse(BranchResponse(header: RecordHeader(id: "\(call)-r\(status)-\(UUID().uuidString.prefix(6))", time: now()),
                                       callId: call, branch: branch, status: status))
    }

    static func ended(_ call: String, _ reason: CallEndReason) -> RouterEvent {
        .callEnded(CallEnded(header: RecordHeader(id: "\(call)-end-\(UUID().uuidString.prefix(6))", time: now()), callId: call, reason: reason))
    }
}

extension KafkaMessage {
    var valueString: String { String(decoding: value ?? [], as: UTF8.self) }
}
