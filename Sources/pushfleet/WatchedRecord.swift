import Kafka
import PushContract

/// A record of the outcomes or dead-letter topic as an operator watches it: the one-line form
/// `pushfleet dev` and `pushfleet tail` print, and what `tail`'s filters match on.
enum WatchedRecord: Sendable {
    case outcome(PushOutcome)
    case deadLetter(DeadLetter)

    /// Decodes `message`; nil for a tombstone or a record that is neither (another writer's).
    init?(_ message: KafkaMessage, deadLetterTopic: String) {
        guard let value = message.value else { return nil }
        if message.topic == deadLetterTopic {
            guard let letter = try? RecordDecoder.decodeDeadLetter(value) else { return nil }
            self = .deadLetter(letter)
        } else {
            guard let outcome = try? RecordDecoder.decodePushOutcome(value) else { return nil }
            self = .outcome(outcome)
        }
    }

    /// What `--result` names it: an outcome's `result`, or `dead-letter`.
    var result: String {
        switch self {
        case .outcome(let o): o.result.rawValue
        case .deadLetter: "dead-letter"
        }
    }

    /// The key `pushfleet dev`'s summary counts it under.
    var tallyKey: String {
        switch self {
        case .outcome(let o): o.result.rawValue + (o.pushType.map { " " + $0.rawValue } ?? "")
        case .deadLetter: "dead-letter"
        }
    }

    /// Whether the record concerns `callId`. A dead letter's input could not be read as an event,
    /// so it matches when its original key is the Call-ID (routers key events by it) or its
    /// original value contains it.
    func concerns(callId: String) -> Bool {
        switch self {
        case .outcome(let o): o.callId == callId
        case .deadLetter(let d): d.key == Array(callId.utf8) || Self.contains(d.value, callId)
        }
    }

    /// Whether the record concerns the device with push token `prid`: the outcome's `device`, or
    /// a dead letter whose original value contains it.
    func concerns(prid: String) -> Bool {
        switch self {
        case .outcome(let o): o.device?.prid == prid
        case .deadLetter(let d): Self.contains(d.value, prid)
        }
    }

    private static func contains(_ bytes: [UInt8]?, _ text: String) -> Bool {
        guard let bytes, !text.isEmpty else { return false }
        return String(decoding: bytes, as: UTF8.self).contains(text)
    }

    /// One line: a symbol, the result, then what an operator needs to act on it.
    var line: String {
        switch self {
        case .deadLetter(let letter):
            return "☠ dead letter   \(letter.source.topic)[\(letter.source.partition)]@\(letter.source.offset): \(letter.error)"
        case .outcome(let o):
            let symbol = switch o.result {
            case .sent: "✓"
            case .failed: "✗"
            case .invalidToken: "⊘"
            case .dropped: "⌛"
            case .skipped: "↷"
            }
            var text = "\(symbol) \(o.result.rawValue.padding(toLength: 13, withPad: " ", startingAt: 0))"
            if let type = o.pushType { text += " \(type.rawValue)" }
            if let provider = o.provider { text += " via \(provider)" }
            text += " call \(o.callId ?? o.registration ?? "?")"
            if o.result != .skipped { text += " attempt \(o.attempt)" }
            if let status = o.status { text += " HTTP \(status)" }
            if let latency = o.latencyMs { text += " \(latency) ms after the event" }
            if let reason = o.reason { text += " — \(reason)" }
            if let since = o.invalidSince { text += " (invalid since \(since.rfc3339))" }
            return text
        }
    }
}
