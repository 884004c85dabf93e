import Foundation
import Kafka
import PushContract
import Synchronization

/// The whole pipeline with real processes: `branch.unanswered` events produced to the embedded
/// broker → `pushfleet worker` process(es) → APNs VoIP pushes (.p8 token auth, TLS, HTTP/2) at
/// `nghttpd`, which answers 200 to `POST /3/device/<token>`. Counted from the outcomes topic.
///
/// Three figures: throughput with one worker (against `h2load` posting the same path to the
/// same server), the same load with two workers (scale-out, on this machine's cores), and the
/// latency from an event's `time` to the provider's answer at a fixed event rate.
enum EndToEndBenchmark {
    static let token = String(repeating: "0123456789abcdef", count: 4)
    static let teamId = "ABCD1234EF"
    static let bundle = "org.example.bench"
    static let partitions: Int32 = 8
    static let events = "pushfleet.events"
    static let outcomes = "pushfleet.outcomes"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Events per second from the first produce to the last `sent` outcome, `workers` workers.
    static func throughput(pushfleet: String, workers: Int, count: Int, port: Int) async throws -> Double {
        try await withStack(pushfleet: pushfleet, workers: workers, port: port) { stack in
            let start = ContinuousClock.now
            for chunk in stride(from: 0, to: count, by: 5_000) {
                let records = (chunk..<min(count, chunk + 5_000)).map { record(run: "t", index: $0) }
                for result in await stack.producer.sendBatch(records) { _ = try result.get() }
            }
            try await stack.watcher.waitForSent(run: "t", count, timeout: .seconds(300))
            let seconds = (stack.watcher.lastSentAt(run: "t")! - start).seconds
            return Double(count) / seconds
        }
    }

    /// Milliseconds from each event's `time` to the provider's answer (the outcome's
    /// `latencyMs`), events produced one by one at `rate` per second for `seconds`.
    static func latency(pushfleet: String, rate: Int, seconds: Int, port: Int) async throws -> [Double] {
        try await withStack(pushfleet: pushfleet, workers: 1, port: port) { stack in
            let total = rate * seconds
            let clock = ContinuousClock()
            let start = clock.now
            var produced = 0
            while produced < total {
                let elapsed = (clock.now - start).seconds
                let due = min(total, Int(elapsed * Double(rate)) + 1)
                if due > produced {
                    stack.producer.enqueue((produced..<due).map { record(run: "l", index: $0) }) { _ in }
                    produced = due
                }
                try await Task.sleep(for: .microseconds(500))
            }
            try await stack.watcher.waitForSent(run: "l", total, timeout: .seconds(120))
            return stack.watcher.latencies(run: "l")
        }
    }

