/// The five topics of docs/contract.md §1, with their default names and cleanup policies.
public struct ContractTopic: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case events, registrations, state, outcomes, deadLetter = "dead-letter"
    }

    public var role: Role
    public var defaultName: String
    /// `compact` for tables (registrations, state), `delete` for streams.
    public var cleanupPolicy: String

    /// In the order of docs/contract.md. `state` must have as many partitions as `events`: the state of events
    /// partition N lives in state partition N.
    public static let all: [ContractTopic] = [
        ContractTopic(role: .events, defaultName: "pushfleet.events", cleanupPolicy: "delete"),
        ContractTopic(role: .registrations, defaultName: "pushfleet.registrations", cleanupPolicy: "compact"),
        ContractTopic(role: .state, defaultName: "pushfleet.state", cleanupPolicy: "compact"),
        ContractTopic(role: .outcomes, defaultName: "pushfleet.outcomes", cleanupPolicy: "delete"),
        ContractTopic(role: .deadLetter, defaultName: "pushfleet.dead-letter", cleanupPolicy: "delete"),
    ]
}
