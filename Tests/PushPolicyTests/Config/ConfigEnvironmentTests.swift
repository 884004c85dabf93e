import Foundation
import Testing

@testable import PushPolicy

/// `${NAME}` in values, `rdkafka.<property>-file` secrets and `log-level`.
@Suite("Config: environment variables, secret files, log level")
struct ConfigEnvironmentTests {
    static let environment = ["KAFKA_BOOTSTRAP": "k1:9092,k2:9092", "KAFKA_PASSWORD": "s3cr3t", "TIMEOUT": "7"]

    func load(_ text: String, overrides: [String] = []) throws(ConfigError) -> PushFleetConfig {
        try PushFleetConfig.load(text: text, overrides: overrides, environment: Self.environment)
    }

    func error(_ text: String, overrides: [String] = []) -> String? {
        do {
            _ = try load(text, overrides: overrides)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("${NAME} is replaced in the file, in --set and in rdkafka.* values; $${ stays literal")
    func expandsVariables() throws {
        let config = try load("""
            [kafka]
            bootstrap-servers=${KAFKA_BOOTSTRAP}
            rdkafka.sasl.password=${KAFKA_PASSWORD}
            [module::PushNotification]
            filter=from.uri.user == 'a$${b}'
            """, overrides: ["module::PushNotification/timeout=${TIMEOUT}"])
        #expect(config.kafka.bootstrapServers == "k1:9092,k2:9092")
        #expect(config.kafka.rdkafka.first { $0.0 == "sasl.password" }?.1 == "s3cr3t")
        #expect(config.pushNotification.timeout == 7)
        #expect(config.pushNotification.filter == "from.uri.user == 'a${b}'")
        // The dump shows the expanded value, the secret masked.
        let dump = config.dump()
        #expect(dump.contains("bootstrap-servers=k1:9092,k2:9092"))
        #expect(!dump.contains("s3cr3t"))
    }

    @Test(arguments: [
        ("[kafka]\nbootstrap-servers=${NOPE}",
         "line 2: [kafka] bootstrap-servers: environment variable NOPE is not set (the value refers to ${NOPE})"),
        ("[kafka]\nbootstrap-servers=${KAFKA_BOOTSTRAP",
         "line 2: [kafka] bootstrap-servers: unterminated ${ in the value: write ${NAME}, or $${ for a literal ${"),
        ("[kafka]\nbootstrap-servers=${A-B}",
         "line 2: [kafka] bootstrap-servers: ${A-B} is not an environment variable name (letters, digits, _)"),
    ])
    func badReferences(text: String, message: String) {
        #expect(error(text) == message)
    }

    @Test("keys PushFleet does not read keep their ${…} untouched (a Flexisip file's other sections)")
    func otherSectionsUntouched() throws {
        _ = try load("""
            [global]
            transports=sip:${HOST}:5060
            [module::Router]
            fork-late=${UNSET}
            """)
    }

    @Test("rdkafka.<property>-file reads the secret from a file, without its trailing newline; a missing file names key and path")
    func secretFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pf-secret-\(UUID().uuidString)").path
        try "from-a-file\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try load("[kafka]\nrdkafka.sasl.password-file=\(path)")
        #expect(config.kafka.rdkafka.map(\.0) == ["sasl.password"])
        #expect(config.kafka.rdkafka.first?.1 == "from-a-file")
        #expect(!config.dump().contains("from-a-file"))
        #expect(error("[kafka]\nrdkafka.sasl.password-file=/nonexistent/pw")
                == "line 2: [kafka] rdkafka.sasl.password-file = /nonexistent/pw: cannot read the file (it must exist, be readable, UTF-8 and at most 64 KiB)")
    }

    @Test("log-level takes swift-log's level names")
    func logLevel() throws {
        #expect(try load("").pushfleet.logLevel == .info)
        #expect(try load("[pushfleet]\nlog-level=debug").pushfleet.logLevel == .debug)
        #expect(error("[pushfleet]\nlog-level=verbose")
                == "line 2: [pushfleet] log-level = verbose: must be one of trace, debug, info, notice, warning, error, critical")
    }
}
