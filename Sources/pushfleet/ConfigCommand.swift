import ArgumentParser
import Foundation
import Kafka
import Logging
import PushContract
import PushPolicy
import PushSenders

/// `pushfleet config check|dump`.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Validate a configuration, or print the effective one with secrets redacted.",
        subcommands: [Check.self, Dump.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a config as a worker loads it: values, filter, Kafka properties, credentials.",
            usage: """
                pushfleet config check (--config <file> | -b <host:port>)
                  [--set <k=v> ...] [-X <property=value> ...]
                  [--values-only | --connect [--timeout <s>]]
                """,
            discussion: """
                Loads what a worker would: every value, the filter, the librdkafka properties, \
                the APNs certificates and .p8 keys, the Firebase service accounts and the CA file. \
                Exits 0 and prints "config OK" with the credentials found when a worker could \
                start with it; otherwise prints the first error, naming the key, the value and \
                what is allowed, and exits 78. Certificates a worker would skip (unreadable, \
                expired) and legacy FCM keys are warnings.

                  pushfleet config check --config /etc/flexisip/flexisip.conf \\
                    --set module::PushNotification/timeout=5
                """)

        @OptionGroup var options: ConfigOptions
        @Flag(help: "Check the values only, without loading the credential files (on a machine that does not have them, e.g. CI of manifests).")
        var valuesOnly = false
        @Flag(help: "Also connect: Kafka and the five topics, a Firebase access token per service account, and a TLS + HTTP/2 connection per APNs credential and Firebase project, as pushes open them.")
        var connect = false
        @Option(help: "Seconds --connect waits for each provider.") var timeout: Int = 15

        func validate() throws {
            if valuesOnly && connect { throw ValidationError("--connect loads the credentials: it cannot go with --values-only") }
            guard (1...300).contains(timeout) else { throw ValidationError("--timeout \(timeout): must be 1…300 seconds") }
        }

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
            if valuesOnly {
                print("config OK (values only; credential files not loaded)" + (config.warnings.isEmpty ? "" : " (\(config.warnings.count) warning(s) above)"))
                return
            }
            // The credentials as the worker loads them: the same errors stop it.
            bootstrapLogging(format: config.pushfleet.logFormat, level: .critical)
            let senders: PushSenders
            do {
                senders = try PushSenders(config: config, logger: Logger(label: "pushfleet.senders"))
            } catch {
                throw CommandError(error)
            }
            let report = Self.credentials(config, senders: senders, now: SystemClock().now())
            report.warnings.forEach { printError("warning: \($0)") }
            if let proxy = config.pushfleet.outboundProxy {
                print("outbound proxy: \(proxy) (from \(proxy.source); CONNECT for https:// providers"
                      + (proxy.noProxy.isEmpty ? ")" : ", not for NO_PROXY \(proxy.noProxy))"))
            }
            report.lines.forEach { print($0) }
            var failed = 0
            if connect {
                let checks = await Self.kafkaChecks(config) + senders.probe(deadline: SystemClock().now().adding(seconds: timeout))
                for check in checks {
                    if let failure = check.failure {
                        failed += 1
                        print("FAIL \(check.what): \(failure)")
                    } else {
                        print("ok   \(check.what)")
                    }
                }
            }
            await senders.shutdown()
            if failed > 0 {
                throw CommandError("\(failed) connection check(s) failed (see FAIL above)", status: ExitStatus.unavailable)
            }
            let warnings = config.warnings.count + report.warnings.count
            print("config OK" + (connect ? ", connections OK" : "") + (warnings == 0 ? "" : " (\(warnings) warning(s) above)"))
        }

        /// The brokers answer, the five topics exist, events and state are co-partitioned (as
        /// the worker checks at start; cleanup policies need `topics check`'s admin requests).
        static func kafkaChecks(_ config: PushFleetConfig) async -> [SenderProbe] {
            let servers = config.kafka.bootstrapServers ?? "?"
            let producer: KafkaProducer
            do {
                producer = try KafkaProducer(configuration: config.kafkaConfiguration(clientId: "pushfleet-check"))
            } catch {
                return [SenderProbe(what: "Kafka \(servers)", failure: "\(error)")]
            }
            let found: [String: Int]
            do {
                found = try await producer.topicPartitionCounts()
            } catch {
                return [SenderProbe(what: "Kafka \(servers)", failure: "\(error)")]
            }
            var checks: [SenderProbe] = [], counts: [ContractTopic.Role: Int] = [:]
            for topic in ContractTopic.all {
                let name = config.kafka.topicNames[topic.role]!
                counts[topic.role] = found[name]
                checks.append(SenderProbe(what: "Kafka \(servers): \(name)" + (found[name].map { " (\($0) partitions)" } ?? ""),
                                          failure: found[name] == nil ? "no such topic (pushfleet topics create)" : nil))
            }
            if let events = counts[.events], let state = counts[.state], events != state {
                checks.append(SenderProbe(what: "Kafka: \(config.kafka.stateTopic) co-partitioned with \(config.kafka.eventsTopic)",
                                          failure: "\(state) partitions vs \(events): they must be equal"))
            }
            return checks
        }

        /// What the senders loaded, one line per kind, and what a worker would skip or regret.
        static func credentials(_ config: PushFleetConfig, senders: PushSenders, now: EventTime) -> (lines: [String], warnings: [String]) {
            let push = config.pushNotification
            var lines: [String] = [], warnings: [String] = []
            if !push.externalPushURI.isEmpty {
                return (["credentials: generic gateway \(push.externalPushURI) (every push goes there)"], [])
            }
            if push.apple {
                let expiries = senders.apnsCertificateExpiries
                let shown = expiries.sorted { $0.key < $1.key }.map { "\($0.key) (until \($0.value.rfc3339))" }
                lines.append("APNs certificates in \(push.appleCertificateDir): \(shown.isEmpty ? "none" : shown.joined(separator: ", "))")
                for (name, notAfter) in expiries where notAfter <= now {
                    warnings.append("APNs certificate \(name) expired at \(notAfter.rfc3339): pushes for its app fail until it is renewed")
                }
                for (file, reason) in senders.skippedCertificateFiles.sorted(by: { $0.key < $1.key }) {
                    warnings.append("apple-certificate-dir: \(file) skipped: \(reason)")
                }
                let keys = config.pushfleet.appleTokenKeys.map { "\($0.keyId) (team \($0.teamId))" }
                if !keys.isEmpty { lines.append("APNs .p8 keys: \(keys.joined(separator: ", "))") }
                if expiries.isEmpty && keys.isEmpty {
                    warnings.append("apple=true but no APNs credential: no certificate in \(push.appleCertificateDir) and no "
                                    + "[pushfleet] apple-token-keys; every APNs push fails (set apple=false if there are no iOS apps)")
                }
            }
            if push.firebase {
                let v1 = push.firebaseServiceAccounts.map(\.project)
                if !v1.isEmpty { lines.append("Firebase (FCM v1) projects: \(v1.joined(separator: ", "))") }
                let legacy = push.firebaseProjectsAPIKeys.map(\.project)
                if !legacy.isEmpty {
                    lines.append("FCM legacy server keys: \(legacy.joined(separator: ", ")) (to \(config.pushfleet.firebaseURI))")
                }
                if !legacy.isEmpty, config.pushfleet.firebaseURI.contains("googleapis.com") {
                    warnings.append("firebase-projects-api-keys: Google shut the FCM legacy protocol down in 2024; "
                                    + "fcm.googleapis.com refuses these keys. Use firebase-service-accounts (FCM v1), or point "
                                    + "firebase-uri at a gateway that still speaks the legacy protocol")
                }
            }
            return (lines, warnings)
        }
    }

    struct Dump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the effective config (file + --set + defaults) as INI, secrets redacted.",
            usage: """
                pushfleet config dump [--config <file>] [-b <host:port>]
                  [--set <k=v> ...] [-X <property=value> ...]
                """,
            discussion: "  pushfleet config dump --config flexisip.conf > effective.conf")

        @OptionGroup var options: ConfigOptions

        func run() async throws {
            print(try options.load(requireFile: false).dump(), terminator: "")
        }
    }
}
