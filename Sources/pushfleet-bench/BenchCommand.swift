import ArgumentParser
import Foundation
import Kafka

/// `pushfleet-bench`: measures the hot paths and compares each figure with what this machine's
/// reference tools achieve in the same run. Writes a JSON results file and prints a table.
/// Not a test: nothing here asserts timings.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushfleet-bench",
        abstract: "Benchmark PushFleet's hot paths against kcat on this machine; write a results file."
    )

    /// Size of each produced record in the consume part.
    static let recordSize = 430

    @Option(help: "Records to produce and consume (430 bytes each).")
    var records: Int = 200_000

    @Option(help: "Partitions of the benchmark topic (the embedded broker keeps ~5 MiB per partition).")
    var partitions: Int32 = 32

    @Option(help: "Repetitions of each consume measurement (the median is reported).")
    var repetitions: Int = 3

    @Option(help: "Where to write the JSON results.")
    var output: String = "bench/results.json"

    @Flag(help: "Short run for CI: few records, one repetition; keeps the command working.")
    var quick = false

    @Option(help: "Path of kcat.")
    var kcat: String = "/usr/bin/kcat"

    @Option(help: "Path of the pushfleet binary for the end-to-end part (default: next to this one).")
    var pushfleet: String?

    @Option(help: "Run only these parts (repeatable): \(BenchPart.allCases.map(\.rawValue).joined(separator: ", ")).")
    var only: [BenchPart] = []

    /// Whether a part runs: all of them unless `--only` names some.
    private func runs(_ part: BenchPart) -> Bool { only.isEmpty || only.contains(part) }

    mutating func run() async throws {
        if quick {
            records = min(records, 20_000)
            repetitions = 1
        }
        let recordSize = Self.recordSize
        let bytesPerPartition = records * (recordSize + 70) / Int(partitions)
        guard bytesPerPartition < 4_500_000 else {
            throw ValidationError("\(records) records over \(partitions) partitions exceed the embedded broker's ~5 MiB per partition; add partitions")
        }
        var results = BenchResults(machine: .current(), inputs: [
            "records": .int(records), "recordBytes": .int(recordSize), "partitions": .int(Int(partitions)),
            "repetitions": .int(repetitions), "quick": .bool(quick),
        ])

        let broker = try EmbeddedKafkaBroker(brokers: 1)
        defer { broker.shutdown() }
        if runs(.consume) { try await consume(broker: broker, into: &results) }
        if runs(.decode) {
            // Decode: branch.unanswered records per CPU-second on one thread.
            let decode = DecodeBenchmark.run(iterations: quick ? 50_000 : 500_000)
            results.add("decode.branch.unanswered", unit: "records/s (one core)", value: decode.recordsPerSecond, reference: nil,
                        note: "\(decode.bytesPerRecord)-byte record; target ≥ 200,000/s")
            let decide = DecodeBenchmark.runDecide(iterations: quick ? 20_000 : 200_000)
            results.add("decide.branch.unanswered", unit: "records/s (one core)", value: decide, reference: nil,
                        note: "decode + policy decision (needsPush, parameters, strategy, payload inputs)")
        }
        if runs(.engine) { try await engine(broker: broker, into: &results) }
        if runs(.wakeup) {
            // Register wake-up: a tick's CPU time follows the bindings due, not all bindings.
            let small = try EngineBenchmark.wakeUpTick(total: 1_000, due: 100)
            let large = try EngineBenchmark.wakeUpTick(total: quick ? 20_000 : 100_000, due: 100)
            results.add("wakeup.tick.100_of_1k", unit: "ms CPU", value: small, reference: nil, note: "1,000 bindings, 100 due")
            results.add("wakeup.tick.100_of_\(quick ? "20k" : "100k")", unit: "ms CPU", value: large, reference: small,
                        note: "same 100 due among many more bindings; ≈ 1× = proportional to the due ones")
        }
        if runs(.senders) { try await senders(into: &results) }
        if runs(.e2e) { try await endToEnd(into: &results) }

        print(results.table())
        try results.write(to: output)
        print("results written to \(output)")
    }

    /// Produce, then consume the same topic with kcat and with our group consumer.
    private func consume(broker: EmbeddedKafkaBroker, into results: inout BenchResults) async throws {
        let recordSize = Self.recordSize
        let topic = "bench.consume"
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: partitions))
        let config = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "pushfleet-bench")
        var producerConfig = config
        producerConfig.set("linger.ms", "5")
        producerConfig.set("batch.num.messages", "10000")

        // Produce: sendBatch in chunks, each awaiting one completion for the whole chunk.
        let producer = try KafkaProducer(configuration: producerConfig)
        let payloads = (0..<1024).map { i in (0..<recordSize).map { UInt8(truncatingIfNeeded: (i &* 31 &+ $0) % 94 + 33) } }
        let produceStart = ContinuousClock.now
        var produced = 0
        while produced < records {
            let n = min(20_000, records - produced)
            let batch = (produced..<produced + n).map { i in
                KafkaProducerRecord(topic: topic, key: Array("call-\(i)".utf8), value: payloads[i % payloads.count])
            }
            let reports = await producer.sendBatch(batch)
            if let failure = reports.first(where: { if case .failure = $0 { true } else { false } }) {
                throw BenchError("produce failed: \(failure)")
            }
            produced += n
        }
        let produceSeconds = (ContinuousClock.now - produceStart).seconds
        results.add("produce", unit: "records/s", value: Double(records) / produceSeconds, reference: nil,
                    note: "KafkaProducer.sendBatch, chunks of 20k, idempotent, acks=all")

        // kcat reading the whole topic: rate from its first output byte to its end of output,
        // the same window as ours below (connection and metadata set-up excluded on both sides).
        var kcatRates: [Double] = []
        var kcatWallRates: [Double] = []
        for _ in 0..<repetitions {
            let run = try streamProcess(kcat, ["-b", broker.bootstrapServers, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n"])
            guard run.status == 0, run.bytes == records * (recordSize + 1) else {
                throw BenchError("kcat exited with \(run.status) after \(run.bytes) bytes")
            }
            kcatRates.append(Double(records) / run.streaming)
            kcatWallRates.append(Double(records) / run.wall)
        }

        // Our group consumer: from the first message handed out to the last (the embedded
        // broker's ~3 s initial group join is excluded), storing offsets per batch as the engine does.
        var ourRates: [Double] = []
        for repetition in 0..<repetitions {
            var consumerConfig = config
            consumerConfig.set("fetch.wait.max.ms", "10")
            let consumer = try KafkaConsumer(configuration: consumerConfig, options: .init(groupId: "bench-\(repetition)-\(UUID().uuidString)", topics: [topic]))
            var seen = 0
            var bytes = 0
            var first: ContinuousClock.Instant?
            for await event in consumer {
                guard case .messages(let batch) = event else { continue }
                if first == nil { first = .now }
                var last: [KafkaTopicPartition: Int64] = [:]
                for message in batch {
                    bytes &+= message.value?.count ?? 0
                    last[message.topicPartition] = message.offset + 1
                }
                try consumer.storeOffsets(last)
                seen += batch.count
                if seen >= records { break }
            }
            let seconds = (ContinuousClock.now - first!).seconds
            await consumer.close()
            guard bytes == records * recordSize else { throw BenchError("consumed \(bytes) bytes, expected \(records * recordSize)") }
            ourRates.append(Double(records) / seconds)
        }
        let kcatMedian = median(kcatRates), ourMedian = median(ourRates)
        results.add("consume.kcat", unit: "records/s", value: kcatMedian, reference: nil,
                    note: "kcat -C -e, first output byte to end, median of \(repetitions)", samples: kcatRates)
        results.add("consume.kcat.wall", unit: "records/s", value: median(kcatWallRates), reference: nil,
                    note: "kcat -C -e, process start to exit (includes set-up)", samples: kcatWallRates)
        results.add("consume", unit: "records/s", value: ourMedian, reference: kcatMedian,
                    note: "KafkaConsumer group member, batches of 1000, offsets stored per batch; target ≥ 0.8× kcat", samples: ourRates)

    }

    /// Engine scale: restore vs kcat (one state partition; the embedded broker keeps ~5 MiB
    /// per partition, so the restore count is what fits), memory and timer lateness.
    private func engine(broker: EmbeddedKafkaBroker, into results: inout BenchResults) async throws {
        let restoreCount = quick ? 1_000 : 3_500
        let restore = try await EngineBenchmark.restore(count: restoreCount, broker: broker, kcat: kcat)
        results.add("restore.kcat", unit: "records/s", value: restore.kcat, reference: nil,
                    note: "kcat -C -e on the same state partition, process start to exit (\(restoreCount) records of \(restore.bytes) B)")
        results.add("restore", unit: "schedules/s", value: restore.ours, reference: restore.kcat,
                    note: "partition reader + decode + schedule heap, as on assignment; target ≥ 0.5× kcat")
        let memoryCount = quick ? 10_000 : 100_000
        let bytes = try EngineBenchmark.memoryPerSchedule(count: memoryCount)
        results.add("memory.per_schedule", unit: "bytes", value: bytes, reference: nil,
                    note: "RSS growth / \(memoryCount) restored ringing schedules; target ≤ 1024")
        let pending = quick ? 10_000 : 100_000
        let (lateness, cpuPerFiring) = try await EngineBenchmark.timerLateness(count: pending, seconds: quick ? 3 : 12)
        results.add("timers.lateness.p50", unit: "ms", value: EngineBenchmark.percentile(lateness, 0.5), reference: nil,
                    note: "\(pending) pending ringing schedules (5 s interval), \(lateness.count) firings")
        results.add("timers.lateness.p99", unit: "ms", value: EngineBenchmark.percentile(lateness, 0.99), reference: nil,
                    note: "target ≤ 20 ms")
        results.add("timers.cpu_per_firing", unit: "µs", value: cpuPerFiring, reference: nil,
                    note: "process CPU per firing (fire, re-derive the request, apply the answer); 20,000 firings/s need < 50")
    }

    /// Senders: HTTP/2 throughput vs h2load against the same nghttpd (when installed).
    private func senders(into results: inout BenchResults) async throws {
        if !quick, FileManager.default.isExecutableFile(atPath: "/usr/sbin/nghttpd"), FileManager.default.isExecutableFile(atPath: "/usr/bin/h2load") {
            let s = try await SenderBenchmark.run()
            results.add("http2.h2load", unit: "requests/s", value: s["h2load_requests_per_second"] ?? 0, reference: nil,
                        note: "h2load → nghttpd, TLS, one connection, 100 streams")
            results.add("http2.transport", unit: "requests/s", value: s["transport_requests_per_second"] ?? 0,
                        reference: s["h2load_requests_per_second"], note: "our HTTP/2 client → same nghttpd; target ≥ 0.5× h2load")
            results.add("http2.sender", unit: "requests/s", value: s["sender_requests_per_second"] ?? 0,
                        reference: s["h2load_requests_per_second"], note: "whole sender path (generic HTTP/2)")
            results.add("http2.sender.apns", unit: "pushes/s", value: s["apns_sender_requests_per_second"] ?? 0,
                        reference: s["h2load_requests_per_second"], note: "APNs sender (.p8 JWT, VoIP push) to the same nghttpd; target ≥ 0.5× h2load")
            results.add("http2.h2load.apns_shaped", unit: "requests/s", value: s["h2load_apns_shaped_requests_per_second"] ?? 0,
                        reference: s["h2load_requests_per_second"], note: "h2load sending the APNs sender's path, header fields, bearer length and body")
            results.add("http2.sender.apns.vs_shaped", unit: "pushes/s", value: s["apns_sender_requests_per_second"] ?? 0,
                        reference: s["h2load_apns_shaped_requests_per_second"], note: "the APNs sender against h2load sending the same requests")
            results.add("http2.fixed_rate.p99", unit: "ms", value: s["fixed_rate_p99_ms"] ?? 0, reference: nil,
                        note: "at \(Int(s["fixed_rate_requests_per_second"] ?? 0)) requests/s; p50 \(String(format: "%.2f", s["fixed_rate_p50_ms"] ?? 0)) ms")
        }
    }
}

