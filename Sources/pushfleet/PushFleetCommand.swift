import ArgumentParser

/// `pushfleet`: one executable, one subcommand per job (docs/contract.md §4).
@main
struct PushFleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushfleet",
        abstract: "Flexisip-compatible push notifications for SIP, as a fleet of stateless workers behind Kafka.",
        subcommands: [WorkerCommand.self, DevCommand.self, DevBrokerCommand.self, SandboxCommand.self, ConfigCommand.self, TopicsCommand.self, PublishCommand.self, ReplayCommand.self, InspectCommand.self,
                      PushCommand.self]
    )
}
