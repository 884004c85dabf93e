import ArgumentParser
import Foundation
import Kafka
import Logging
import PushContract
import PushEngine
import PushPolicy
import PushSenders
import Synchronization

/// `pushfleet replay`: re-run a time or offset range of the events topic (docs/contract.md §4).
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-run a time or offset range of the events topic: send its pushes that are still live, or list them (--dry-run).",
        // Written by hand: the generated usage is one line over 80 columns.
        usage: """
            pushfleet replay (--config <file> | -b <host:port>) [--set <k=v> ...]
              [-X <property=value> ...] (--from <time> | --from-offset <P:O[,P:O…]>)
              [--to <time> | --to-offset <P:O[,P:O…]>] [--partition <n> ...]
              [--group <name>] [--dry-run] [--concurrency <n>]
            """,
        discussion: """
            Reads [from, to) of every selected partition in its own consumer group (default \
            <group-id>.replay), applies the worker's policy to each event with the current time \
            and sends the first push of each schedule whose TTL has not passed, through the same \
            senders, writing push.outcome records (ids suffixed .replay). Expired pushes are \
            skipped and counted. Replay never writes pushfleet.state and sends no retransmission, \
            ringing repetition or final push: those stay the live workers' job. Progress is \
            committed to the replay group after each batch, so running the same command again \
            resumes where it stopped. --to defaults to the end of each partition at start.

              pushfleet replay --config pf.conf --from 2026-11-26T09:00:00Z --dry-run
              pushfleet replay --config pf.conf --from 2026-11-26T09:00:00Z \\
                --to 2026-11-26T09:30:00Z --group incident-42
              pushfleet replay --config pf.conf --from-offset 0:1200,3:880 --dry-run
            """)

    @OptionGroup var options: ConfigOptions

    @Option(help: ArgumentHelp("Start at the first record whose Kafka timestamp is at or after this RFC 3339 instant.", valueName: "time"))
    var from: String?
    @Option(help: ArgumentHelp("Start at these offsets; only the partitions named are replayed (unless --partition).", valueName: "P:O[,P:O…]"))
    var fromOffset: String?
    @Option(help: ArgumentHelp("Stop before the first record whose Kafka timestamp is at or after this instant (default: the end at start).", valueName: "time"))
    var to: String?
    @Option(help: ArgumentHelp("Stop before these offsets (default: the end of each partition at start).", valueName: "P:O[,P:O…]"))
    var toOffset: String?
    @Option(name: .customLong("partition"), help: ArgumentHelp("Replay only this partition (repeatable).", valueName: "n"))
    var partitions: [Int32] = []
    @Option(help: ArgumentHelp("Consumer group the replay commits its progress to (default: <[kafka] group-id>.replay).", valueName: "name"))
    var group: String?
    @Flag(help: "Send nothing, write nothing, commit nothing: print each push that would be sent and each skip, then the totals.")
    var dryRun = false
    @Option(help: "Pushes in flight at once.") var concurrency: Int = 32

    func validate() throws {
        guard (from == nil) != (fromOffset == nil) else {
            throw ValidationError("give exactly one of --from (a time) or --from-offset (P:O[,P:O…])")
        }
        if to != nil && toOffset != nil { throw ValidationError("give at most one of --to or --to-offset") }
        guard concurrency >= 1 && concurrency <= 10_000 else { throw ValidationError("--concurrency \(concurrency): must be 1…10000") }
    }

    func run() async throws {
        do {
            try await replay()
        } catch let error as ReplayArgumentError {
            throw CommandError(error.description)
        } catch let error as KafkaError {
            throw CommandError("\(error)")
        }
    }

    private func replay() async throws {
        // Arguments that need no broker are checked first.
        let fromTime = try from.map { try ReplayPlan.parseTime($0, flag: "--from") }
        let toTime = try to.map { try ReplayPlan.parseTime($0, flag: "--to") }
        let fromOffsets = try fromOffset.map { try ReplayPlan.parseOffsets($0, flag: "--from-offset") }
        let toOffsets = try toOffset.map { try ReplayPlan.parseOffsets($0, flag: "--to-offset") }
        if let fromTime, let toTime, fromTime > toTime {
            throw ReplayArgumentError("--from \(from!) is after --to \(to!)")
        }
        let config = try options.load()
        let policy: BranchPolicy
        do {
            policy = try BranchPolicy(options: config.pushNotification, router: config.router)
        } catch {
            throw CommandError("[module::PushNotification] filter: \(error)")
        }
        bootstrapLogging(format: config.pushfleet.logFormat, level: .warning)
        let kafka = try config.kafkaConfiguration(clientId: "pushfleet-replay")
        let topic = config.kafka.eventsTopic
        let group = self.group ?? "\(config.kafka.groupId).replay"
        // Admin calls run on a producer-kind handle, reads on a consumer: each gets its own
        // passthrough properties (no librdkafka warnings about ignored ones).
        let admin = KafkaAdmin(configuration: kafka.filtered(for: .producer))

        let partitionCount = Int32(try await admin.partitionCount(topic: topic))
        let selected = try ReplayPlan.partitions(topic: topic, count: partitionCount, requested: partitions,
                                                 fromOffsets: fromOffsets, toOffsets: toOffsets)
        let watermarks = try await admin.watermarks(topic: topic, partitions: selected)
        var starts = fromOffsets ?? [:]
        if let fromTime {
            starts = try await resolve(fromTime, admin: admin, topic: topic, partitions: selected, watermarks: watermarks, flag: "--from")
        }
        var ends = toOffsets ?? [:]
        if let toTime {
            ends = try await resolve(toTime, admin: admin, topic: topic, partitions: selected, watermarks: watermarks, flag: "--to")
        }
        let committed = try await admin.committedOffsets(group: group, topic: topic, partitions: partitionCount)
        let ranges = try ReplayPlan.ranges(
            partitions: selected, starts: starts, ends: ends, watermarks: watermarks, committed: committed,
            fromFlag: fromOffsets == nil ? "--from" : "--from-offset", toFlag: toOffsets == nil ? "--to" : "--to-offset")

        printError("replay of \(topic) \(dryRun ? "(dry run) " : "")in group \(group): " + ranges.map { r in
            "\(r.partition):[\(r.start),\(r.end))" + (r.resumedFrom.map { " resumed at \($0)" } ?? "")
        }.joined(separator: " "))
        // A group's committed offset says where it stopped, not which range it replayed: an
        // earlier range replayed in the same group finds nothing left, so say so and how to redo it.
        let passed = ranges.filter { r in r.resumedFrom.map { $0 >= r.end } ?? false }
        if !passed.isEmpty {
            printError("note: group \(group) already committed past the end of this range on partition(s) "
                       + passed.map { String($0.partition) }.joined(separator: ", ")
                       + ": nothing left to replay there; to replay it again, name a new group with --group")
        }

        var senders: PushSenders?
        var producer: KafkaProducer?
        if !dryRun {
            do {
                senders = try PushSenders(config: config, logger: Logger(label: "pushfleet.senders"))
            } catch {
                throw CommandError("\(error)")
            }
            producer = try KafkaProducer(configuration: kafka.filtered(for: .producer))
        }
        let session = ReplaySession(
            policy: policy, timeRange: (fromTime, toTime), senders: senders, producer: producer, outcomesTopic: config.kafka.outcomesTopic,
            concurrency: concurrency, progress: ReplayProgress(total: ranges.reduce(0) { $0 + $1.count }))
        let reader = KafkaPartitionReader(configuration: kafka.filtered(for: .consumer))
        var failure: (any Error)?
        for range in ranges where range.count > 0 {
            await session.begin(partition: range.partition)
            do {
                try await reader.read(KafkaTopicPartition(topic: topic, partition: range.partition), from: range.start, to: range.end,
                                      commitGroup: dryRun ? nil : group) { batch in
                    try blockOnAsync { try await session.process(batch) }
                }
            } catch {
                failure = error
            }
            await session.end()
            if failure != nil { break }
        }
        session.progress.finish()
        let tally = await session.tally
        session.progress.print(Self.summary(tally, dryRun: dryRun))
        try? await producer?.flush(timeout: .seconds(10))
        await senders?.shutdown()
        if let failure { throw CommandError("replay stopped: \(failure)") }
    }

    /// Offsets of the first record at or after `time` per partition. A broker that cannot answer
    /// ListOffsets by time (librdkafka's mock cluster, i.e. the embedded broker) answers "none"
    /// even for time 0 on a partition that has records: then the partition is read from its
    /// start and records are kept by their timestamps alone (slower, same result).
    private func resolve(_ time: Int64, admin: KafkaAdmin, topic: String, partitions: [Int32],
                         watermarks: [Int32: (low: Int64, high: Int64)], flag: String) async throws -> [Int32: Int64] {
        let found = try await admin.offsets(forTimestamp: time, topic: topic, partitions: partitions)
        var out: [Int32: Int64] = [:]
        var unanswered: [Int32] = []
        for p in partitions {
            let (low, high) = watermarks[p] ?? (0, 0)
            if case let o?? = found[p] { out[p] = o } else if high > low { unanswered.append(p) } else { out[p] = high }
        }
        guard !unanswered.isEmpty else { return out }
        let probe = try await admin.offsets(forTimestamp: 0, topic: topic, partitions: unanswered)
        for p in unanswered {
            let (low, high) = watermarks[p] ?? (0, 0)
            if case .some(.some) = probe[p] {
                out[p] = high  // the broker resolves times: no record at or after `time`
            } else {
                out[p] = flag == "--from" ? low : high
                printError("note: the broker does not resolve times to offsets on \(topic)[\(p)]; \(flag) is applied to record timestamps while reading")
            }
        }
        return out
    }

    static func summary(_ t: ReplayTally, dryRun: Bool) -> String {
        var parts = ["read \(t.read)"]
        if t.outsideTimeRange > 0 { parts.append("outside the time range \(t.outsideTimeRange)") }
        parts.append(dryRun ? "would push \(t.pushes)" : "pushed \(t.pushes)" + (t.failedSends > 0 ? " (\(t.failedSends) failed)" : ""))
        let reasons = t.skipped.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\(fieldName($0.key)): \($0.value)" }
        parts.append("skipped \(t.skippedTotal)" + (reasons.isEmpty ? "" : " (" + reasons.joined(separator: "; ") + ")"))
        parts.append("expired \(t.expired)")
        parts.append("undecodable \(t.undecodable)")
        if t.notDue > 0 { parts.append("not yet due \(t.notDue) (left to the workers)") }
        return "replay \(dryRun ? "dry run " : "")done: " + parts.joined(separator: ", ")
    }
}

