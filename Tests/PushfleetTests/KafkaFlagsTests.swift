import Foundation
import Testing

@Suite("Kafka flags as kcat's, on every command that reaches Kafka")
struct KafkaFlagsTests {
    @Test("-b and -X set [kafka] bootstrap-servers and rdkafka.* without a config file; secrets stay masked")
    func flagsBecomeConfig() async throws {
        let (status, out, err) = try await run("pushfleet", ["config", "dump", "-b", "k1:9092,k2:9092",
                                                           "-X", "security.protocol=SASL_SSL", "-X", "sasl.password=hunter2"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("bootstrap-servers=k1:9092,k2:9092"), "\(out)")
        #expect(out.contains("rdkafka.security.protocol=SASL_SSL"), "\(out)")
        #expect(out.contains("rdkafka.sasl.password=***") && !out.contains("hunter2"), "\(out)")
    }

    @Test("-b overrides the file's brokers and keeps its topic names; -X wins over --set")
    func flagsOverrideTheFile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pf-flags-\(UUID().uuidString).conf").path
        try "[kafka]\nbootstrap-servers=old:9092\nevents-topic=acme.events\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (status, out, err) = try await run("pushfleet", ["config", "dump", "--config", path, "-b", "new:9092",
                                                           "--set", "kafka/rdkafka.client.rack=a", "-X", "client.rack=b"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("bootstrap-servers=new:9092") && !out.contains("old:9092"), "\(out)")
        #expect(out.contains("events-topic=acme.events"), "\(out)")
        #expect(out.contains("rdkafka.client.rack=b"), "\(out)")
    }

    @Test(arguments: [["worker"], ["tail"], ["inspect", "--call-id", "c"], ["topics", "check"], ["replay", "--from", "2026-01-01T00:00:00Z"]])
    func everyCommandTakesThem(command: [String]) async throws {
        // A malformed -X is a usage error on each of them, named the same way.
        let (status, _, err) = try await run("pushfleet", command + ["-b", "127.0.0.1:1", "-X", "nonsense"])
        #expect(status == 64, "\(err)")
        #expect(err.contains("-X nonsense: expected property=value"), "\(err)")
    }
}