    /// `h2load` posting an APNs-sized body to the same path of a fresh nghttpd.
    static func h2loadReference(requests: Int, port: Int, h2load: String = "/usr/bin/h2load") async throws -> Double {
        let server = try Nghttpd(files: ["3/device/\(token)": []], port: port)
        defer { server.stop() }
        let body = server.directory + "/body"
        try Data(#"{"aps":{"alert":{"loc-key":"IC_MSG","loc-args":["sip:caller@example.org"]},"sound":"","badge":1},"from-uri":"sip:caller@example.org","display-name":"","call-id":"bench-call","pn_ttl":90,"uuid":"","send-time":"2026-11-26 18:00:00"}"#.utf8)
            .write(to: URL(fileURLWithPath: body))
        let url = server.url("/3/device/\(token)")
        try await SenderBenchmark.waitForServer(url: url, caFile: server.certificateFile)
        let output = try SenderBenchmark.shell(h2load, ["-n", String(requests), "-c", "1", "-m", "100", "-d", body, url])
        guard let rate = SenderBenchmark.parseH2loadRate(output) else { throw Failure(description: "cannot read h2load's rate:\n\(output)") }
        return rate
    }

    /// One VoIP-capable iOS contact per event; every Call-ID distinct, so every event pushes.
    static func record(run: String, index: Int) -> KafkaProducerRecord {
        let callId = "bench-\(run)-\(index)@example.org"
        let event = BranchUnanswered(
            header: RecordHeader(id: "bench-\(run)-\(index)", time: SystemClock().now()), callId: callId, branch: "z9hG4bK-\(index)",
            method: "INVITE",
            requestUri: "sip:callee@127.0.0.1;pn-provider=apns;pn-prid=\(token):voip;pn-param=\(teamId).\(bundle).voip",
            from: SIPAddress(uri: "sip:caller@example.org", tag: "t\(index)"), to: SIPAddress(uri: "sip:callee@example.org"))
        return KafkaProducerRecord(topic: events, key: Array(callId.utf8), value: RecordEncoder.encode(RouterEvent.branchUnanswered(event)))
    }

    struct Stack {
        let broker: EmbeddedKafkaBroker
        let producer: KafkaProducer
        let watcher: OutcomeWatcher
    }

    /// Broker, topics, nghttpd, a .p8 key, a flexisip.conf and `workers` worker processes that
    /// together own every events partition, warmed up (the producer has its idempotent producer
    /// id, every worker its provider connection and token) so that figures measure the steady
    /// state; torn down whatever `body` does.
    static func withStack<R>(pushfleet: String, workers count: Int, port: Int, _ body: (Stack) async throws -> R) async throws -> R {
        let broker = try EmbeddedKafkaBroker(brokers: 1)
        defer { broker.shutdown() }
        for topic in ContractTopic.all {
            try broker.createTopic(KafkaTopicSpec(name: topic.defaultName, partitions: partitions, configs: ["cleanup.policy": topic.cleanupPolicy]))
        }
        let server = try Nghttpd(files: ["3/device/\(token)": []], port: port)
        defer { server.stop() }
        let dir = server.directory
        try SenderBenchmark.shell("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", dir + "/AuthKey.p8"])
        try FileManager.default.createDirectory(atPath: dir + "/apn", withIntermediateDirectories: true)
        let config = """
            [module::PushNotification]
            enabled=true
            apple-certificate-dir=\(dir)/apn
            # Flexisip's default (100) drops pushes beyond 100 waiting per sender: a benchmark
            # that produces as fast as it can would measure drops, not pushes.
            max-queue-size=20000

            [kafka]
            bootstrap-servers=\(broker.bootstrapServers)
            # The mock broker answers a fetch with no data only after fetch.wait.max.ms (a real
            # broker answers as soon as data arrives): 1 ms keeps that out of the latency.
            rdkafka.fetch.wait.max.ms=1
            rdkafka.session.timeout.ms=6000
            rdkafka.heartbeat.interval.ms=200

            [pushfleet]
            apple-token-keys=\(teamId):KEY1234567:\(dir)/AuthKey.p8
            apple-push-uri=\(server.url(""))
            apple-dev-push-uri=\(server.url(""))
            tls-ca-file=\(server.certificateFile)
            metrics-listen=

            """
        try config.write(toFile: dir + "/flexisip.conf", atomically: true, encoding: .utf8)
        try await SenderBenchmark.waitForServer(url: server.url("/3/device/\(token)"), caFile: server.certificateFile)

        var processes: [(Process, String)] = []
        defer {
            for (process, _) in processes {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
        for i in 0..<count {
            let log = dir + "/worker-\(i).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: pushfleet)
            process.arguments = ["worker", "--config", dir + "/flexisip.conf"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle(forWritingAtPath: log)
            try process.run()
            processes.append((process, log))
        }
        try await waitUntil("\(count) worker(s) own all \(partitions) partitions", timeout: .seconds(60)) {
            for (process, log) in processes where !process.isRunning {
                throw Failure(description: "worker exited: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            let owned = processes.map { ownedPartitions(log: $0.1) }
            return owned.allSatisfy { !$0.isEmpty } && owned.map(\.count).reduce(0, +) == Int(partitions)
                && owned.reduce(Set<Int>()) { $0.union($1) }.count == Int(partitions)
        }
        var producerConfig = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "bench-router")
        producerConfig.set("linger.ms", "0")
        let producer = try KafkaProducer(configuration: producerConfig)
        let watcher = try await OutcomeWatcher.start(broker)
        let warmUp = 16 * Int(partitions)
        for result in await producer.sendBatch((0..<warmUp).map { record(run: "w", index: $0) }) { _ = try result.get() }
        try await watcher.waitForSent(run: "w", warmUp, timeout: .seconds(60))
        let result = try await body(Stack(broker: broker, producer: producer, watcher: watcher))
        await watcher.stop()
        return result
    }

    /// Events partitions a worker owns according to its log: restored ones minus revoked ones.
    static func ownedPartitions(log: String) -> Set<Int> {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        var owned = Set<Int>()
        for line in text.split(separator: "\n") {
            if line.contains("partition restored"), let range = line.range(of: "partition=") {
                if let p = Int(line[range.upperBound...].prefix { $0.isNumber }) { owned.insert(p) }
            } else if line.contains("partitions revoked"), let range = line.range(of: "partitions=[") {
                for item in line[range.upperBound...].prefix(while: { $0 != "]" }).split(separator: ",") {
                    if let p = Int(item.trimmingCharacters(in: .whitespaces)) { owned.remove(p) }
                }
            }
        }
        return owned
    }

    static func waitUntil(_ what: String, timeout: Duration, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "timed out waiting until \(what)")
    }
}

/// Reads the outcomes topic from the start in a group of its own, counting the `sent` outcomes
/// of each run (event ids `bench-<run>-<n>`) and keeping their latencies; any other result fails
/// the benchmark with its reason.
final class OutcomeWatcher: Sendable {
    private struct Run {
        var sent = 0
        var lastSentAt: ContinuousClock.Instant?
        var latencies: [Double] = []
    }
    private struct State {
        var runs: [String: Run] = [:]
        var failure: String?
        var assigned = false
    }
    private let state = Mutex(State())
    private let consumer: KafkaConsumer
    private let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    private init(consumer: KafkaConsumer) {
        self.consumer = consumer
    }

    static func start(_ broker: EmbeddedKafkaBroker) async throws -> OutcomeWatcher {
        var config = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "bench-outcomes")
        config.set("fetch.wait.max.ms", "5")
        let consumer = try KafkaConsumer(configuration: config, options: .init(groupId: "bench-outcomes-\(UUID().uuidString)", topics: [EndToEndBenchmark.outcomes]))
        let watcher = OutcomeWatcher(consumer: consumer)
        watcher.task.withLock {
            $0 = Task {
                for await event in consumer {
                    switch event {
                    case .assigned: watcher.state.withLock { $0.assigned = true }
                    case .messages(let batch):
                        let now = ContinuousClock.now
                        for message in batch {
                            guard let outcome = try? RecordDecoder.decodePushOutcome(message.value ?? []) else { continue }
                            let parts = outcome.eventId.split(separator: "-")
                            guard parts.count == 3, parts[0] == "bench" else { continue }
                            watcher.state.withLock { s in
                                if outcome.result == .sent {
                                    s.runs[String(parts[1]), default: Run()].sent += 1
                                    s.runs[String(parts[1])]!.lastSentAt = now
                                    s.runs[String(parts[1])]!.latencies.append(Double(outcome.latencyMs ?? 0))
                                } else if s.failure == nil {
                                    s.failure = "\(outcome.result.rawValue): \(outcome.reason ?? "")"
                                }
                            }
                        }
                    default: break
                    }
                }
            }
        }
        try await EndToEndBenchmark.waitUntil("the outcomes watcher is assigned", timeout: .seconds(30)) {
            watcher.state.withLock { $0.assigned }
        }
        return watcher
    }

    func lastSentAt(run: String) -> ContinuousClock.Instant? { state.withLock { $0.runs[run]?.lastSentAt } }
    func latencies(run: String) -> [Double] { state.withLock { $0.runs[run]?.latencies ?? [] } }

    func waitForSent(run: String, _ count: Int, timeout: Duration) async throws {
        try await EndToEndBenchmark.waitUntil("\(count) pushes of run \(run) sent", timeout: timeout) {
            let (sent, failure) = state.withLock { ($0.runs[run]?.sent ?? 0, $0.failure) }
            if let failure { throw EndToEndBenchmark.Failure(description: "a push was not sent: \(failure)") }
            return sent >= count
        }
    }

    func stop() async {
        await consumer.close()
        await task.withLock { $0 }?.value
    }
}
