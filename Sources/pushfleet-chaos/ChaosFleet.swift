import Foundation
import Synchronization

/// Bytes a child writes to a pipe, collected on a plain thread until EOF.
final class PipeText: Sendable {
    private let bytes = Mutex(Data())

    init(_ handle: FileHandle) {
        Thread { [self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                bytes.withLock { $0.append(data) }
            }
        }.start()
    }

    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
}

/// `pushfleet dev-broker --control` as a child process: the embedded broker of the run, with
/// its faults (down/up, added round trip) sent as lines on its stdin.
final class BrokerProcess: Sendable {
    let process: Process
    private let input: FileHandle
    private let output: PipeText
    /// Its standard error (librdkafka's own assertions end up here), kept as `broker.log` in
    /// the run's log directory.
    let logFile: URL
    let bootstrap: String
    private let commands = Mutex(0)

    init(pushfleet: URL, partitions: Int, logFile: URL) async throws {
        let process = Process()
        process.executableURL = pushfleet
        process.arguments = ["dev-broker", "--partitions", String(partitions), "--control"]
        let stdin = Pipe(), stdout = Pipe()
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: logFile)
        try process.run()
        self.process = process
        self.logFile = logFile
        input = stdin.fileHandleForWriting
        output = PipeText(stdout.fileHandleForReading)
        let out = output
        guard await waitFor(.seconds(30), { out.text.contains("\n") }) else {
            process.terminate()
            throw ChaosError("pushfleet dev-broker printed no bootstrap address: \(tail(logFile))")
        }
        bootstrap = String(output.text.prefix { $0 != "\n" })
    }

    /// Why the broker is gone, if it is (it is never told to exit before the run's end).
    var exitNote: String? {
        guard !process.isRunning else { return nil }
        return "the embedded broker exited (\(process.terminationReason == .uncaughtSignal ? "signal" : "status") \(process.terminationStatus)): \(tail(logFile))"
    }

    /// Sends one control command and waits for its answer (`ok …`).
    func control(_ command: String) async throws {
        let expected = commands.withLock { n in
            n += 1
            return n
        }
        if let exitNote { throw ChaosError(exitNote) }
        do {
            try input.write(contentsOf: Data((command + "\n").utf8))
        } catch {
            throw ChaosError(exitNote ?? "dev-broker control '\(command)': \(error)")
        }
        let out = output
        let answered = await waitFor(.seconds(15)) {
            out.text.split(separator: "\n").dropFirst().count >= expected
        }
        guard answered, let answer = output.text.split(separator: "\n").dropFirst().dropFirst(expected - 1).first,
              answer.hasPrefix("ok ") else {
            throw ChaosError("dev-broker control '\(command)' failed: \(output.text.suffix(300))")
        }
    }

    func stop() async {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let p = process
        if !(await waitFor(.seconds(15), { !p.isRunning })) { kill(process.processIdentifier, SIGKILL) }
    }
}

struct ChaosError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The three `pushfleet worker` processes of the run, one slot each. A slot is restarted by the
/// fault scheduler after a kill or a stop; an exit nobody asked for is a violation (and the slot
/// is restarted so the run goes on).
final class WorkerFleet: Sendable {
    struct Exit: Sendable {
        var slot: Int
        var generation: Int
        var status: Int32
        var expected: Bool
        var at: Double
        var logTail: String
    }

    struct RSSSample: Sendable {
        var slot: Int
        var generation: Int
        var at: Double
        var kilobytes: Int
    }

    /// What a slot is going through; only `healthy` slots are picked for new process faults.
    enum Condition: Sendable { case healthy, frozen, stopping, starting, cutOff, down }

    private struct Slot {
        var process: Process?
        var generation = 0
        var condition = Condition.down
        var expectingExit = false
        /// Set when the runner killed a worker that did not start in time (reported as such).
        var failedStart = false
        /// The broker is out of this slot's reach now (the slot cut off, or a broker outage).
        var unreachable = false
        /// The broker was out of reach at some point since this generation started.
        var sawUnreachable = false
        var extraArguments: [String] = []
    }

    let count: Int
    private let pushfleet: URL
    private let config: String
    private let logDirectory: URL
    private let timeline: Timeline
    private let slots: Mutex<[Slot]>
    private let exitsSeen = Mutex<[Exit]>([])
    private let rss = Mutex<[RSSSample]>([])
    private let stopTimes = Mutex<[(slot: Int, seconds: Double)]>([])

    /// Runs a slot's worker in its network namespace (`WorkerNetworks.launcher`), if set.
    private let launcher: (@Sendable (Int) -> (URL, [String]))?