extension BenchCommand {
    /// Events → worker process(es) → nghttpd, against h2load on the same server (when the
    /// nghttp2 tools are installed).
    private func endToEnd(into results: inout BenchResults) async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/nghttpd"), FileManager.default.isExecutableFile(atPath: "/usr/bin/h2load") else {
            print("e2e: skipped (nghttpd/h2load not installed: make bench-deps)")
            return
        }
        let binary = pushfleet ?? URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
            .deletingLastPathComponent().appendingPathComponent("pushfleet").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw BenchError("no pushfleet binary at \(binary): build it (swift build -c release --product pushfleet) or pass --pushfleet")
        }
        let count = quick ? 2_000 : 20_000
        let port = 21_000 + Int(getpid() % 9_000)
        let h2load = try await EndToEndBenchmark.h2loadReference(requests: quick ? 20_000 : 200_000, port: port)
        let one = try await EndToEndBenchmark.throughput(pushfleet: binary, workers: 1, count: count, port: port + 1)
        let two = try await EndToEndBenchmark.throughput(pushfleet: binary, workers: 2, count: count, port: port + 2)
        let ingest = try await EndToEndBenchmark.ingest(pushfleet: binary, count: count, port: port + 4, kcat: kcat)
        let rate = quick ? 500 : 2_000
        let latencies = try await EndToEndBenchmark.latency(pushfleet: binary, rate: rate, seconds: quick ? 2 : 10, port: port + 3)
        results.add("e2e.h2load", unit: "requests/s", value: h2load, reference: nil,
                    note: "h2load → nghttpd, POST /3/device/<token>, TLS, one connection, 100 streams")
        results.add("e2e.throughput", unit: "pushes/s", value: one.rate, reference: h2load,
                    note: "\(count) events → embedded broker → 1 worker process → APNs (.p8) at nghttpd; target ≥ 0.5× h2load")
        results.add("e2e.cpu.worker", unit: "µs CPU/push", value: one.cpu.workers, reference: nil,
                    note: "the worker process during the 1-worker run (consume, decide, state and outcome writes, send)")
        results.add("e2e.cpu.broker", unit: "µs CPU/push", value: one.cpu.brokerAndBench, reference: nil,
                    note: "the benchmark process: embedded broker threads, event producer, outcome watcher")
        results.add("e2e.cpu.nghttpd", unit: "µs CPU/push", value: one.cpu.nghttpd, reference: nil,
                    note: "nghttpd answering the pushes")
        results.add("e2e.throughput.2_workers", unit: "pushes/s", value: two.rate, reference: one.rate,
                    note: "same load, 2 worker processes (scale-out; they share this machine's \(ProcessInfo.processInfo.activeProcessorCount) cores with the broker and nghttpd)")
        results.add("e2e.ingest.kcat", unit: "records/s", value: ingest.kcat, reference: nil,
                    note: "kcat -C -e on the same events topic, first output byte to end")
        results.add("e2e.ingest", unit: "events/s", value: ingest.ours, reference: ingest.kcat,
                    note: "\(count) events needsPush skips (in-dialog) → 1 worker process → skipped outcomes; target ≥ 0.5× kcat")
        results.add("e2e.latency.p50", unit: "ms", value: EngineBenchmark.percentile(latencies, 0.5), reference: nil,
                    note: "event time → provider answer (outcome latencyMs, 1 ms resolution), \(rate) events/s, timeout=0")
        results.add("e2e.latency.p99", unit: "ms", value: EngineBenchmark.percentile(latencies, 0.99), reference: nil,
                    note: "\(latencies.count) pushes; target ≤ 10 ms")
    }
}

/// The parts of the benchmark, for `--only`.
enum BenchPart: String, CaseIterable, ExpressibleByArgument {
    case consume, decode, engine, wakeup, senders, e2e
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// Runs a reference tool, reading its output through a pipe on a thread of its own; returns
/// the exit status, the bytes read, the seconds from start to exit and from first byte to EOF.
func streamProcess(_ path: String, _ arguments: [String]) throws -> (status: Int32, bytes: Int, wall: Double, streaming: Double) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle(forWritingAtPath: "/dev/null")
    let start = ContinuousClock.now
    try process.run()
    let handle = pipe.fileHandleForReading
    var bytes = 0
    var first: ContinuousClock.Instant?
    while true {
        let data = handle.availableData
        if data.isEmpty { break }
        if first == nil { first = .now }
        bytes += data.count
    }
    let end = ContinuousClock.now
    process.waitUntilExit()
    return (process.terminationStatus, bytes, (end - start).seconds, (end - (first ?? start)).seconds)
}

extension Duration {
    var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }
}
