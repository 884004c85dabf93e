import ArgumentParser
import Foundation
import Kafka
import PushContract

/// `pushfleet publish`: a router simulator for scripts and demos.
struct PublishCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Publish contract events (router simulator): from flags for common cases, or JSON lines.",
        discussion: """
            Every event is validated with the worker's own decoder before it is sent; the key is the \
            Call-ID (events) or <aor>|<instance> (registrations), as a router would write it.

              pushfleet publish call --bootstrap-servers 127.0.0.1:9092 \\
                --device ios-voip --call-id c1
              pushfleet publish end --config flexisip.conf --call-id c1 --reason cancelled
              pushfleet publish json --config flexisip.conf < events.jsonl
            """,
        subcommands: [Call.self, Message.self, Response.self, End.self, Registration.self, JSONLines.self]
    )

    struct Target: ParsableArguments {
        @OptionGroup var config: ConfigOptions

        /// The Kafka configuration and the events and registrations topics: the config file's,
        /// with `-b`/`-X` applied (or the defaults with `-b` alone).
        func resolve() throws -> (KafkaConfiguration, events: String, registrations: String) {
            let loaded = try config.load()
            return (try loaded.kafkaConfiguration(clientId: "pushfleet-publish"), loaded.kafka.eventsTopic, loaded.kafka.registrationsTopic)
        }

        /// The record a router writes for `event`: its topic and key as docs/contract.md §1 says.
        private static func record(_ event: RouterEvent, events eventsTopic: String, registrations registrationsTopic: String) -> KafkaProducerRecord {
            let value = RecordEncoder.encode(event)
            switch event {
            case .registrationUpdated(let r):
                return KafkaProducerRecord(topic: registrationsTopic, key: Array("\(r.aor)|\(r.instanceId ?? r.contact)".utf8), value: value)
            case .branchUnanswered(let e): return KafkaProducerRecord(topic: eventsTopic, key: Array(e.callId.utf8), value: value)
            case .branchResponse(let e): return KafkaProducerRecord(topic: eventsTopic, key: Array(e.callId.utf8), value: value)
            case .callEnded(let e): return KafkaProducerRecord(topic: eventsTopic, key: Array(e.callId.utf8), value: value)
            }
        }

        /// Validates, sends in one batch, prints one line per record; fails if any was not delivered.
        func publish(_ events: [RouterEvent]) async throws {
            let (kafka, eventsTopic, registrationsTopic) = try resolve()
            let producer = try KafkaProducer(configuration: kafka)
            // The record timestamp is the event's time, as a router should set it: time-range
            // tools (`pushfleet replay --from`) then select by when things happened.
            let records = events.map { event -> KafkaProducerRecord in
                var record = Self.record(event, events: eventsTopic, registrations: registrationsTopic)
                record.timestamp = event.header.time.millisecondsSince1970
                return record
            }
            var failed = 0
            for (event, result) in zip(events, await producer.sendBatch(records)) {
                switch result {
                case .success(let report):
                    print("sent \(event.type) id=\(event.header.id) to \(report.topic)[\(report.partition)]@\(report.offset)")
                case .failure(let error):
                    failed += 1
                    printError("not sent \(event.type) id=\(event.header.id): \(error)")
                }
            }
            if failed > 0 { throw CommandError("\(failed) of \(events.count) event(s) not delivered") }
        }
    }

    /// Push parameters of typical devices, for quick scenarios.
    enum Device: String, ExpressibleByArgument, CaseIterable {
        case iosVoip = "ios-voip", iosRemote = "ios-remote", android

        func contact(token: String?, user: String = "alice", host: String = "192.0.2.10") -> String {
            switch self {
            case .iosVoip:
                "sip:\(user)@\(host);pn-provider=apns.dev;pn-param=ABCD1234.org.linphone.phone.voip;pn-prid=\(token ?? String(repeating: "a1", count: 32)):voip"
            case .iosRemote:
                "sip:\(user)@\(host);pn-provider=apns.dev;pn-param=ABCD1234.org.linphone.phone;pn-prid=\(token ?? String(repeating: "b2", count: 32))"
            case .android:
                "sip:\(user)@\(host);pn-provider=fcm;pn-param=123456789;pn-prid=\(token ?? "fcm-token-alice")"
            }
        }
    }

    struct Branch: ParsableArguments {
        @Option(help: "Device preset (\(Device.allCases.map(\.rawValue).joined(separator: ", "))).") var device: Device = .iosVoip
        @Option(help: "Contact URI with push parameters (overrides --device).") var contact: String?
        @Option(help: "Device token for the preset.") var token: String?
        @Option(help: "Call-ID (default: a new one).") var callId: String = "call-\(UUID().uuidString.prefix(8).lowercased())"
        @Option(help: "Branch id.") var branch: String = "branch-1"
        @Option(help: "From URI.") var from: String = "sip:bob@example.org"
        @Option(help: "From display name.") var fromName: String = "Bob"
        @Option(help: "To URI.") var to: String = "sip:alice@example.org"
        @Option(help: "Call fork timeout for this call, seconds.") var forkTimeout: Int?

        func event(method: String, body: String? = nil, headers: [(String, String)] = []) -> RouterEvent {
            .branchUnanswered(BranchUnanswered(
                header: newHeader(), callId: callId, branch: branch, method: method,
                requestUri: contact ?? device.contact(token: token),
                from: SIPAddress(uri: from, displayName: fromName, tag: String(UUID().uuidString.prefix(8))),
                to: SIPAddress(uri: to), headers: SIPHeaders(headers.map { (name: $0.0, value: $0.1) }), body: body,
                instanceId: "<urn:uuid:\(UUID().uuidString.lowercased())>", forkTimeout: forkTimeout))
        }
    }

    struct Call: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A call (INVITE) branch to a device with push parameters.")
        @OptionGroup var target: Target
        @OptionGroup var branch: Branch
        func run() async throws { try await target.publish([branch.event(method: "INVITE", headers: [("Content-Type", "application/sdp")])]) }
    }

    struct Message: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "An instant message (MESSAGE) branch.")
        @OptionGroup var target: Target
        @OptionGroup var branch: Branch
        @Option(help: "Message text.") var text: String = "Hello"
        func run() async throws { try await target.publish([branch.event(method: "MESSAGE", body: text, headers: [("Content-Type", "text/plain")])]) }
    }

    struct Response: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The device answered on its branch (branch.response).")
        @OptionGroup var target: Target
        @Option(help: "Call-ID.") var callId: String
        @Option(help: "Branch id.") var branch: String = "branch-1"
        @Option(help: "SIP status.") var status: Int = 180
        func run() async throws {
            try await target.publish([.branchResponse(BranchResponse(header: newHeader(), callId: callId, branch: branch, status: status))])
        }
    }

    struct End: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The call ended (call.ended).")
        @OptionGroup var target: Target
        @Option(help: "Call-ID.") var callId: String
        @Option(help: "answered, answered-elsewhere, declined-elsewhere, cancelled or timeout.") var reason: String = "cancelled"
        func run() async throws {
            guard let r = CallEndReason(rawValue: reason) else {
                throw ValidationError("--reason must be one of \(CallEndReason.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            try await target.publish([.callEnded(CallEnded(header: newHeader(), callId: callId, reason: r))])
        }
    }

    struct Registration: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A registration changed (registration.updated).")
        @OptionGroup var target: Target
        @Option(help: "Address of record.") var aor: String = "sip:alice@example.org"
        @Option(help: "Device preset.") var device: Device = .android
        @Option(help: "Contact URI with push parameters (overrides --device).") var contact: String?
        @Option(help: "Expires, seconds.") var expires: Int = 3600
        @Option(help: "Seconds ago the registration was refreshed.") var age: Int = 0
        func run() async throws {
            let now = SystemClock().now()
            try await target.publish([.registrationUpdated(RegistrationUpdated(
                header: newHeader(), aor: aor, contact: contact ?? device.contact(token: nil),
                instanceId: "<urn:uuid:\(UUID().uuidString.lowercased())>", callId: UUID().uuidString,
                expires: expires, updatedAt: now.adding(seconds: -age)))])
        }
    }

    struct JSONLines: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "json", abstract: "Contract events as JSON lines, from --file or stdin; all validated before any is sent.")
        @OptionGroup var target: Target
        @Option(help: "File of JSON lines (default: stdin).") var file: String?
        func run() async throws {
            let data = try file.map { try Data(contentsOf: URL(fileURLWithPath: $0)) } ?? FileHandle.standardInput.readDataToEndOfFile()
            var events: [RouterEvent] = []
            for (number, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
                do {
                    events.append(try RouterEventDecoder.decode(Array(line)))
                } catch {
                    throw CommandError("line \(number + 1): \(error)")
                }
            }
            try await target.publish(events)
        }
    }
}

/// A fresh record header: a unique id and the current time.
func newHeader() -> RecordHeader {
    RecordHeader(id: UUID().uuidString.lowercased(), time: SystemClock().now())
}