/// The serial side of a replay: one `ReplayCore` per partition, sends, outcome writes, lines.
actor ReplaySession {
    private let policy: BranchPolicy
    private let timeRange: (from: Int64?, to: Int64?)
    private let senders: PushSenders?
    private let producer: KafkaProducer?
    private let outcomesTopic: String
    private let concurrency: Int
    nonisolated let progress: ReplayProgress
    private var core: ReplayCore?
    private(set) var tally = ReplayTally()

    init(policy: BranchPolicy, timeRange: (from: Int64?, to: Int64?), senders: PushSenders?, producer: KafkaProducer?,
         outcomesTopic: String, concurrency: Int, progress: ReplayProgress) {
        self.policy = policy
        self.timeRange = timeRange
        self.senders = senders
        self.producer = producer
        self.outcomesTopic = outcomesTopic
        self.concurrency = concurrency
        self.progress = progress
    }

    func begin(partition: Int32) {
        core = ReplayCore(partition: partition, policy: policy, timeRange: timeRange)
    }

    func end() {
        guard var core else { return }
        core.finish()
        tally = tally + core.tally
        self.core = nil
    }

    /// Applies a batch; returns once its pushes are answered and their outcomes acknowledged
    /// (the reader commits the batch after that).
    func process(_ batch: [KafkaMessage]) async throws {
        guard var core else { return }
        let clock = SystemClock()
        let step = core.handle(batch, now: clock.now())
        guard let senders, let producer else {
            // A dry run lists every decision; a real run only its failures (the summary counts the rest).
            for note in step.notes { progress.print(Self.line(note, partition: batch[0].partition)) }
            for order in step.sends {
                progress.print(Self.line(order))
                core.listed(order, now: clock.now())
            }
            self.core = core
            progress.advance(by: batch.count)
            return
        }
        let answers = await Self.send(step.sends, senders: senders, concurrency: concurrency)
        var records: [KafkaProducerRecord] = []
        for (order, answer) in zip(step.sends, answers) {
            guard let outcome = core.sent(order, outcome: answer, now: clock.now()) else { continue }
            if outcome.result != .sent {
                progress.print(Self.line(ReplayNote(kind: .failed, offset: nil, callId: order.callId,
                                                    reason: "\(outcome.result.rawValue)\(answer.status.map { " HTTP \($0)" } ?? "") \(answer.reason ?? "")")))
            }
            records.append(KafkaProducerRecord(topic: outcomesTopic, key: Array(order.callId.utf8), value: RecordEncoder.encode(outcome)))
        }
        self.core = core
        for result in await producer.sendBatch(records) {
            if case .failure(let error) = result { throw CommandError("writing an outcome to \(outcomesTopic) failed: \(error)") }
        }
        progress.advance(by: batch.count)
    }

    /// Sends with at most `concurrency` in flight; answers in the order of `orders`.
    private static func send(_ orders: [SendOrder], senders: PushSenders, concurrency: Int) async -> [SendOutcome] {
        await withTaskGroup(of: (Int, SendOutcome).self) { group in
            var answers = [SendOutcome?](repeating: nil, count: orders.count)
            var next = 0
            func launch() {
                let index = next
                let order = orders[index]
                next += 1
                group.addTask { (index, await senders.send(order.request, deadline: order.deadline)) }
            }
            while next < min(concurrency, orders.count) { launch() }
            for await (index, answer) in group {
                answers[index] = answer
                if next < orders.count { launch() }
            }
            return answers.map { $0! }
        }
    }

    /// `push  call=… voip via apns.dev prid=abcdef01… event=…`: hostile values escaped and cut.
    static func line(_ order: SendOrder) -> String {
        let prid = order.request.destination.prid
        let short = prid.count > 12 ? String(prid.prefix(12)) + "…" : prid
        return "push     call=\(fieldName(order.callId)) \(order.request.pushType.rawValue) via \(fieldName(order.request.destination.provider.rawValue)) prid=\(fieldName(short)) event=\(fieldName(order.eventId))"
    }

    static func line(_ note: ReplayNote, partition: Int32? = nil) -> String {
        let at = note.offset.flatMap { offset in partition.map { " at \($0)@\(offset)" } } ?? ""
        let call = note.callId.map { " call=\(fieldName($0))" } ?? ""
        let label = note.kind.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0)
        return "\(label)\(call)\(at): \(fieldName(note.reason))"
    }
}

