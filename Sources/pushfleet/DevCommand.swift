import ArgumentParser
import Foundation
import Kafka
import PushContract
import PushSandbox
import Synchronization

/// `pushfleet dev`: the whole system on one machine, nothing installed.
struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run everything locally: embedded Kafka, workers, sandbox APNs/FCM, a router simulator; show what is pushed.",
        // Written by hand: the generated usage is one line over 80 columns.
        usage: """
            pushfleet dev [--duration <s>] [--rate <events/s>] [--workers <n>]
              [--partitions <n>]
            """,
        discussion: """
            Starts the embedded Kafka-protocol broker with the five topics, sandbox APNs and FCM \
            servers (real TLS + HTTP/2, a throwaway CA), N `pushfleet worker` processes reading a \
            generated flexisip.conf, and a router simulator that plays a mixed scenario: an iOS \
            VoIP call, an iOS remote-only call ringing until answered elsewhere, an Android call, \
            a message with retransmissions stopped by a 180, a device whose token the provider \
            rejects, and a malformed event — then random traffic at --rate. Every push, provider \
            answer, skip and dead letter is printed as it happens; Ctrl-C stops everything cleanly \
            and prints a summary.

              pushfleet dev                       # until Ctrl-C
              pushfleet dev --duration 60 --rate 20 --workers 3
            """)

    @Option(help: "Seconds to run (default: until Ctrl-C).") var duration: Int?
    @Option(help: "Random router events per second after the scripted scenario.") var rate: Double = 1
    @Option(help: "Worker processes.") var workers: Int = 2
    @Option(help: "Partitions of each topic.") var partitions: Int32 = ContractTopic.defaultPartitions

    func validate() throws {
        guard (1...16).contains(workers) else { throw ValidationError("--workers must be in 1...16, got \(workers)") }
        guard rate >= 0 && rate <= 5000 else { throw ValidationError("--rate must be in 0...5000, got \(rate)") }
        guard (1...256).contains(partitions) else { throw ValidationError("--partitions must be in 1...256, got \(partitions)") }
    }

    func run() async throws {
        let started = ContinuousClock.now
        let broker = try EmbeddedKafkaBroker(brokers: 1)
        for topic in ContractTopic.all {
            try broker.createTopic(KafkaTopicSpec(name: topic.defaultName, partitions: partitions, replicationFactor: 1,
                                                  configs: topic.configs))
        }
        let ca = try SandboxCertificateAuthority.generate()
        let apns = try APNsSandbox(ca: ca)
        try await apns.start()
        let fcm = try FCMSandbox(ca: ca)
        try await fcm.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-dev-\(UUID().uuidString.prefix(8))")
        let files = try SandboxFleetFiles(directory: directory, ca: ca, fcm: fcm)
        try files.writeConfig(bootstrap: broker.bootstrapServers, apns: apns, fcm: fcm,
                              pushNotification: ["retransmission-count": "2", "retransmission-interval": "2", "display-from-uri": "true"],
                              router: ["call-fork-timeout": "30"])
        // The rejected device: the provider says its token is no longer valid.
        let rejectedToken = String(repeating: "de", count: 32)
        apns.script(token: rejectedToken, Array(repeating: .unregistered(timestamp: SystemClock().now().millisecondsSince1970 - 86_400_000), count: 100))

        say("""
            PushFleet dev stack
              Kafka (embedded)   \(broker.bootstrapServers)   topics: \(partitions) partitions each
              APNs sandbox       \(apns.baseURL)
              FCM sandbox        \(fcm.baseURL)
              config             \(files.configFile)
              worker logs        \(directory.path)/worker-N.log
            """)

        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var processes: [Process] = []
        for n in 1...workers {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["worker", "--config", files.configFile]
            let log = directory.appendingPathComponent("worker-\(n).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let handle = try FileHandle(forWritingTo: log)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            processes.append(process)
        }
        say("started \(workers) worker(s); waiting for them to join the group (the embedded broker's first join takes ~3 s)…")

        let tally = Tally()
        let monitorConfig = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "pushfleet-dev-monitor",
                                               properties: [("fetch.wait.max.ms", "10")])
        let monitor = try KafkaConsumer(configuration: monitorConfig, options: .init(
            groupId: "pushfleet-dev-monitor", topics: [ContractTopic.defaultName(.outcomes), ContractTopic.defaultName(.deadLetter)]))
        let monitoring = Task { await Self.show(monitor, tally: tally) }

        let producer = try KafkaProducer(configuration: KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "pushfleet-dev-router"))
        let simulator = Simulator(producer: producer, rejectedToken: rejectedToken)
        let traffic = Task {
            do {
                try await simulator.scripted()
                try await simulator.random(rate: rate)
            } catch is CancellationError {
            } catch {
                say("router simulator stopped: \(error)")
            }
        }

        let stop = Task<String, Never> {
            if let duration {
                try? await Task.sleep(for: .seconds(duration))
                return "--duration \(duration) s elapsed"
            }
            return await TerminationSignal.wait()
        }
        let reason = await stop.value
        say("stopping (\(reason))…")
        traffic.cancel()
        _ = await traffic.value
        for process in processes where process.isRunning { kill(process.processIdentifier, SIGTERM) }
        for process in processes { await Self.waitForExit(process, timeout: .seconds(20)) }
        // Let the monitor read the last outcomes the workers wrote while stopping.
        try? await Task.sleep(for: .milliseconds(500))
        await monitor.close()
        _ = await monitoring.value
        try? await apns.shutdown()
        try? await fcm.shutdown()
        broker.shutdown()
        say(tally.summary(apns: apns.requests.count, fcm: fcm.requests.count, seconds: (ContinuousClock.now - started).components.seconds))
    }

    static func waitForExit(_ process: Process, timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Prints outcomes and dead letters as the workers write them.
    static func show(_ monitor: KafkaConsumer, tally: Tally) async {
        for await event in monitor {
            guard case .messages(let batch) = event else { continue }
            for message in batch {
                guard let record = WatchedRecord(message, deadLetterTopic: ContractTopic.defaultName(.deadLetter)) else { continue }
                tally.count(record.tallyKey)
                say(record.line)
            }
        }
    }
}