    init(count: Int, pushfleet: URL, config: String, logDirectory: URL, timeline: Timeline,
         launcher: (@Sendable (Int) -> (URL, [String]))? = nil) {
        self.launcher = launcher
        self.count = count
        self.pushfleet = pushfleet
        self.config = config
        self.logDirectory = logDirectory
        self.timeline = timeline
        slots = Mutex(Array(repeating: Slot(), count: count))
    }

    func logFile(_ slot: Int, _ generation: Int) -> URL {
        logDirectory.appendingPathComponent("worker-\(slot)-\(generation).log")
    }

    /// Starts the slot's next generation and waits (up to 60 s) until it logged "worker started".
    func start(_ slot: Int, extra: [String]? = nil) async throws {
        let (generation, arguments) = slots.withLock { s -> (Int, [String]) in
            s[slot].generation += 1
            if let extra { s[slot].extraArguments = extra }
            s[slot].expectingExit = false
            s[slot].sawUnreachable = s[slot].unreachable
            // Not `.down` any more: housekeeping must not start a second process for the slot.
            s[slot].condition = .starting
            return (s[slot].generation, s[slot].extraArguments)
        }
        let log = logFile(slot, generation)
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        let (executable, prefix) = launcher?(slot) ?? (pushfleet, [])
        process.executableURL = executable
        process.arguments = prefix + (launcher == nil ? [] : [pushfleet.path]) + ["worker", "--config", config] + arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = { [self] finished in
            try? handle.close()
            exited(slot: slot, generation: generation, status: finished.terminationStatus)
        }
        do {
            try process.run()
        } catch {
            slots.withLock { $0[slot].condition = .down }
            throw error
        }
        slots.withLock { $0[slot].process = process }
        let started = await waitFor(.seconds(60)) {
            (try? String(contentsOf: log, encoding: .utf8))?.contains("worker started") == true || !process.isRunning
        }
        guard started, process.isRunning else {
            // Left to housekeeping, which restarts a slot that is down and not expected to be.
            slots.withLock { if $0[slot].generation == generation { $0[slot].condition = .down; $0[slot].failedStart = true } }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw ChaosError("worker \(slot) (generation \(generation)) did not start: \(tail(log))")
        }
        slots.withLock { if $0[slot].generation == generation { $0[slot].condition = .healthy } }
    }

    /// Waits until every worker's current log says it got partitions (the first group join of
    /// the embedded broker takes ~3 s), so traffic starts on a formed group.
    func waitForAssignments(timeout: Duration) async -> Bool {
        await waitFor(timeout) {
            (0..<count).allSatisfy { slot in
                let generation = slots.withLock { $0[slot].generation }
                return (try? String(contentsOf: logFile(slot, generation), encoding: .utf8))?.contains("partitions assigned") == true
            }
        }
    }

