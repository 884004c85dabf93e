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
        let names = config.kafka.topicNames
        return ContractTopic.all.map {
            KafkaTopicSpec(name: names[$0.role] ?? $0.defaultName, partitions: partitions, replicationFactor: replication,
                           configs: $0.configs)
        }
    }

        struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create missing topics (existing ones are left alone and then verified).",
            // Written by hand: the generated usage is one line over 80 columns.
            usage: """
                pushfleet topics create (--config <file> | -b <host:port>)
                  [--set <k=v> ...] [-X <property=value> ...] [--partitions <n>]
                  [--replication-factor <n>] [--timeout <s>]
                """,
            discussion: """
                Partitions cap the number of useful workers: choose them for the largest fleet you \
                will run. events and state always get the same count.

                  pushfleet topics create --config flexisip.conf \\
                    --partitions 32 --replication-factor 3
                """)

        @OptionGroup var options: ConfigOptions
        @Option(help: "Partitions of every topic.") var partitions: Int32 = ContractTopic.defaultPartitions
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
                pushfleet topics check (--config <file> | -b <host:port>)
                  [--set <k=v> ...] [-X <property=value> ...] [--timeout <s>]
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

    /// Checks what the contract needs; prints every problem and drift, then fails if there was a problem.
    static func verify(_ admin: KafkaAdmin, config: PushFleetConfig, timeout: Duration) async throws {
        let names = config.kafka.topicNames
        let found = try await admin.describeTopics(ContractTopic.all.map { names[$0.role]! }, timeout: timeout)
        let review = TopicReview(names: names, found: found.mapValues { (Int32($0.partitions), $0.configs) })
        for topic in ContractTopic.all {
            if let t = found[names[topic.role]!] { print("\(t.name): \(t.partitions) partitions, cleanup.policy=\(t.configs["cleanup.policy"] ?? "?")") }
        }
        review.drift.forEach { print("drift: \($0)") }
        guard review.problems.isEmpty else {
            review.problems.forEach { printError("problem: \($0)") }
            throw ExitCode.failure
        }
        print("topics OK")
    }
}
