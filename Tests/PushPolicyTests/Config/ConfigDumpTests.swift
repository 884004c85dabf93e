import Foundation
import Testing

@testable import PushPolicy

@Suite("PushFleetConfig dump")
struct ConfigDumpTests {
    @Test func defaultsDumpEveryKeyOfTheFourSections() throws {
        let dump = try PushFleetConfig.load(text: "").dump()
        let lines = dump.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("[") } == ["[module::PushNotification]", "[module::Router]", "[kafka]", "[pushfleet]"])
        for section in ConfigSchema.sections {
            for option in section.options {
                #expect(lines.contains { $0.hasPrefix(option.key + "=") }, "missing \(option.key)")
            }
        }
        #expect(lines.contains("call-remote-push-interval=0"))
        #expect(lines.contains("message-delivery-timeout=604800"))
        #expect(lines.contains("bootstrap-servers="))
        #expect(lines.contains("dead-letter-topic=pushfleet.dead-letter"))
        #expect(lines.contains("metrics-listen=127.0.0.1:9464"))
    }

    @Test func dumpLoadsBackToAnEqualConfig() throws {
        let original = try PushFleetConfig.load(
            text: PushFleetConfigTests.everyKey.replacingOccurrences(
                of: "firebase-projects-api-keys=111:AAAAkey1, 222:AAAAkey2", with: "firebase-projects-api-keys="))
        let reloaded = try PushFleetConfig.load(text: original.dump())
        #expect(reloaded == original)
        #expect(reloaded.dump() == original.dump())
        let defaults = try PushFleetConfig.load(text: "")
        #expect(try PushFleetConfig.load(text: defaults.dump()) == defaults)
    }

    @Test func secretsAreRedacted() throws {
        let config = try PushFleetConfig.load(
            text: """
                [module::PushNotification]
                firebase-projects-api-keys=111:AAAAkey1 222:AAAAkey2
                firebase-service-accounts=333:/sa/a.json
                [kafka]
                rdkafka.sasl.username=fleet
                rdkafka.sasl.password=hunter2
                rdkafka.ssl.key.password=pw
                rdkafka.ssl.key.pem=-----BEGIN
                rdkafka.sasl.oauthbearer.config=principal=x secret=y
                rdkafka.sasl.oauthbearer.client.secret=cs
                rdkafka.SSL_KEY_LOCATION_PASSWORD=z
                rdkafka.ssl.ca.location=/ca.pem
                """)
        let dump = config.dump()
        #expect(dump.contains("firebase-projects-api-keys=111:*** 222:***\n"))
        #expect(dump.contains("firebase-service-accounts=333:/sa/a.json\n"))
        #expect(dump.contains("rdkafka.sasl.username=fleet\n"))
        #expect(dump.contains("rdkafka.ssl.ca.location=/ca.pem\n"))
        for property in ["sasl.password", "ssl.key.password", "ssl.key.pem", "sasl.oauthbearer.config",
                         "sasl.oauthbearer.client.secret", "SSL_KEY_LOCATION_PASSWORD"] {
            #expect(dump.contains("rdkafka.\(property)=***\n"), "\(property) not redacted")
        }
        for secret in ["AAAAkey", "hunter2", "=pw", "BEGIN", "principal", "=cs", "=z"] {
            #expect(!dump.contains(secret), "\(secret) leaked")
        }
    }
}
