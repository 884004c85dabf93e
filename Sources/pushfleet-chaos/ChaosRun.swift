import Foundation
import Kafka
import PushContract
import PushSandbox
import Synchronization

/// One chaos run: the broker (`pushfleet dev-broker --control`), three workers, the sandbox
/// providers (in this process: real TLS + HTTP/2 servers) with a TCP relay in front of APNs, the
/// router simulator and the fault scheduler; then the checker.
struct ChaosRun {
    static let workers = 3
    static let partitions = 6
    static let wakeupIntervalMinutes = 1
    static let registrationExpires = 300
    /// `register-wakeup-threshold` 10 %: a binding is due 10 % into its life.
    static let wakeupDueAfter = Double(registrationExpires) / 10

    var seed: UInt64
    var duration: Int
    var short: Bool
    var rate: Double
    /// Run each worker in a network namespace and inject broker partitions (if available).
    var netns: Bool
    var pushfleet: URL
    var logDirectory: URL

    func execute() async throws -> ChaosReport {
        let timeline = Timeline()
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        log("pushfleet-chaos: seed \(seed), \(duration) s of traffic and faults\(short ? " (short mode)" : ""), logs in \(logDirectory.path)")

        let broker = try await BrokerProcess(pushfleet: pushfleet, partitions: Self.partitions,
                                             logFile: logDirectory.appendingPathComponent("broker.log"))
        let ca = try SandboxCertificateAuthority.generate()
        let apns = try APNsSandbox(ca: ca)
        try await apns.start()
        let fcm = try FCMSandbox(ca: ca)
        try await fcm.start()
        let generic = try GenericPushSandbox(version: .http2, tls: .tls(ca.issueServerCredential(hosts: ["127.0.0.1"])))
        try await generic.start()
        let relay = SandboxTCPRelay(port: apns.port)
        try await relay.start()
        let files = try SandboxFleetFiles(directory: logDirectory.appendingPathComponent("fleet"), ca: ca, fcm: fcm)
        try files.writeConfig(
            bootstrap: broker.bootstrap, apns: apns, fcm: fcm,
            pushNotification: ["retransmission-count": "3", "retransmission-interval": "2",
                               "register-wakeup-interval": String(Self.wakeupIntervalMinutes), "register-wakeup-threshold": "10"],
            router: ["call-fork-timeout": "90"],
            // For diagnosing a run: librdkafka's debug contexts in every worker's log (with
            // PUSHFLEET_KAFKA_LOG_LEVEL=debug in the environment, which the workers inherit).
            kafka: ProcessInfo.processInfo.environment["PUSHFLEET_CHAOS_KAFKA_DEBUG"].map { ["rdkafka.debug": $0] } ?? [:],
            pushfleet: ["apple-dev-push-uri": relay.baseURL])
        var networks: WorkerNetworks?
        var netnsNote: String
        if !netns {
            netnsNote = "not asked for (--netns off, or --short without --netns on)"
        } else if let why = WorkerNetworks.unavailable() {
            netnsNote = "network namespaces unavailable here: \(why)"
        } else {
            let chaos = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            networks = try await WorkerNetworks(count: Self.workers, brokerPort: Int(broker.bootstrap.split(separator: ":").last ?? "") ?? 0,
                                                providerPorts: [relay.port, fcm.port], chaos: chaos, timeline: timeline)
            netnsNote = "each worker in its own network namespace"
        }
        log("network namespaces: \(netnsNote)")
        var launcher: (@Sendable (Int) -> (URL, [String]))?
        if let networks {
            launcher = { @Sendable slot in networks.launcher(slot) }
        }
        let fleet = WorkerFleet(count: Self.workers, pushfleet: pushfleet, config: files.configFile,
                                logDirectory: logDirectory, timeline: timeline, launcher: launcher)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for slot in 0..<Self.workers { group.addTask { try await fleet.start(slot) } }
            try await group.waitForAll()
        }
        if !(await fleet.waitForAssignments(timeout: .seconds(60))) { log("warning: not every worker got partitions within 60 s") }
        log("\(f1(timeline.seconds())) s  broker \(broker.bootstrap), \(Self.workers) workers started and assigned partitions")

