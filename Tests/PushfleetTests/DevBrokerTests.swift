import Foundation
import Testing

extension FleetProcesses {
@Suite("pushfleet dev-broker", .serialized, .timeLimit(.minutes(1)))
struct DevBrokerTests {
    @Test("kcat produces to and consumes from pushfleet dev-broker: a real Kafka-protocol endpoint")
    func kcatRoundTrip() async throws {
        let broker = try ChildProcess("pushfleet", ["dev-broker", "--partitions", "4"])
        defer { if broker.process.isRunning { broker.process.terminate() } }
        try await waitUntil("the bootstrap address on stdout") { broker.output.text.contains("\n") }
        let bootstrap = String(broker.output.text.prefix { $0 != "\n" })
        #expect(bootstrap.hasPrefix("127.0.0.1:"))

        // The contract's five topics exist with the requested partitions.
        let (lStatus, metadata, lErr) = try await run("/usr/bin/kcat", ["-b", bootstrap, "-L", "-m", "10"])
        #expect(lStatus == 0, "\(lErr)")
        for topic in ["pushfleet.events", "pushfleet.registrations", "pushfleet.state", "pushfleet.outcomes", "pushfleet.dead-letter"] {
            #expect(metadata.contains("topic \"\(topic)\" with 4 partitions"), "\(metadata)")
        }

        let lines = (0..<20).map { "call-\($0)@example.org:{\"n\":\($0)}" }
        let (pStatus, _, pErr) = try await run("/usr/bin/kcat", ["-b", bootstrap, "-P", "-t", "pushfleet.events", "-K", ":"], stdin: lines.joined(separator: "\n") + "\n")
        #expect(pStatus == 0, "\(pErr)")

        let (cStatus, consumed, cErr) = try await run("/usr/bin/kcat", ["-b", bootstrap, "-C", "-t", "pushfleet.events", "-o", "beginning", "-e", "-q", "-f", "%k %s %p\\n"])
        #expect(cStatus == 0, "\(cErr)")
        let records = consumed.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(records.count == 20)
        #expect(Set(records.map { "\($0[0]):\($0[1])" }) == Set(lines))
        // Keys hash to a partition; every record of one key is on one partition.
        #expect(Set(records.map { $0[2] }).count > 1, "20 keys over 4 partitions use more than one")

        broker.signal(SIGTERM)
        let status = try await broker.waitForExit(timeout: .seconds(10))
        #expect(status == 0)
        #expect(broker.errors.text.contains("stopped (SIGTERM)"))
    }

    @Test("dev-broker --control takes brokers down and up and adds latency at run time, answering each command")
    func controlChannel() async throws {
        let broker = try ChildProcess("pushfleet", ["dev-broker", "--partitions", "2", "--brokers", "2", "--control"], interactive: true)
        defer { if broker.process.isRunning { broker.process.terminate() } }
        try await waitUntil("the bootstrap address on stdout") { broker.output.text.contains("\n") }
        let bootstrap = String(broker.output.text.prefix { $0 != "\n" })
        @Sendable func command(_ line: String, answer: String) async throws {
            broker.send(line)
            try await waitUntil("'\(answer)' on stdout", timeout: .seconds(10)) { broker.output.text.contains(answer + "\n") }
        }
        @Sendable func metadata(wait: Int = 3) async throws -> (status: Int32, took: Duration) {
            let start = ContinuousClock.now
            let (status, _, _) = try await run("/usr/bin/kcat", ["-b", bootstrap, "-L", "-m", String(wait)])
            return (status, ContinuousClock.now - start)
        }
        #expect(try await metadata().status == 0)

        try await command("down", answer: "ok down")
        #expect(try await metadata().status != 0, "no broker answers while all are down")
        try await command("up all", answer: "ok up all")
        try await waitUntil("metadata again once the brokers are up", timeout: .seconds(20)) { try await metadata().status == 0 }

        // Each request kcat makes (ApiVersion, Metadata…) waits the added round trip.
        try await command("rtt 800", answer: "ok rtt 800")
        let slow = try await metadata(wait: 15)
        #expect(slow.status == 0 && slow.took >= .milliseconds(750), "\(slow)")
        try await command("rtt 0", answer: "ok rtt 0")

        // One broker only, and bad commands: answered, the broker keeps running.
        try await command("down 2", answer: "ok down 2")
        try await command("up 2", answer: "ok up 2")
        try await command("down 7", answer: "error no broker 7: ids are 1...2 or all")
        try await command("reboot", answer: "error unknown command reboot (down, up, rtt)")
        try await command("rtt soon", answer: "error rtt needs milliseconds in 0...60000: rtt soon")
        #expect(broker.process.isRunning)

        broker.signal(SIGTERM)
        #expect(try await broker.waitForExit(timeout: .seconds(10)) == 0)
    }

    @Test("dev-broker rejects bad options with a clear message")
    func badOptions() async throws {
        let (status, _, err) = try await run("pushfleet", ["dev-broker", "--partitions", "0"])
        #expect(status != 0)
        #expect(err.contains("--partitions must be in 1...1024, got 0"))
    }
}
}  // extension FleetProcesses
