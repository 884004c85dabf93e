// The records of docs/contract.md §2 as value types: the vocabulary shared by the policy (pure
// decisions) and the engine (Kafka shell). One file per idea: `RouterEvents.swift` (router →
// workers), `PushOutcomes.swift` and `DeadLetters.swift` (workers → routers and operators), their
// parts `EventTime.swift` and `SIPTypes.swift`, and `ContractError.swift`. Codecs live beside
// them (`*+Codec.swift`); these files only say what a record *is*.

/// Contract major version written in every record's `v` field.
public enum ContractVersion {
    public static let current = 1
}