        let simulator = try RouterSimulator(bootstrap: broker.bootstrap, timeline: timeline, firebaseProject: SandboxFleetFiles.firebaseProject)
        let scheduler = FaultScheduler(fleet: fleet, broker: broker, apns: apns, fcm: fcm, relay: relay, networks: networks, timeline: timeline,
                                       gap: short ? 3...8 : 5...15, stopBound: ChaosChecker.stopBound)
        let housekeeping = Task {
            while !Task.isCancelled {
                fleet.sampleRSS()
                await fleet.restartUnexpectedlyDown()
                try? await Task.sleep(for: .seconds(2))
            }
        }
        let faults = Task { await scheduler.run(seed: seed) }
        let traffic = Task { await Self.traffic(simulator, seed: seed, rate: rate) }

        try? await Task.sleep(for: .seconds(duration))
        traffic.cancel()
        faults.cancel()
        log("\(f1(timeline.seconds())) s  traffic and faults told to stop; waiting for calls in progress and fault windows to end")
        // Bounded, so a stuck part shows in the output instead of hanging the run: calls end
        // within ~30 s of the last one begun, fault windows within ~20 s (a rolling restart more).
        if !(await Self.waitAtMost(.seconds(90), traffic)) {
            log("warning: calls still in progress 90 s after traffic stopped (a router send not acknowledged); going on")
        }
        if !(await Self.waitAtMost(.seconds(240), faults)) {
            log("warning: a fault still running 240 s after faults stopped; going on")
        }
        let trafficEnd = timeline.seconds()
        log(String(format: "%7.1f s  traffic and faults stopped; undoing what is left, draining", trafficEnd))
        try? await broker.control("up all")
        try? await broker.control("rtt 0")
        apns.setFault(nil)
        fcm.setFault(nil)
        fcm.setTokenEndpointFault(nil)
        for slot in 0..<Self.workers where fleet.condition(slot) == .frozen { fleet.thaw(slot) }
        await simulator.close()
        // Drain: the last calls end and their final pushes go out; until outcomes stop changing
        // for 10 s (at most 60 s).
        var last = -1, stableSince = ContinuousClock.now
        let drainDeadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < drainDeadline {
            let n = apns.answers.count + fcm.answers.count
            if n != last { last = n; stableSince = ContinuousClock.now }
            if ContinuousClock.now - stableSince > .seconds(10) { break }
            try? await Task.sleep(for: .seconds(1))
        }
        let drainEnd = timeline.seconds()
        housekeeping.cancel()
        _ = await housekeeping.value
        fleet.sampleRSS()
        log(String(format: "%7.1f s  stopping the workers (SIGTERM)", timeline.seconds()))
        await fleet.stopAll(bound: ChaosChecker.stopBound)

