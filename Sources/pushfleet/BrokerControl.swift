import Foundation
import Kafka

/// One command of `pushfleet dev-broker --control`: a line on stdin, for fault injection by
/// tests and the chaos runner (`pushfleet-chaos`).
///
/// ```
/// down [ID|all]        take broker ID (default: every broker) down: connections closed, new ones refused
/// up [ID|all]          bring it back
/// rtt MS [ID|all]      add MS milliseconds to every response of the broker (0 removes it)
/// ```
///
/// Each command is answered by one line on stdout, `ok <command>` once it is applied or
/// `error <why>`, so a controller knows when the fault is in place.
enum BrokerControlCommand: Equatable {
    case down([Int32])
    case up([Int32])
    case rtt(milliseconds: Int, [Int32])

    /// Parses one line; `brokers` is the cluster's size (ids 1…brokers).
    static func parse(_ line: String, brokers: Int) -> Result<BrokerControlCommand, ControlError> {
        let words = line.split(whereSeparator: \.isWhitespace).map(String.init)
        guard let verb = words.first else { return .failure(ControlError("empty command")) }
        func targets(_ rest: ArraySlice<String>) -> Result<[Int32], ControlError> {
            guard rest.count <= 1 else { return .failure(ControlError("too many arguments: \(line)")) }
            guard let target = rest.first, target != "all" else { return .success((1...brokers).map(Int32.init)) }
            guard let id = Int32(target), (1...Int32(brokers)).contains(id) else {
                return .failure(ControlError("no broker \(target): ids are 1...\(brokers) or all"))
            }
            return .success([id])
        }
        switch verb {
        case "down": return targets(words.dropFirst()).map { .down($0) }
        case "up": return targets(words.dropFirst()).map { .up($0) }
        case "rtt":
            guard words.count >= 2, let ms = Int(words[1]), (0...60_000).contains(ms) else {
                return .failure(ControlError("rtt needs milliseconds in 0...60000: \(line)"))
            }
            return targets(words.dropFirst(2)).map { .rtt(milliseconds: ms, $0) }
        default:
            return .failure(ControlError("unknown command \(verb) (down, up, rtt)"))
        }
    }

    func apply(to broker: EmbeddedKafkaBroker) throws(KafkaError) {
        switch self {
        case .down(let ids): for id in ids { try broker.setBrokerDown(id) }
        case .up(let ids): for id in ids { try broker.setBrokerUp(id) }
        case .rtt(let ms, let ids): for id in ids { try broker.setRoundTripTime(.milliseconds(ms), brokerId: id) }
        }
    }

    struct ControlError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// Reads commands from stdin on a thread of its own (blocking reads stay off the cooperative
    /// pool) until EOF, applying each and answering on stdout. EOF ends the control, not the broker.
    static func serve(_ broker: EmbeddedKafkaBroker) {
        Thread {
            while let line = readLine() {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty { continue }
                let answer: String
                switch parse(trimmed, brokers: broker.brokerCount) {
                case .failure(let error): answer = "error \(error)"
                case .success(let command):
                    do {
                        try command.apply(to: broker)
                        answer = "ok \(trimmed)"
                    } catch {
                        answer = "error \(trimmed): \(error)"
                    }
                }
                FileHandle.standardOutput.write(Data((answer + "\n").utf8))
                FileHandle.standardError.write(Data("pushfleet dev-broker: control: \(answer)\n".utf8))
            }
        }.start()
    }
}
