import ArgumentParser
import Foundation
import Kafka
import PushContract

/// `pushfleet dev-broker`: the embedded Kafka-protocol broker alone, for tests and local work.
struct DevBrokerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-broker",
        abstract: "Run the embedded Kafka-protocol broker on loopback with the contract's topics.",
        usage: "pushfleet dev-broker [--partitions <n>] [--brokers <n>] [--control]",
        discussion: """
            Starts librdkafka's mock cluster on 127.0.0.1, creates the five PushFleet topics and \
            prints the bootstrap address as the first line on stdout. Any Kafka client can use it:

              BOOTSTRAP=$(pushfleet dev-broker --partitions 4 | head -1) &
              kcat -b "$BOOTSTRAP" -L

            Runs until SIGINT or SIGTERM, then exits 0. No compaction, at most ~5 MiB kept per \
            partition: for development and tests only.

            With --control, faults are injected at run time by lines on stdin, each answered by \
            one line on stdout (`ok <command>` once applied, or `error <why>`); EOF on stdin ends \
            the control, not the broker:

              down [ID|all]       broker ID (1…--brokers; default all) down: connections closed, \
            new ones refused
              up [ID|all]         back up
              rtt MS [ID|all]     MS milliseconds added to every response (0 removes it)
            """
    )

    @Option(help: "Partitions of each topic (events and state always have the same count).")
    var partitions: Int32 = ContractTopic.defaultPartitions

    @Option(help: "Number of brokers in the embedded cluster.")
    var brokers: Int = 1

    @Flag(help: "Read fault commands (down, up, rtt) on stdin and answer each on stdout; see below.")
    var control = false

    func validate() throws {
        guard (1...1024).contains(partitions) else {
            throw ValidationError("--partitions must be in 1...1024, got \(partitions)")
        }
        guard (1...9).contains(brokers) else {
            throw ValidationError("--brokers must be in 1...9, got \(brokers)")
        }
    }

    func run() async throws {
        let broker = try EmbeddedKafkaBroker(brokers: brokers)
        let specs = ContractTopic.all.map {
            KafkaTopicSpec(name: $0.defaultName, partitions: partitions, replicationFactor: 1,
                           configs: $0.configs)
        }
        _ = try await KafkaAdmin(embedded: broker).createTopics(specs)
        // Unbuffered, so a parent reading the first line sees it at once.
        FileHandle.standardOutput.write(Data((broker.bootstrapServers + "\n").utf8))
        FileHandle.standardError.write(Data("""
            pushfleet dev-broker: \(brokers) broker(s) at \(broker.bootstrapServers)
            topics (\(partitions) partitions each): \(specs.map(\.name).joined(separator: ", "))
            Ctrl-C to stop.\(control ? " Control on stdin: down|up [ID|all], rtt MS [ID|all]." : "")

            """.utf8))
        if control { BrokerControlCommand.serve(broker) }
        let signal = await TerminationSignal.wait()
        broker.shutdown()
        FileHandle.standardError.write(Data("pushfleet dev-broker: stopped (\(signal))\n".utf8))
    }
}
