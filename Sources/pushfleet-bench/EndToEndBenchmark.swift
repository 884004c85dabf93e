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
    /// 16 partitions keep every partition of the embedded broker far from its ~5 MiB cap: with
    /// 8, the state partitions reached ~4 MiB in the 20,000-event runs and the broker's appends
    /// slowed down as they filled (the latency tail grew over the run's last seconds).
    static let partitions: Int32 = 16
    static let events = "pushfleet.events"
    static let outcomes = "pushfleet.outcomes"

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Where the CPU went during a run, in microseconds per push: the worker process(es), this
    /// process (the embedded broker's threads, the event producer and the outcome watcher) and
    /// nghttpd. Says which part bounds the throughput on this machine.
    struct CPUSplit {
        var workers: Double
        var brokerAndBench: Double
        var nghttpd: Double
    }

    /// Events per second from the first produce to the last `sent` outcome, `workers` workers,
    /// and the CPU each process spent per push meanwhile.
    static func throughput(pushfleet: String, workers: Int, count: Int, port: Int) async throws -> (rate: Double, cpu: CPUSplit) {
        try await withStack(pushfleet: pushfleet, workers: workers, port: port) { stack in
            let before = stack.cpuSeconds()
            let start = ContinuousClock.now
            for chunk in stride(from: 0, to: count, by: 5_000) {
                let records = (chunk..<min(count, chunk + 5_000)).map { record(run: "t", index: $0) }
                for result in await stack.producer.sendBatch(records) { _ = try result.get() }
            }
            try await stack.watcher.waitFor(run: "t", count, result: .sent, timeout: .seconds(300))
            let after = stack.cpuSeconds()
            let seconds = (stack.watcher.lastAt(run: "t")! - start).seconds
            let perPush = { (a: Double, b: Double) in (a - b) * 1e6 / Double(count) }
            return (Double(count) / seconds, CPUSplit(
                workers: perPush(after.workers, before.workers), brokerAndBench: perPush(after.this, before.this),
                nghttpd: perPush(after.nghttpd, before.nghttpd)))
        }
    }

    /// CPU seconds (user + system) a process has used, from /proc/PID/stat.
    static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        // Fields after the command name: state is field 3, utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Ingest: events that needsPush skips (To has a tag: an in-dialog request) through one
    /// worker, first produce to last `skipped` outcome, against `kcat` reading the same events
    /// topic (every record, from its first output byte to its end) in the same stack.
    static func ingest(pushfleet: String, count: Int, port: Int, kcat: String) async throws -> (ours: Double, kcat: Double) {
        try await withStack(pushfleet: pushfleet, workers: 1, port: port) { stack in
            let start = ContinuousClock.now
            for chunk in stride(from: 0, to: count, by: 5_000) {
                let records = (chunk..<min(count, chunk + 5_000)).map { record(run: "i", index: $0, inDialog: true) }
                for result in await stack.producer.sendBatch(records) { _ = try result.get() }
            }
            try await stack.watcher.waitFor(run: "i", count, result: .skipped, timeout: .seconds(300))
            let ours = Double(count) / (stack.watcher.lastAt(run: "i")! - start).seconds
            let run = try streamProcess(kcat, ["-b", stack.broker.bootstrapServers, "-C", "-t", events, "-o", "beginning", "-e", "-q", "-f", "%s\n"])
            guard run.status == 0 else { throw Failure(description: "kcat exited with \(run.status)") }
            return (ours, Double(count + stack.warmUp) / run.streaming)
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
            try await stack.watcher.waitFor(run: "l", total, result: .sent, timeout: .seconds(120))
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

    /// A fresh APNs signing key (P-256, PKCS#8 PEM: the `.p8` format) for `apple-token-keys`.
    static func writeAPNsKey(to path: String) throws {
        try SenderBenchmark.shell("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
    }

    /// One VoIP-capable iOS contact per event; every Call-ID distinct, so every event pushes.
    /// `inDialog`: To carries a tag, so needsPush skips the event (docs/contract.md §2.1).
    static func record(run: String, index: Int, inDialog: Bool = false) -> KafkaProducerRecord {
        let callId = "bench-\(run)-\(index)@example.org"
        let event = BranchUnanswered(
            header: RecordHeader(id: "bench-\(run)-\(index)", time: SystemClock().now()), callId: callId, branch: "z9hG4bK-\(index)",
            method: "INVITE",
            requestUri: "sip:callee@127.0.0.1;pn-provider=apns;pn-prid=\(token):voip;pn-param=\(teamId).\(bundle).voip",
            from: SIPAddress(uri: "sip:caller@example.org", tag: "t\(index)"), to: SIPAddress(uri: "sip:callee@example.org", tag: inDialog ? "d\(index)" : nil))
        return KafkaProducerRecord(topic: events, key: Array(callId.utf8), value: RecordEncoder.encode(RouterEvent.branchUnanswered(event)))
    }

    struct Stack {
        let broker: EmbeddedKafkaBroker
        let producer: KafkaProducer
        let watcher: OutcomeWatcher
        /// Events produced before the measurement (all pushed).
        let warmUp: Int
        let workerPids: [Int32]
        let nghttpdPid: Int32

        func cpuSeconds() -> (workers: Double, this: Double, nghttpd: Double) {
            (workerPids.map { EndToEndBenchmark.cpuSeconds(pid: $0) }.reduce(0, +),
             EndToEndBenchmark.cpuSeconds(pid: getpid()), EndToEndBenchmark.cpuSeconds(pid: nghttpdPid))
        }
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
        try writeAPNsKey(to: dir + "/AuthKey.p8")
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
        try await watcher.waitFor(run: "w", warmUp, result: .sent, timeout: .seconds(60))
        let result = try await body(Stack(broker: broker, producer: producer, watcher: watcher, warmUp: warmUp,
                                          workerPids: processes.map { $0.0.processIdentifier }, nghttpdPid: server.process.processIdentifier))
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

/// Reads the outcomes topic from the start in a group of its own, counting the outcomes of each
/// run (event ids `bench-<run>-<n>`) by result and keeping the latencies of `sent` ones; a
/// result other than the one a run waits for fails the benchmark with its reason.
final class OutcomeWatcher: Sendable {
    private struct Run {
        var counts: [PushResult: Int] = [:]
        var lastAt: ContinuousClock.Instant?
        var latencies: [Double] = []
        var firstOther: [PushResult: String] = [:]
    }
    private struct State {
        var runs: [String: Run] = [:]
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
                            let name = String(parts[1])
                            watcher.state.withLock { s in
                                var run = s.runs[name] ?? Run()
                                run.counts[outcome.result, default: 0] += 1
                                run.lastAt = now
                                if outcome.result == .sent { run.latencies.append(Double(outcome.latencyMs ?? 0)) }
                                if run.firstOther[outcome.result] == nil { run.firstOther[outcome.result] = outcome.reason ?? "" }
                                s.runs[name] = run
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

    func lastAt(run: String) -> ContinuousClock.Instant? { state.withLock { $0.runs[run]?.lastAt } }
    func latencies(run: String) -> [Double] { state.withLock { $0.runs[run]?.latencies ?? [] } }

    /// Waits until `count` outcomes of `run` have `result`; any other result fails.
    func waitFor(run: String, _ count: Int, result: PushResult, timeout: Duration) async throws {
        try await EndToEndBenchmark.waitUntil("\(count) \(result.rawValue) outcomes of run \(run)", timeout: timeout) {
            let r = state.withLock { $0.runs[run] ?? Run() }
            if let (other, reason) = r.firstOther.first(where: { $0.key != result }) {
                throw EndToEndBenchmark.Failure(description: "run \(run): an outcome was \(other.rawValue), not \(result.rawValue): \(reason)")
            }
            return r.counts[result, default: 0] >= count
        }
    }

    func stop() async {
        await consumer.close()
        await task.withLock { $0 }?.value
    }
}
