import ArgumentParser
import Foundation
import Kafka
import PushContract

/// `pushfleet tail`: follow the outcomes and dead-letter topics live (docs/contract.md §4).
///
/// It reads as a consumer group of its own (a fresh group id per run) and never stores an
/// offset, so it commits nothing, takes no partition from the workers' group and leaves no
/// position behind; `--from-beginning` decides where its first read starts.
struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Follow push outcomes and dead letters live, as pushfleet dev prints them.",
        // Written by hand: the generated usage is one line over 80 columns.
        usage: """
            pushfleet tail (--config <file> | -b <host:port>) [--set <k=v> ...]
              [-X <property=value> ...] [--call-id <id>] [--prid <token>]
              [--result <result> ...] [--from-beginning] [--json]
              [--max-records <n>]
            """,
        discussion: """
            Reads the outcomes and dead-letter topics of the config's [kafka] section and \
            prints one line per record that passes every filter given. A dead letter \
            matches --call-id when its original key is the Call-ID or its original value \
            contains it, and --prid when its original value contains the token.

            Examples:
              pushfleet tail --config /etc/flexisip/flexisip.conf
              pushfleet tail --config flexisip.conf --call-id 84b4c76e66710@pc33
              pushfleet tail --config flexisip.conf --result invalid-token --json
              pushfleet tail -b 127.0.0.1:9092 --from-beginning \\
                  --result failed --result dead-letter --max-records 20
            """)

    @OptionGroup var target: PublishCommand.Target
    @Option(help: "Only records of this Call-ID.") var callId: String?
    @Option(help: "Only records of the device with this push token (pn-prid).") var prid: String?
    @Option(help: ArgumentHelp(
        "Only records with this result (repeatable).",
        discussion: "One of: \(TailCommand.results.joined(separator: ", ")).", valueName: "result"))
    var result: [String] = []
    @Flag(help: "Start at the oldest retained records instead of now.") var fromBeginning = false
    @Flag(help: "Print each record as its JSON value, one per line.") var json = false
    @Option(help: "Stop after printing this many records.") var maxRecords: Int?

    /// What `--result` accepts: the outcomes' results and the dead letters.
    static let results = PushResult.allCases.map(\.rawValue) + ["dead-letter"]

    func validate() throws {
        for value in result where !Self.results.contains(value) {
            throw ValidationError("--result: '\(value)' is not a result; use one of \(Self.results.joined(separator: ", "))")
        }
        if let maxRecords, maxRecords < 1 {
            throw ValidationError("--max-records must be at least 1, got \(maxRecords)")
        }
    }

    func run() async throws {
        let (kafka, outcomesTopic, deadLetterTopic) = try topics()
        var options = KafkaConsumerOptions(
            groupId: "pushfleet-tail-\(ProcessInfo.processInfo.hostName)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))",
            topics: [outcomesTopic, deadLetterTopic])
        options.autoOffsetReset = fromBeginning ? "earliest" : "latest"
        let consumer = try KafkaConsumer(configuration: kafka, options: options)
        let filter = Filter(callId: callId, prid: prid, results: Set(result))
        let stop = Task {
            let signal = await TerminationSignal.wait()
            await consumer.close()
            return signal
        }
        var printed = 0
        var announced = false
        var reported: Set<String> = []
        events: for await event in consumer {
            switch event {
            case .assigned(let partitions):
                // "latest" is resolved when fetching starts, which may be after records written
                // once we said "following": pin every partition to its end as of now instead.
                if !fromBeginning {
                    for partition in partitions {
                        try await Self.pinToEnd(consumer, partition)
                    }
                }
                if !announced {
                    announced = true
                    Self.stderr("following \(outcomesTopic) and \(deadLetterTopic) \(fromBeginning ? "from the beginning" : "from now") (Ctrl-C stops)")
                }
            case .revoked:
                break
            case .error(let error):
                if error.isFatal { stop.cancel(); throw CommandError("kafka: \(error)") }
                // librdkafka retries by itself; say each distinct problem once, not every retry.
                if reported.insert(error.description).inserted { Self.stderr("kafka: \(error)") }
            case .messages(let batch):
                for message in batch {
                    guard let record = WatchedRecord(message, deadLetterTopic: deadLetterTopic) else {
                        // Not ours to judge, but never silently dropped: another writer, or a bug.
                        if message.value != nil {
                            Self.stderr("unreadable record \(message.topic)[\(message.partition)]@\(message.offset): not a push.outcome or dead letter")
                        }
                        continue
                    }
                    guard filter.matches(record) else { continue }
                    say(json ? String(decoding: message.value ?? [], as: UTF8.self) : record.line)
                    printed += 1
                    if let maxRecords, printed >= maxRecords { break events }
                }
            }
        }
        stop.cancel()
        await consumer.close()
    }

    /// The Kafka configuration and the two topics: the config file's, with `-b`/`-X` applied
    /// (or the defaults with `-b` alone).
    private func topics() throws -> (KafkaConfiguration, outcomes: String, deadLetter: String) {
        let loaded = try target.config.load()
        return (try loaded.kafkaConfiguration(clientId: "pushfleet-tail"), loaded.kafka.outcomesTopic, loaded.kafka.deadLetterTopic)
    }

    /// Seeks a just-assigned partition to its current end. librdkafka refuses a seek with
    /// `_STATE` until the partition's fetcher has started (a few milliseconds after the assign;
    /// one `make test` run hit it), so that answer is retried for up to 5 s.
    static func pinToEnd(_ consumer: KafkaConsumer, _ partition: KafkaTopicPartition) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while true {
            let end = try await consumer.watermarks(partition).high
            let failure: KafkaError?
            do {
                try await consumer.seek(partition, to: end)
                failure = nil
            } catch {
                failure = error
            }
            guard let failure else { return }
            guard failure.isLocalState, ContinuousClock.now < deadline else { throw failure }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private static func stderr(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Every filter given must match.
    struct Filter {
        var callId: String?
        var prid: String?
        var results: Set<String>

        func matches(_ record: WatchedRecord) -> Bool {
            if let callId, !record.concerns(callId: callId) { return false }
            if let prid, !record.concerns(prid: prid) { return false }
            return results.isEmpty || results.contains(record.result)
        }
    }
}