/// Counts of what the monitor saw, for the summary.
final class Tally: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    func count(_ key: String) { counts.withLock { $0[key, default: 0] += 1 } }

    func summary(apns: Int, fcm: Int, seconds: Int64) -> String {
        let lines = counts.withLock { $0 }.sorted { $0.key < $1.key }.map { "  \($0.key.padding(toLength: 24, withPad: " ", startingAt: 0)) \($0.value)" }
        return """
            summary after \(seconds) s
            \(lines.joined(separator: "\n"))
              requests at APNs sandbox  \(apns)
              requests at FCM sandbox   \(fcm)
            """
    }
}

/// The router simulator: writes contract events as a SIP router would.
struct Simulator: Sendable {
    let producer: KafkaProducer
    let rejectedToken: String

    private func send(_ event: RouterEvent) async throws {
        let key: String = switch event {
        case .branchUnanswered(let e): e.callId
        case .branchResponse(let e): e.callId
        case .callEnded(let e): e.callId
        case .registrationUpdated(let r): "\(r.aor)|\(r.instanceId ?? r.contact)"
        }
        try await producer.send(KafkaProducerRecord(topic: ContractTopic.defaultName(.events), key: Array(key.utf8), value: RecordEncoder.encode(event)))
    }

    private func branch(_ call: String, method: String = "INVITE", device: PublishCommand.Device, token: String? = nil, body: String? = nil) -> RouterEvent {
        .branchUnanswered(BranchUnanswered(
            header: newHeader(), callId: call, branch: "b1", method: method, requestUri: device.contact(token: token),
            from: SIPAddress(uri: "sip:bob@example.org", displayName: "Bob"), to: SIPAddress(uri: "sip:alice@example.org"),
            headers: SIPHeaders([(name: "Content-Type", value: method == "MESSAGE" ? "text/plain" : "application/sdp")]), body: body,
            instanceId: "<urn:uuid:\(UUID().uuidString.lowercased())>"))
    }

    /// The mixed scenario of the README, spread over ~12 s so it can be followed.
    func scripted() async throws {
        try await Task.sleep(for: .seconds(5))
        say("▶ iOS VoIP call (PushKit)")
        try await send(branch("dev-voip-call", device: .iosVoip))
        try await Task.sleep(for: .seconds(1))
        say("▶ iOS remote-only call: ringing alerts every 2 s until answered elsewhere")
        let ring = "dev-ringing-call"
        let ringing = RouterEvent.branchUnanswered(BranchUnanswered(
            header: newHeader(), callId: ring, branch: "b1", method: "INVITE",
            requestUri: PublishCommand.Device.iosRemote.contact(token: nil) + ";pn-call-remote-push-interval=2",
            from: SIPAddress(uri: "sip:carol@example.org", displayName: "Carol"), to: SIPAddress(uri: "sip:alice@example.org")))
        try await send(ringing)
        try await Task.sleep(for: .seconds(1))
        say("▶ Android call (FCM v1)")
        try await send(branch("dev-android-call", device: .android))
        say("▶ message with retransmissions (every 2 s), stopped by a 180 after 3 s")
        try await send(branch("dev-message", method: "MESSAGE", device: .android, token: "fcm-token-message", body: "Lunch?"))
        try await Task.sleep(for: .seconds(1))
        say("▶ call to a device whose token the provider rejects")
        try await send(branch("dev-rejected-call", device: .iosVoip, token: rejectedToken))
        say("▶ a malformed event (dead-lettered)")
        try await producer.send(KafkaProducerRecord(topic: ContractTopic.defaultName(.events), key: Array("bad".utf8),
                                                     value: Array(#"{"v":1,"type":"branch.unanswered","id":"x","time":"now"}"#.utf8)))
        try await Task.sleep(for: .seconds(2))
        try await send(.branchResponse(BranchResponse(header: newHeader(), callId: "dev-message", branch: "b1", status: 180)))
        try await Task.sleep(for: .seconds(4))
        say("▶ the ringing call is answered elsewhere: final push \"Accepted elsewhere\"")
        try await send(.callEnded(CallEnded(header: newHeader(), callId: ring, reason: .answeredElsewhere)))
        try await Task.sleep(for: .seconds(2))
    }

    /// Random calls and messages to random devices until cancelled.
    func random(rate: Double) async throws {
        guard rate > 0 else { return try await Task.sleep(for: .seconds(1_000_000)) }
        say("▶ random traffic at \(rate) event(s)/s")
        var n = 0
        while !Task.isCancelled {
            n += 1
            let device = PublishCommand.Device.allCases[n % 3]
            let call = "dev-\(n)"
            let token = device == .android ? "fcm-\(n)" : String(format: "%064x", n)
            try await send(branch(call, method: n % 4 == 0 ? "MESSAGE" : "INVITE", device: device, token: token, body: "hi \(n)"))
            if device == .iosRemote {
                try await send(.callEnded(CallEnded(header: newHeader(), callId: call, reason: .cancelled)))
            }
            try await Task.sleep(for: .milliseconds(Int64(1000 / rate)))
        }
    }
}

/// One line to stdout, at once (the account is read live).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
