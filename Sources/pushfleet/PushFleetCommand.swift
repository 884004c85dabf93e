import ArgumentParser
import Foundation
import Kafka
import PushEngine
import PushPolicy
import BuildInfo

/// `pushfleet`: one executable, one subcommand per job (docs/contract.md §4).
@main
struct PushFleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushfleet",
        abstract: "Flexisip-compatible push notifications for SIP, as a fleet of stateless workers behind Kafka.",
        version: BuildInfo.description,
        subcommands: [WorkerCommand.self, DevCommand.self, DevBrokerCommand.self, SandboxCommand.self, ConfigCommand.self, TopicsCommand.self,
                      PublishCommand.self, ReplayCommand.self, InspectCommand.self, TailCommand.self, PushCommand.self]
    )

    /// Runs the command; errors exit with a status that tells their class (`ExitStatus`):
    /// 78 for configuration, 69 for an unavailable Kafka, 64 for usage, 1 otherwise.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let status = ExitStatus.of(error)
            guard status != ExitStatus.failure || error is CommandError else { exit(withError: error) }
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            Foundation.exit(status)
        }
    }
}