/// Progress on stderr: a bar redrawn at most ten times a second on a terminal, a plain line
/// every five seconds otherwise. Lines printed through it (dry-run listing, on stdout) clear the
/// bar first so the two never mix on one terminal line.
final class ReplayProgress: Sendable {
    private struct State {
        var done: Int64 = 0
        var drawnDone: Int64 = -1
        var lastDraw: ContinuousClock.Instant?
        var barShown = false
    }
    private let total: Int64
    private let started = ContinuousClock.now
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let state = Mutex(State())

    init(total: Int64) {
        self.total = total
    }

    func advance(by records: Int) {
        state.withLock { s in
            s.done += Int64(records)
            let now = ContinuousClock.now
            let interval: Duration = isTerminal ? .milliseconds(100) : .seconds(5)
            if let last = s.lastDraw, now - last < interval { return }
            s.lastDraw = now
            draw(&s)
        }
    }

    /// A line on stdout (flushed), after clearing the bar.
    func print(_ line: String) {
        state.withLock { s in
            if s.barShown {
                FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
                s.barShown = false
            }
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
    }

    /// The last progress report (unless the last drawn one is already final), then a newline
    /// after a bar.
    func finish() {
        state.withLock { s in
            if s.drawnDone != s.done || s.lastDraw == nil { draw(&s) }
            if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
            s.barShown = false
        }
    }

    private func draw(_ s: inout State) {
        s.drawnDone = s.done
        let elapsed = (ContinuousClock.now - started) / .seconds(1)
        if isTerminal {
            FileHandle.standardError.write(Data(("\r" + ReplayProgressText.bar(done: s.done, total: total, elapsedSeconds: elapsed) + "\u{1B}[K").utf8))
            s.barShown = true
        } else {
            FileHandle.standardError.write(Data((ReplayProgressText.line(done: s.done, total: total, elapsedSeconds: elapsed) + "\n").utf8))
        }
    }
}