    /// Every "partitions revoked" line of every worker log, as a timeline entry: the group moved
    /// partitions, whether or not a fault was injected (a worker starved of CPU past its session
    /// timeout is evicted too), so a duplicate after it has a cause.
    func rebalances() -> [TimelineEntry] {
        // The workers' text log format: "2026-12-03T13:36:55+0000 info …".
        let format = DateFormatter()
        format.locale = Locale(identifier: "en_US_POSIX")
        format.dateFormat = "yyyy-MM-dd'T'HH:mm:ssZ"
        let files = (try? FileManager.default.contentsOfDirectory(at: logDirectory, includingPropertiesForKeys: nil)) ?? []
        var found: [TimelineEntry] = []
        for file in files where file.lastPathComponent.hasPrefix("worker-") {
            for line in ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n") where line.contains("partitions revoked") {
                guard let date = format.date(from: String(line.prefix { $0 != " " })) else { continue }
                let at = timeline.seconds(date)
                found.append(TimelineEntry(start: at - 1, end: at + 1, kind: "rebalance", detail: "\(file.lastPathComponent): partitions revoked"))
            }
        }
        return found
    }

    private func exited(slot: Int, generation: Int, status: Int32) {
        let (told, failedStart, startRefused) = slots.withLock { s -> (Bool, Bool, Bool) in
            guard s[slot].generation == generation else { return (true, false, false) }
            s[slot].condition = .down
            defer { s[slot].failedStart = false }
            // Kafka unreachable at start: the worker exits 69 after 10 s, as documented
            // (docs/operations.md, Failure modes), and its orchestrator (here: housekeeping)
            // starts it again. Not a violation when the broker really was out of its reach.
            let refused = status == 69 && s[slot].sawUnreachable && !s[slot].expectingExit
            return (s[slot].expectingExit, s[slot].failedStart, refused)
        }
        if startRefused { timeline.instant("start-refused", "worker \(slot) could not reach Kafka at start and exited 69; restarted") }
        let expected = told || startRefused
        let why = failedStart ? "did not log 'worker started' within 60 s and was killed; " : ""
        let exit = Exit(slot: slot, generation: generation, status: status, expected: expected, at: timeline.seconds(),
                        logTail: expected ? "" : why + tail(logFile(slot, generation)))
        exitsSeen.withLock { $0.append(exit) }
        if !expected { timeline.instant("unexpected-exit", "worker \(slot) exited with status \(status)") }
    }

    var exits: [Exit] { exitsSeen.withLock { $0 } }
    var rssSamples: [RSSSample] { rss.withLock { $0 } }
    var stopDurations: [(slot: Int, seconds: Double)] { stopTimes.withLock { $0 } }

    func condition(_ slot: Int) -> Condition { slots.withLock { $0[slot].condition } }
    var healthySlots: [Int] { slots.withLock { s in s.indices.filter { s[$0].condition == .healthy } } }

    private func pid(_ slot: Int) -> Int32? {
        slots.withLock { s in s[slot].process.flatMap { $0.isRunning ? $0.processIdentifier : nil } }
    }

    func kill9(_ slot: Int) {
        guard let pid = pid(slot) else { return }
        slots.withLock { $0[slot].expectingExit = true; $0[slot].condition = .down }
        kill(pid, SIGKILL)
    }

    func freeze(_ slot: Int) {
        guard let pid = pid(slot) else { return }
        slots.withLock { $0[slot].condition = .frozen }
        kill(pid, SIGSTOP)
    }

    /// Marks a worker cut off the broker (no other fault picks it meanwhile), or healthy again.
    func setCutOff(_ slot: Int, _ cut: Bool) {
        slots.withLock { s in
            if cut, s[slot].condition == .healthy { s[slot].condition = .cutOff }
            if !cut, s[slot].condition == .cutOff { s[slot].condition = .healthy }
            s[slot].unreachable = cut
            if cut { s[slot].sawUnreachable = true }
        }
    }

    /// A broker outage began or ended: every slot is out of its reach meanwhile.
    func setBrokerOutage(_ down: Bool) {
        slots.withLock { s in
            for i in s.indices {
                s[i].unreachable = down
                if down { s[i].sawUnreachable = true }
            }
        }
    }

    func thaw(_ slot: Int) {
        guard let pid = pid(slot) else { return }
        kill(pid, SIGCONT)
        slots.withLock { if $0[slot].condition == .frozen { $0[slot].condition = .healthy } }
    }

    /// SIGTERM and wait for the exit; records how long it took. Past `bound` + 10 s it is killed.
    @discardableResult
    func terminate(_ slot: Int, bound: Double) async -> Double? {
        guard let pid = pid(slot), let process = slots.withLock({ $0[slot].process }) else { return nil }
        slots.withLock { $0[slot].expectingExit = true; $0[slot].condition = .stopping }
        let sent = ContinuousClock.now
        kill(pid, SIGCONT)  // a frozen worker must be able to act on it
        kill(pid, SIGTERM)
        let stopped = await waitFor(.seconds(bound + 10)) { !process.isRunning }
        let took = ContinuousClock.now - sent
        let seconds = Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18
        if !stopped { kill(pid, SIGKILL) }
        stopTimes.withLock { $0.append((slot, seconds)) }
        return seconds
    }

    /// Samples every live worker's resident memory (VmRSS) once.
    func sampleRSS() {
        let now = timeline.seconds()
        let live = slots.withLock { s in s.indices.compactMap { i in s[i].process.flatMap { $0.isRunning ? (i, s[i].generation, $0.processIdentifier) : nil } } }
        for (slot, generation, pid) in live {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kb = Int(line.split(separator: " ").dropFirst().first ?? "") else { continue }
            rss.withLock { $0.append(RSSSample(slot: slot, generation: generation, at: now, kilobytes: kb)) }
        }
    }

    /// Restarts the slots that are down and not being handled by a fault (unexpected exits).
    func restartUnexpectedlyDown() async {
        let down = slots.withLock { s in s.indices.filter { s[$0].condition == .down && !s[$0].expectingExit } }
        for slot in down { try? await start(slot) }
    }

    /// Ends every worker: SIGCONT, SIGTERM, the bound; returns the durations.
    func stopAll(bound: Double) async {
        await withTaskGroup(of: Void.self) { group in
            for slot in 0..<count { group.addTask { await self.terminate(slot, bound: bound) } }
        }
    }
}

/// The last lines of a process's log, for a report.
func tail(_ file: URL) -> String {
    String(((try? String(contentsOf: file, encoding: .utf8)) ?? "").suffix(1500))
}
