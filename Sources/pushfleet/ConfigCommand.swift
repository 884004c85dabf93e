import ArgumentParser
import Foundation
import Kafka
import PushPolicy

/// `pushfleet config check|dump`.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate a configuration, or print the effective one with secrets redacted.",
        subcommands: [Check.self, Dump.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a config: syntax, every value, the filter, the librdkafka properties.",
            discussion: """
                Exits 0 and prints "config OK" when a worker could start with it; otherwise prints \
                the first error, naming the key, the value and what is allowed, and exits 1.

                  pushfleet config check --config /etc/flexisip/flexisip.conf --set module::PushNotification/timeout=5
                """)

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            let config = try options.load()
            try config.checkWorkerRequirements()
            let policy: BranchPolicy
            do {
                policy = try BranchPolicy(options: config.pushNotification, router: config.router)
            } catch {
                throw CommandError("[module::PushNotification] filter: \(error)")
            }
            // Not a warning: the config is right for a fleet that replaced Flexisip's module.
            if let notice = policy.startupNotice { printError("note: \(notice)") }
            try config.kafkaConfiguration(clientId: "pushfleet-check").validate()
            print("config OK" + (config.warnings.isEmpty ? "" : " (\(config.warnings.count) warning(s) above)"))
        }
    }

    struct Dump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective config (file + --set + defaults) as INI, secrets redacted.",
            discussion: "  pushfleet config dump --config flexisip.conf > effective.conf")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            print(try options.load(requireFile: false).dump(), terminator: "")
        }
    }
}
