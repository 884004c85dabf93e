import ArgumentParser
import Foundation
import Kafka
import PushEngine
import PushPolicy
import PushSenders

/// `--config`, `--set` and kcat's Kafka flags (`-b`, `-X`), shared by every command that reads a
/// configuration, so each reaches Kafka the same way.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Flexisip-format config file (e.g. your flexisip.conf with [kafka] and [pushfleet] added).",
        discussion: "Defaults to $PUSHFLEET_CONFIG.", valueName: "file"))
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp(
        "Override one option, as Flexisip's --set: section/key=value (repeatable).",
        valueName: "section/key=value"))
    var overrides: [String] = []

    @Option(name: [.customShort("b"), .customLong("bootstrap-server"), .customLong("bootstrap-servers")], help: ArgumentHelp(
        "Kafka brokers, as kcat's -b: overrides [kafka] bootstrap-servers; without a config file, the defaults apply to the rest.",
        valueName: "host:port[,…]"))
    var bootstrapServer: String?

    @Option(name: .customShort("X"), help: ArgumentHelp(
        "A librdkafka property, as kcat's -X: the same as --set kafka/rdkafka.<property>=<value> (repeatable).",
        valueName: "property=value"))
    var rdkafka: [String] = []

    /// The config file path: `--config`, else `$PUSHFLEET_CONFIG`.
    var path: String? { config ?? ProcessInfo.processInfo.environment["PUSHFLEET_CONFIG"] }

    func validate() throws {
        for property in rdkafka where !property.contains("=") || property.hasPrefix("=") {
            throw ValidationError("-X \(property): expected property=value, e.g. -X security.protocol=SSL")
        }
    }

    /// `--set` plus what `-b` and `-X` stand for (after them: the explicit flags win).
    var allOverrides: [String] {
        overrides + (bootstrapServer.map { ["kafka/bootstrap-servers=\($0)"] } ?? []) + rdkafka.map { "kafka/rdkafka.\($0)" }
    }

    /// Loads and validates; warnings go to stderr. Without a file, `-b` is enough: the other
    /// values are the defaults.
    func load(requireFile: Bool = true) throws -> PushFleetConfig {
        let config: PushFleetConfig
        if let path {
            config = try PushFleetConfig.load(path: path, overrides: allOverrides)
        } else if requireFile && bootstrapServer == nil {
            throw CommandError("no config: pass --config FILE, set PUSHFLEET_CONFIG, or give the brokers with -b HOST:PORT", status: ExitStatus.config)
        } else {
            config = try PushFleetConfig.load(text: "", overrides: allOverrides)
        }
        for warning in config.warnings { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        return config
    }
}

extension PushFleetConfig {
    /// The librdkafka configuration of `[kafka]`.
    func kafkaConfiguration(clientId: String) throws -> KafkaConfiguration {
        guard let bootstrap = kafka.bootstrapServers else {
            throw CommandError("[kafka] bootstrap-servers is not set", status: ExitStatus.config)
        }
        return KafkaConfiguration(bootstrapServers: bootstrap, clientId: clientId, properties: kafka.rdkafka.map { ($0.0, $0.1) })
    }
}

/// Writes a line to stderr (diagnostics stay off stdout, which scripts parse).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A command failure: printed as `Error: <text>` (without usage), with its exit status.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    var status: Int32

    init(_ description: String, status: Int32 = ExitStatus.failure) {
        self.description = description
        self.status = status
    }

    /// An error the command cannot go on after, keeping the class its exit status tells.
    init(_ error: any Error) {
        self.init("\(error)", status: ExitStatus.of(error))
    }
}

/// Exit statuses a supervisor or script can tell apart (BSD sysexits, as many daemons use):
/// a bad configuration will not fix itself by restarting, an unreachable Kafka may.
enum ExitStatus {
    static let failure: Int32 = 1
    /// Bad command line (EX_USAGE; swift-argument-parser's validation errors).
    static let usage: Int32 = 64
    /// Kafka (or another service the command needs) unreachable or refusing (EX_UNAVAILABLE).
    static let unavailable: Int32 = 69
    /// The configuration is wrong (EX_CONFIG): a key, a file it names, the topics' layout.
    static let config: Int32 = 78

    static func of(_ error: any Error) -> Int32 {
        switch error {
        case let error as CommandError: error.status
        case is ConfigError, is WorkerStartError, is SenderConfigError: config
        case is KafkaError, is WorkerFatalError: unavailable
        default: failure
        }
    }
}
