import ArgumentParser
import Kafka
import PushContract
import PushPolicy

/// `pushfleet topics create|check`.
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Create or verify the five topics with the right partitions and cleanup policies.",
        subcommands: [Create.self, Check.self]
    )

    /// The contract's topics under the configured names.
    static func specs(_ config: PushFleetConfig, partitions: Int32, replication: Int16) -> [KafkaTopicSpec] {
        let names: [ContractTopic.Role: String] = [
            .events: config.kafka.eventsTopic, .registrations: config.kafka.registrationsTopic, .state: config.kafka.stateTopic,
            .outcomes: config.kafka.outcomesTopic, .deadLetter: config.kafka.deadLetterTopic,
        ]
        return ContractTopic.all.map {
            KafkaTopicSpec(name: names[$0.role] ?? $0.defaultName, partitions: partitions, replicationFactor: replication,
                           configs: ["cleanup.policy": $0.cleanupPolicy])
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create missing topics (existing ones are left alone and then verified).",
            // Written by hand: the generated usage is one line over 80 columns.
            usage: """
                pushfleet topics create --config <file> [--set <section/key=value> ...]
                  [--partitions <n>] [--replication-factor <n>] [--timeout <s>]
                """,
            discussion: """
                Partitions cap the number of useful workers: choose them for the largest fleet you \
                will run. events and state always get the same count.

                  pushfleet topics create --config flexisip.conf \\
                    --partitions 32 --replication-factor 3
                """)

        @OptionGroup var options: ConfigOptions
        @Option(help: "Partitions of every topic.") var partitions: Int32 = 16
        @Option(help: "Replication factor (-1 = the cluster's default).") var replicationFactor: Int16 = -1
        @Option(help: "Seconds to wait for the cluster's answers.") var timeout: Int = 15

        func run() async throws {
            let config = try options.load()
            let specs = TopicsCommand.specs(config, partitions: partitions, replication: replicationFactor)
            let admin = KafkaAdmin(configuration: try config.kafkaConfiguration(clientId: "pushfleet-topics"))
            let results = try await admin.createTopics(specs, timeout: .seconds(timeout))
            for spec in specs {
                print("\(spec.name): \(results[spec.name] == .created ? "created" : "already exists")")
            }
            try await TopicsCommand.verify(admin, config: config, timeout: .seconds(timeout))
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the topics: present, state and events co-partitioned, tables compacted.",
            usage: """
                pushfleet topics check --config <file> [--set <section/key=value> ...]
                  [--timeout <s>]
                """,
            discussion: """
                Exits 1 with the reasons when a topic is missing or wrong.

                  pushfleet topics check --config flexisip.conf
                """)

        @OptionGroup var options: ConfigOptions
        @Option(help: "Seconds to wait for the cluster's answers.") var timeout: Int = 15

        func run() async throws {
            let config = try options.load()
            let admin = KafkaAdmin(configuration: try config.kafkaConfiguration(clientId: "pushfleet-topics"))
            try await TopicsCommand.verify(admin, config: config, timeout: .seconds(timeout))
        }
    }

    /// Checks what the contract needs; prints every problem, then fails if there was any.
    static func verify(_ admin: KafkaAdmin, config: PushFleetConfig, timeout: Duration) async throws {
        let specs = specs(config, partitions: 1, replication: -1)
        let found = try await admin.describeTopics(specs.map(\.name), timeout: timeout)
        var problems: [String] = []
        for spec in specs {
            guard let topic = found[spec.name] else {
                problems.append("\(spec.name) does not exist (run `pushfleet topics create`)")
                continue
            }
            let policy = spec.configs["cleanup.policy"]!
            if let actual = topic.configs["cleanup.policy"], actual != policy {
                problems.append("\(spec.name) has cleanup.policy=\(actual), expected \(policy)"
                                + (policy == "compact" ? " (a table: without compaction it grows forever and restores slow down)" : ""))
            }
        }
        if let events = found[config.kafka.eventsTopic], let state = found[config.kafka.stateTopic], events.partitions != state.partitions {
            problems.append("\(config.kafka.stateTopic) has \(state.partitions) partitions but \(config.kafka.eventsTopic) has \(events.partitions): they must be equal (the state of events partition N lives in state partition N)")
        }
        for spec in specs { if let t = found[spec.name] { print("\(spec.name): \(t.partitions) partitions, cleanup.policy=\(t.configs["cleanup.policy"] ?? "?")") } }
        guard problems.isEmpty else {
            problems.forEach { printError("problem: \($0)") }
            throw ExitCode.failure
        }
        print("topics OK")
    }
}
