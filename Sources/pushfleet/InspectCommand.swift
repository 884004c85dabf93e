import ArgumentParser
import Foundation
import Kafka
import PushContract
import PushEngine

/// `pushfleet inspect`: the pending schedule of a call, read from the state topic.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the pending push schedule of a call, as the workers stored it.",
        // Written by hand: the generated usage is one line over 80 columns.
        usage: """
            pushfleet inspect (--config <file> | -b <host:port>) [--set <k=v> ...]
              [-X <property=value> ...] --call-id <call-id> [--json]
              [--all-partitions]
            """,
        discussion: """
            Reads the state partition that holds the call (the one its Call-ID hashes to with \
            murmur2, as its events) from its beginning (latest value per key, tombstones \
            delete) and prints the schedules of the Call-ID: phase, push type, attempts, next \
            due time.

              pushfleet inspect --config flexisip.conf \\
                --call-id a84b4c76e66710@pc33.example.com
            """)

    @OptionGroup var target: PublishCommand.Target
    @Option(help: "The Call-ID to look up.") var callId: String
    @Flag(help: "Print the schedules as JSON lines (the stored records).") var json = false
    @Flag(help: "Read every partition of the state topic, not only the one the Call-ID hashes to (for a router that does not partition with murmur2).")
    var allPartitions = false

    func run() async throws {
        let loaded = try target.config.load()
        let kafka = try loaded.kafkaConfiguration(clientId: "pushfleet-inspect")
        let stateTopic = loaded.kafka.stateTopic
        let producer = try KafkaProducer(configuration: kafka)
        let partitions = try await producer.partitionCount(topic: stateTopic)
        // A call's events are keyed by its Call-ID (murmur2), and the schedules of events
        // partition N live in state partition N: one partition holds them all.
        let partition = allPartitions || callId.isEmpty ? nil : KafkaPartitioner.murmur2(key: Array(callId.utf8), partitions: Int32(partitions))
        let reader = KafkaPartitionReader(configuration: kafka)
        var found: [String: ScheduleRecord] = [:]
        try await withThrowingTaskGroup(of: [String: ScheduleRecord?].self) { group in
            for partition in partition.map({ [$0] }) ?? Array(0..<Int32(partitions)) {
                group.addTask {
                    // The restore's own rule (owner epochs included), so this shows what a
                    // worker taking the partition over would restore.
                    let latest = LatestValues()
                    try await reader.read(KafkaTopicPartition(topic: stateTopic, partition: partition)) { latest.apply($0) }
                    var schedules: [String: ScheduleRecord?] = [:]
                    for (key, value) in latest.values where key.hasPrefix(callId + ":") {
                        schedules[key] = try? RecordDecoder.decodeSchedule(value)
                    }
                    return schedules
                }
            }
            for try await partial in group {
                for (key, value) in partial { found[key] = value }
            }
        }
        let schedules = found.values.filter { $0.callId == callId }.sorted { $0.key < $1.key }
        guard !schedules.isEmpty else {
            if let partition {
                print("no schedule for call \(callId) in \(stateTopic) partition \(partition), where murmur2 puts its events "
                      + "(a router with another partitioner: --all-partitions)")
            } else {
                print("no schedule for call \(callId) in \(stateTopic) (\(partitions) partitions)")
            }
            return
        }
        let now = SystemClock().now()
        for s in schedules {
            if json {
                print(String(decoding: RecordEncoder.encode(s), as: UTF8.self))
                continue
            }
            let next = s.nextAt.map { "\($0.rfc3339) (\(String(format: "%+.1f", Double($0.millisecondsSince1970 - now.millisecondsSince1970) / 1000)) s)" } ?? "-"
            print("""
                \(s.key)
                  branch \(s.branch), provider \(s.provider), push \(s.pushType.rawValue), phase \(s.phase.rawValue)\(s.finalReason.map { " (\($0.rawValue))" } ?? "")
                  event \(s.header.id) at \(s.eventTime.rfc3339), pushes so far \(s.attempt), retransmissions left \(s.retransmissionsLeft)
                  next \(next)\(s.ringingUntil.map { ", rings until \($0.rfc3339)" } ?? "")
                """)
        }
    }
}
