import ArgumentParser
import BuildInfo

/// `pushfleet`: one executable, one subcommand per job (docs/contract.md §4).
@main
struct PushFleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushfleet",
        abstract: "Flexisip-compatible push notifications for SIP, as a fleet of stateless workers behind Kafka.",
        version: BuildInfo.description,
        subcommands: [WorkerCommand.self, DevCommand.self, DevBrokerCommand.self, SandboxCommand.self, ConfigCommand.self, TopicsCommand.self, PublishCommand.self, ReplayCommand.self, InspectCommand.self, TailCommand.self]
    )
}
