import Foundation
import PushContract
import PushPolicy
import PushSenders
import Synchronization

/// Sender throughput and latency against `nghttpd` (TLS, loopback), with `h2load` against the
/// same server in the same run as the machine's reference.
///
/// Three figures: the bare transport (`HTTP2Connection.execute`, one connection, `streams` in
/// flight), the whole sender (`PushSenders.send` through the generic HTTP/2 sender: template,
/// lane, breaker, retry loop, transport) and p50/p99 latency at a fixed request rate.
enum SenderBenchmark {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func run(requests: Int = 200_000, streams: Int = 100, fixedRate: Int = 5_000, fixedSeconds: Int = 5,
                    nghttpd: String = "/usr/sbin/nghttpd", h2load: String = "/usr/bin/h2load",
                    port: Int = 20_000 + Int(getpid() % 20_000)) async throws -> [String: Double] {
        let body = String(repeating: "x", count: 200)
        let server = try Nghttpd(files: ["push": Array("ok".utf8), "3/device/\(EndToEndBenchmark.token)": []], port: port, nghttpd: nghttpd)
        defer { server.stop() }
        let dir = server.directory
        try Data(body.utf8).write(to: URL(fileURLWithPath: dir + "/body"))
        let url = server.url("/push")
        try await waitForServer(url: url, caFile: server.certificateFile)

        // Reference: h2load, one connection, `streams` concurrent streams, same POST body.
        let h2 = try shell(h2load, ["-n", String(requests), "-c", "1", "-m", String(streams), "-d", dir + "/body", url])
        guard let h2Rate = parseH2loadRate(h2) else { throw Failure(description: "cannot read h2load's rate:\n\(h2)") }

        // A second reference: h2load sending what the APNs sender sends (its path, header fields
        // and body, and a bearer as long as a real ES256 JWT). nghttp2 never indexes
        // `authorization` in HPACK (nor `:path`), so each such request costs both ends more than
        // a bare POST: this says how much of the APNs figure's gap is the request's shape.
        let topic = EndToEndBenchmark.bundle + ".voip"
        let voip = PushRequest(
            destination: PushDestination(provider: .apns, token: EndToEndBenchmark.token, param: "\(EndToEndBenchmark.teamId).\(topic)",
                                         prid: EndToEndBenchmark.token, apnsTopic: topic, apnsCertificateKey: topic + ".prod",
                                         apnsTeamId: EndToEndBenchmark.teamId),
            pushType: .voip, ttl: 60, payload: PayloadInputs(callId: "bench", fromURI: "sip:caller@example.org"))
        let shape = try APNsPayload.build(voip, options: PushNotificationOptions(), now: SystemClock().now())
        try Data(shape.body).write(to: URL(fileURLWithPath: dir + "/apns-body"))
        var shaped = ["-n", String(requests), "-c", "1", "-m", String(streams), "-d", dir + "/apns-body",
                      "-H", "authorization: bearer \(lookalikeJWT())"]
        for field in shape.headers { shaped += ["-H", "\(field.name): \(field.value)"] }
        let h2Shaped = try shell(h2load, shaped + [server.url(shape.path ?? "/")])
        guard let h2ShapedRate = parseH2loadRate(h2Shaped) else { throw Failure(description: "cannot read h2load's rate:\n\(h2Shaped)") }

        var fleet = PushFleetOptions()
        fleet.tlsCAFile = server.certificateFile
        let endpoint = HTTP2Endpoint(url: url)!
        let tls = try TLSSetup.context(caFile: fleet.tlsCAFile)
        let connection: HTTP2Connection
        switch await HTTP2Connection.connect(to: endpoint, tls: tls, clock: SystemClock(), timeoutMs: 5000) {
        case .success(let c): connection = c
        case .failure(let e): throw Failure(description: "connect: \(e)")
        }
        let request = HTTP2Request(method: "POST", path: "/push", headers: [(name: "content-type", value: "application/json")], body: Array(body.utf8))
        let transportRate = try await throughput(requests: requests, concurrency: streams) {
            let r = await connection.execute(request, deadline: SystemClock().now().adding(seconds: 30))
            if case .success(let response) = r, response.status == 200 { return true }
            FailureSample.note("\(r)")
            return false
        }

        // The whole sender: generic HTTP/2 sender on the same server.
        var config = PushFleetConfig()
        config.pushfleet = fleet
        config.pushNotification.externalPushURI = url + "?token=$token"
        config.pushNotification.externalPushMethod = .post
        config.pushNotification.maxQueueSize = requests
        var tuning = SenderTuning()
        tuning.maxConcurrentPerDestination = streams
        let senders = try PushSenders(config: config, clock: SystemClock(), logger: .init(label: "bench"), tuning: tuning)
        let push = PushRequest(destination: PushDestination(provider: .fcm, token: "benchtoken", param: "123", prid: "benchtoken"),
                               pushType: .message, ttl: 60, payload: PayloadInputs(callId: "bench", body: body))
        let senderRate = try await throughput(requests: requests, concurrency: streams) {
            await senders.send(push, deadline: SystemClock().now().adding(seconds: 30)).result == .sent
        }

        // The APNs sender (.p8 token authentication, VoIP push) on the same server.
        try EndToEndBenchmark.writeAPNsKey(to: dir + "/AuthKey.p8")
        try FileManager.default.createDirectory(atPath: dir + "/apn", withIntermediateDirectories: true)
        var apnsConfig = PushFleetConfig()
        apnsConfig.pushfleet = fleet
        apnsConfig.pushfleet.appleTokenKeys = [AppleTokenKey(teamId: EndToEndBenchmark.teamId, keyId: "KEY1234567", path: dir + "/AuthKey.p8")]
        apnsConfig.pushfleet.applePushURI = server.url("")
        apnsConfig.pushNotification.appleCertificateDir = dir + "/apn"
        apnsConfig.pushNotification.maxQueueSize = requests
        let apnsSenders = try PushSenders(config: apnsConfig, clock: SystemClock(), logger: .init(label: "bench"), tuning: tuning)
        let apnsRate = try await throughput(requests: requests, concurrency: streams) {
            await apnsSenders.send(voip, deadline: SystemClock().now().adding(seconds: 30)).result == .sent
        }
        await apnsSenders.shutdown()

        // Latency at a fixed rate through the whole sender.
        let latencies = try await fixedRateLatencies(rate: fixedRate, seconds: fixedSeconds) {
            await senders.send(push, deadline: SystemClock().now().adding(seconds: 30)).result == .sent
        }
        await senders.shutdown()
        await connection.close()
        let sorted = latencies.sorted()
        func percentile(_ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
        return [
            "h2load_requests_per_second": h2Rate,
            "transport_requests_per_second": transportRate,
            "transport_ratio_to_h2load": transportRate / h2Rate,
            "sender_requests_per_second": senderRate,
            "sender_ratio_to_h2load": senderRate / h2Rate,
            "apns_sender_requests_per_second": apnsRate,
            "apns_sender_ratio_to_h2load": apnsRate / h2Rate,
            "h2load_apns_shaped_requests_per_second": h2ShapedRate,
            "apns_sender_ratio_to_h2load_apns_shaped": apnsRate / h2ShapedRate,
            "fixed_rate_requests_per_second": Double(fixedRate),
            "fixed_rate_p50_ms": percentile(0.50),
            "fixed_rate_p99_ms": percentile(0.99),
            "requests": Double(requests),
            "streams": Double(streams),
        ]
    }

    /// A stand-in for an APNs provider token of the real length: base64url header and claims as
    /// the signer writes them, and 64 bytes where the ES256 signature goes (nghttpd checks none).
    static func lookalikeJWT() -> String {
        func base64url(_ bytes: [UInt8]) -> String {
            Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: "")
        }
        let header = base64url(Array(#"{"alg":"ES256","kid":"KEY1234567"}"#.utf8))
        let claims = base64url(Array(#"{"iss":"\#(EndToEndBenchmark.teamId)","iat":1795000000}"#.utf8))
        return header + "." + claims + "." + base64url((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37) })
    }

    /// `concurrency` workers each send their share back to back; rate over the whole run.
    static func throughput(requests: Int, concurrency: Int, _ one: @escaping @Sendable () async -> Bool) async throws -> Double {
        let failures = Tally()
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<concurrency {
                let share = requests / concurrency + (worker < requests % concurrency ? 1 : 0)
                group.addTask {
                    for _ in 0..<share where await !one() {
                        failures.count.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        let failed = failures.count.load(ordering: .relaxed)
        guard failed == 0 else { throw Failure(description: "\(failed) of \(requests) requests failed; first: \(FailureSample.first ?? "?")") }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Double(requests) / seconds
    }

    /// Starts one request every 1/rate s (in 1 ms ticks) and records each latency in ms.
    static func fixedRateLatencies(rate: Int, seconds: Int, _ one: @escaping @Sendable () async -> Bool) async throws -> [Double] {
        let samples = Samples()
        let failures = Tally()
        let clock = ContinuousClock()
        let start = clock.now
        let total = rate * seconds
        await withTaskGroup(of: Void.self) { group in
            var issued = 0
            while issued < total {
                let due = min(total, Int(Double((clock.now - start).components.seconds) * Double(rate)
                    + Double((clock.now - start).components.attoseconds) / 1e18 * Double(rate)) + 1)
                while issued < due {
                    issued += 1
                    group.addTask {
                        let t0 = clock.now
                        let ok = await one()
                        let d = clock.now - t0
                        if !ok { failures.count.add(1, ordering: .relaxed) }
                        let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
                        samples.values.withLock { $0.append(ms) }
                    }
                }
                try? await Task.sleep(for: .milliseconds(1))
            }
            await group.waitForAll()
        }
        let failed = failures.count.load(ordering: .relaxed)
        guard failed == 0 else { throw Failure(description: "\(failed) fixed-rate requests failed") }
        return samples.values.withLock { $0 }
    }

    static func waitForServer(url: String, caFile: String) async throws {
        let endpoint = HTTP2Endpoint(url: url)!
        let tls = try TLSSetup.context(caFile: caFile)
        for _ in 0..<100 {
            if case .success(let c) = await HTTP2Connection.connect(to: endpoint, tls: tls, clock: SystemClock(), timeoutMs: 1000) {
                await c.close()
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "nghttpd did not start on \(url)")
    }

    /// `finished in 1.02s, 196078.43 req/s, …`
    static func parseH2loadRate(_ output: String) -> Double? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("finished in") }) else { return nil }
        let parts = line.split(separator: ",")
        guard parts.count > 1 else { return nil }
        return Double(parts[1].trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
    }

    @discardableResult
    static func shell(_ path: String, _ args: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw Failure(description: "\(path) failed: \(text)") }
        return text
    }
}

/// `nghttpd` on loopback with a fresh self-signed certificate, serving `files` (path → content)
/// from its own temporary directory. Stopped with SIGKILL: children inherit this process's
/// blocked signal mask (SIGTERM included), so `terminate()` left every nghttpd running.
struct Nghttpd {
    let directory: String
    let port: Int
    let process: Process
    var certificateFile: String { directory + "/cert.pem" }

    init(files: [String: [UInt8]], port: Int, nghttpd: String = "/usr/sbin/nghttpd") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-bench-\(getpid())-\(port)").path
        self.port = port
        for (path, content) in files {
            let file = URL(fileURLWithPath: directory + "/htdocs/" + path)
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content).write(to: file)
        }
        try SenderBenchmark.shell("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1"])
        process = Process()
        process.executableURL = URL(fileURLWithPath: nghttpd)
        process.arguments = ["-d", directory + "/htdocs", "--address=127.0.0.1", String(port), directory + "/key.pem", directory + "/cert.pem"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    func url(_ path: String) -> String { "https://127.0.0.1:\(port)\(path)" }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// `pushfleet-bench --senders-only [--repetitions N] [--requests N] [--streams N] [--fixed-rate N]
/// [--output FILE]`: only the sender benchmark, repeated (other processes share the cores, so
/// each figure is reported as the median of the runs, with every sample), without Kafka.
extension BenchCommand {
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard arguments.contains("--senders-only") else {
            await main(nil)
            return
        }
        do {
            try await SenderBenchmark.sendersOnly(arguments)
        } catch {
            FileHandle.standardError.write(Data("pushfleet-bench --senders-only: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }
}

extension SenderBenchmark {
    static func sendersOnly(_ arguments: [String]) async throws {
        func value(_ name: String, _ fallback: Int) throws -> Int {
            guard let i = arguments.firstIndex(of: name) else { return fallback }
            guard i + 1 < arguments.count, let n = Int(arguments[i + 1]), n > 0 else { throw Failure(description: "\(name) needs a positive number") }
            return n
        }
        let repetitions = try value("--repetitions", 3)
        let requests = try value("--requests", 200_000)
        let streams = try value("--streams", 100)
        let fixedRate = try value("--fixed-rate", 5_000)
        var runs: [[String: Double]] = []
        for i in 0..<repetitions {
            // A fresh port per run: the previous server's socket may linger.
            let r = try await run(requests: requests, streams: streams, fixedRate: fixedRate, port: 20_000 + Int(getpid() % 19_000) + i)
            print("run \(i + 1)/\(repetitions): " + r.keys.sorted().map { "\($0)=\(String(format: "%.3f", r[$0]!))" }.joined(separator: " "))
            runs.append(r)
        }
        var summary: [String: Any] = ["repetitions": repetitions]
        for key in runs[0].keys.sorted() {
            let samples = runs.map { $0[key]! }
            summary[key] = ["median": median(samples), "samples": samples]
            print("median \(key): \(String(format: "%.3f", median(samples)))")
        }
        if let i = arguments.firstIndex(of: "--output"), i + 1 < arguments.count {
            let data = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: arguments[i + 1]))
        }
    }
}

private final class Tally: Sendable {
    let count = Atomic<Int>(0)
}

private final class Samples: Sendable {
    let values = Mutex<[Double]>([])
}

/// The first failure of a run, so a failed benchmark says why.
enum FailureSample {
    private static let sample = Mutex<String?>(nil)
    static func note(_ text: String) { sample.withLock { if $0 == nil { $0 = text } } }
    static var first: String? { sample.withLock { $0 } }
}