        for entry in fleet.rebalances() { timeline.record(entry) }
        // The broker is the test's own part, never faulted by exiting: a run whose broker died
        // checked nothing after that, and says so instead of reading topics that are gone.
        if let note = broker.exitNote {
            throw ChaosError("\(note) (its log: \(broker.logFile.path)); the run is void, reproduce with --seed \(seed)")
        }
        log(String(format: "%7.1f s  reading the outcome, dead-letter and state topics", timeline.seconds()))
        let outcomes = try await readTopic(broker.bootstrap, "pushfleet.outcomes", partitions: Self.partitions)
        let letters = try await readTopic(broker.bootstrap, "pushfleet.dead-letter", partitions: Self.partitions)
        let state = try await readTopic(broker.bootstrap, "pushfleet.state", partitions: Self.partitions)
        var stateWrites: [String: [ChaosObservations.StateWrite]] = [:]
        for message in state.messages.sorted(by: { ($0.timestamp ?? 0, $0.offset) < ($1.timestamp ?? 0, $1.offset) }) {
            let key = String(decoding: message.key ?? [], as: UTF8.self)
            guard let colon = key.firstIndex(of: ":") else { continue }
            let at = timeline.seconds(Date(timeIntervalSince1970: Double(message.timestamp ?? 0) / 1000))
            let schedule = message.value.flatMap { try? RecordDecoder.decodeSchedule($0) }
            stateWrites[String(key[..<colon]), default: []].append(
                .init(at: at, phase: schedule?.phase.rawValue, attempt: schedule?.attempt ?? 0))
        }
        let observations = ChaosObservations(
            inputs: simulator.published,
            outcomes: outcomes.messages.compactMap { m in
                (try? RecordDecoder.decodePushOutcome(m.value ?? [])).map {
                    .init(record: $0, at: timeline.seconds(Date(timeIntervalSince1970: Double(m.timestamp ?? 0) / 1000)))
                }
            },
            deadLetters: letters.messages.compactMap { try? RecordDecoder.decodeDeadLetter($0.value ?? []) },
            stateWrites: stateWrites, apns: apns.answers, fcm: fcm.answers, timeline: timeline.all, exits: fleet.exits,
            stopDurations: fleet.stopDurations, rss: fleet.rssSamples,
            truncatedTopics: [("pushfleet.outcomes", outcomes.truncated), ("pushfleet.dead-letter", letters.truncated)].filter(\.1).map(\.0),
            trafficEnd: trafficEnd, drainEnd: drainEnd, startedAt: timeline.startedAt,
            partitions: networks?.allCuts, partitionNote: netnsNote)
        try? await relay.shutdown()
        try? await apns.shutdown()
        try? await fcm.shutdown()
        try? await generic.shutdown()
        await broker.stop()
        networks?.tearDown()

        var checker = ChaosChecker(observations)
        checker.check()
        return ChaosReport(seed: seed, short: short, observations: observations, checker: checker, wallSeconds: timeline.seconds())
    }

    /// Waits for `task` at most `limit`; true if it ended. (A task group would wait for its
    /// child awaiting `task.value` whatever the deadline: a task's value is not cancellable.)
    static func waitAtMost(_ limit: Duration, _ task: Task<Void, Never>) async -> Bool {
        let ended = Mutex(false)
        Task { await task.value; ended.withLock { $0 = true } }
        return await waitFor(limit) { ended.withLock { $0 } }
    }

    /// The router's traffic until cancelled: a new call, message, registration or garbage record
    /// about every 1/rate s, drawn from the seed.
    static func traffic(_ simulator: RouterSimulator, seed: UInt64, rate: Double) async {
        var random = SeededGenerator(seed: seed ^ 0x5EED_0F_7AFF1C)
        let salt = seed & 0xFFFF_FFFF
        await withTaskGroup(of: Void.self) { group in
            var n = 0
            while !Task.isCancelled {
                n += 1
                let draw = Int.random(in: 0..<100, using: &random)
                let a = Double.random(in: 0...1, using: &random)
                let i = n
                switch draw {
                case 0..<35: group.addTask { await simulator.voipCall(i, salt: salt, answerAfter: 2 + 4 * a) }
                case 35..<55:
                    let reason: CallEndReason = [.cancelled, .answeredElsewhere, .declinedElsewhere][i % 3]
                    group.addTask { await simulator.ringingCall(i, salt: salt, ringFor: 6 + 24 * a, reason: reason) }
                case 55..<85: group.addTask { await simulator.message(i, ringingAfter: 1 + 4 * a, with503: i % 3 == 0) }
                case 85..<93: group.addTask { await simulator.registration(i, expires: registrationExpires) }
                default: group.addTask { await simulator.garbage(i, flavour: Int(a * 1000)) }
                }
                let pause = Double.random(in: 0.5...1.5, using: &random) / rate
                do { try await Task.sleep(for: .milliseconds(Int64(pause * 1000))) } catch { break }
            }
            // The calls already begun play out (they end within ~30 s).
            await group.waitForAll()
        }
    }
}
