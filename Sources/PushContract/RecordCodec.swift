/// Entry points of the record codecs: bytes ⇄ contract records (docs/contract.md §2).
///
/// One JSON reader serves every record type, so validation rules (size limit, version, id,
/// timestamps, duplicate members) are identical for router events, outcomes and dead letters.

/// Any record of the contract, as read back from a topic.
public enum ContractRecord: Sendable, Hashable {
    case routerEvent(RouterEvent)
    case pushOutcome(PushOutcome)
    case deadLetter(DeadLetter)
}

/// Decodes router events (`pushfleet.events`, `pushfleet.registrations`).
public enum RouterEventDecoder {
    /// Decodes and validates one record value; every failure names the offending field.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ContractError) -> RouterEvent {
        try RecordDecoder.decode(bytes, expecting: .routerEvent) { reader, type, header throws(ContractError) in
            try RouterEvent.decode(type: type, header: header, reader)
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(ContractError) -> RouterEvent {
        try bytes.withContractBytes { (raw) throws(ContractError) in try decode(raw) }
    }
}

/// Decodes any contract record; tools and tests use it to read outcomes and dead letters back.
public enum RecordDecoder {
    /// Values above this size are rejected before parsing (docs/contract.md §2: at most 64 KiB).
    public static let maximumRecordSize = 64 * 1024

    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ContractError) -> ContractRecord {
        try decode(bytes, expecting: .any) { reader, type, header throws(ContractError) in
            switch type {
            case .pushOutcome: .pushOutcome(try PushOutcome(header: header, reader))
            case .deadLetter: .deadLetter(try DeadLetter(header: header, reader))
            case .pushSchedule: throw ContractError(field: "type", problem: "\"push.schedule\" is worker state, not a contract record")
            default: .routerEvent(try RouterEvent.decode(type: type, header: header, reader))
            }
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(ContractError) -> ContractRecord {
        try bytes.withContractBytes { (raw) throws(ContractError) in try decode(raw) }
    }

    public static func decodePushOutcome(_ bytes: [UInt8]) throws(ContractError) -> PushOutcome {
        try bytes.withContractBytes { (raw) throws(ContractError) in
            try decode(raw, expecting: .only(.pushOutcome)) { reader, _, header throws(ContractError) in
                try PushOutcome(header: header, reader)
            }
        }
    }

    public static func decodeDeadLetter(_ bytes: [UInt8]) throws(ContractError) -> DeadLetter {
        try bytes.withContractBytes { (raw) throws(ContractError) in
            try decode(raw, expecting: .only(.deadLetter)) { reader, _, header throws(ContractError) in
                try DeadLetter(header: header, reader)
            }
        }
    }

    package enum Expectation {
        case any
        case routerEvent
        case only(RecordType)
    }

    /// Size limit, JSON syntax, then `v`, `type`, `id`, `time` in that order, then the body.
    package static func decode<R>(
        _ bytes: UnsafeRawBufferPointer, expecting: Expectation,
        body: (JSONObjectReader, RecordType, RecordHeader) throws(ContractError) -> R
    ) throws(ContractError) -> R {
        guard bytes.count <= maximumRecordSize else {
            throw ContractError(field: "$", problem: "record is \(bytes.count) bytes, more than the 64 KiB limit")
        }
        let tape = try JSONTape(parsing: bytes)
        let reader = try JSONObjectReader(tape, at: 0, path: "")
        let version = try reader.integer("v", in: Int64.min...Int64.max)
        guard version == Int64(ContractVersion.current) else {
            throw ContractError(field: "v", problem: "unsupported contract version \(version); this worker reads version \(ContractVersion.current)")
        }
        let type = try RecordType(reader)
        switch expecting {
        case .any: break
        case .routerEvent where type.isRouterEvent: break
        case .only(let expected) where expected == type: break
        default:
            throw ContractError(field: "type", problem: "\"\(type.rawValue)\" is not expected here")
        }
        let header = RecordHeader(id: try reader.string("id", characters: 1...128), time: try reader.time("time"))
        return try body(reader, type, header)
    }
}

/// The `type` field's values.
package enum RecordType: String, CaseIterable {
    case branchUnanswered = "branch.unanswered"
    case branchResponse = "branch.response"
    case callEnded = "call.ended"
    case registrationUpdated = "registration.updated"
    case pushOutcome = "push.outcome"
    case deadLetter = "dead-letter"
    /// Worker-internal state (`pushfleet.state`); never accepted where contract records are.
    case pushSchedule = "push.schedule"

    /// The same text as `rawValue`, without building a String on the hot path.
    var name: StaticString {
        switch self {
        case .branchUnanswered: "branch.unanswered"
        case .branchResponse: "branch.response"
        case .callEnded: "call.ended"
        case .registrationUpdated: "registration.updated"
        case .pushOutcome: "push.outcome"
        case .deadLetter: "dead-letter"
        case .pushSchedule: "push.schedule"
        }
    }

    var nameBytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount) }

    var isRouterEvent: Bool { self != .pushOutcome && self != .deadLetter && self != .pushSchedule }

    init(_ reader: JSONObjectReader) throws(ContractError) {
        guard let k = reader.member("type") else { throw ContractError(field: "type", problem: "missing") }
        let token = reader.tape[k]
        guard token.kind == .string else { throw ContractError(field: "type", problem: "expected string, got \(token.kind.name)") }
        let found = reader.tape.withStringBytes(token) { raw in
            RecordType.allCases.first { type in type.name.utf8CodeUnitCount == raw.count && raw.elementsEqual(type.nameBytes) }
        }
        guard let found else {
            let known = RecordType.allCases.map(\.rawValue).joined(separator: ", ")
            throw ContractError(field: "type", problem: "unknown record type \(quotedForMessage(reader.tape.string(token))) (known: \(known))")
        }
        self = found
    }
}

/// Encodes contract records as compact JSON, `v`, `type`, `id`, `time` first.
public enum RecordEncoder {
    public static func encode(_ record: ContractRecord) -> [UInt8] {
        switch record {
        case .routerEvent(let event): encode(event)
        case .pushOutcome(let outcome): encode(outcome)
        case .deadLetter(let letter): encode(letter)
        }
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` that keeps the typed error (the stdlib's version rethrows `any Error`).
    package func withContractBytes<R>(_ body: (UnsafeRawBufferPointer) throws(ContractError) -> R) throws(ContractError) -> R {
        let result = withUnsafeBytes { raw in Result { () throws(ContractError) -> R in try body(raw) } }
        return try result.get()
    }
}
