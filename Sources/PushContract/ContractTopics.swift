/// The five topics of docs/contract.md §1, with their default names and cleanup policies.
public struct ContractTopic: Sendable, Hashable {
    public enum Role: String, Sendable, Hashable, CaseIterable {
        case events, registrations, state, outcomes, deadLetter = "dead-letter"
    }

    public var role: Role
    public var defaultName: String
    /// `compact` for tables (registrations, state), `delete` for streams.
    public var cleanupPolicy: String
    /// Retention of a stream, in ms (nil for a table, which keeps its latest values).
    public var retentionMs: Int64?

    /// The partition count `topics create`, `dev` and `dev-broker` give every topic by default:
    /// the number of workers a fleet can use at most (docs/operations.md).
    public static let defaultPartitions: Int32 = 16

    /// The topic settings `pushfleet topics create` sets and `topics check` compares.
    ///
    /// A table (compacted) must stay small and restore fast, because a worker reads its whole
    /// partition before taking events: segments roll hourly (`segment.ms`; compaction never
    /// touches the active segment), the cleaner runs once a tenth of the log is stale
    /// (`min.cleanable.dirty.ratio`, Kafka's default 0.5 lets a table double), and tombstones
    /// stay a day (`delete.retention.ms`) so a restore that started before a deletion still sees
    /// it. Streams keep a week (events: room to replay an incident; outcomes: for routers that
    /// were down), dead letters 30 days (time to fix a router).
    public var configs: [String: String] {
        var configs = ["cleanup.policy": cleanupPolicy]
        if cleanupPolicy == "compact" {
            configs["segment.ms"] = "3600000"
            configs["min.cleanable.dirty.ratio"] = "0.1"
            configs["delete.retention.ms"] = "86400000"
        }
        if let retentionMs { configs["retention.ms"] = String(retentionMs) }
        return configs
    }

    /// In the order of docs/contract.md. `state` must have as many partitions as `events`: the state of events
    /// partition N lives in state partition N.
    private static let day: Int64 = 86_400_000

    /// The contract's name of the topic of `role` (a config may rename it).
    public static func defaultName(_ role: Role) -> String {
        all.first { $0.role == role }!.defaultName
    }

    public static let all: [ContractTopic] = [
        ContractTopic(role: .events, defaultName: "pushfleet.events", cleanupPolicy: "delete", retentionMs: 7 * day),
        ContractTopic(role: .registrations, defaultName: "pushfleet.registrations", cleanupPolicy: "compact"),
        ContractTopic(role: .state, defaultName: "pushfleet.state", cleanupPolicy: "compact"),
        ContractTopic(role: .outcomes, defaultName: "pushfleet.outcomes", cleanupPolicy: "delete", retentionMs: 7 * day),
        ContractTopic(role: .deadLetter, defaultName: "pushfleet.dead-letter", cleanupPolicy: "delete", retentionMs: 30 * day),
    ]
}

/// What `pushfleet topics check` found wrong with the topics as the cluster describes them.
public struct TopicReview: Sendable, Hashable {
    /// The workers cannot run right with these (missing topic, not compacted table, events and
    /// state not co-partitioned): the check fails.
    public var problems: [String] = []
    /// Tuning values that differ from what `topics create` sets: an operator may have chosen
    /// them, so they are reported, not failed.
    public var drift: [String] = []

    /// Reviews the topics named `names` (by role) against `found` (name → partition count and
    /// the configs the cluster reported; a config it did not report is not judged).
    public init(names: [ContractTopic.Role: String], found: [String: (partitions: Int32, configs: [String: String])]) {
        for topic in ContractTopic.all {
            let name = names[topic.role] ?? topic.defaultName
            guard let actual = found[name] else {
                problems.append("\(name) does not exist (run `pushfleet topics create`)")
                continue
            }
            for (key, recommended) in topic.configs.sorted(by: { $0.key < $1.key }) {
                guard let value = actual.configs[key], value != recommended else { continue }
                if key == "cleanup.policy" {
                    problems.append("\(name) has cleanup.policy=\(value), expected \(recommended)"
                                    + (recommended == "compact" ? " (a table: without compaction it grows forever and restores slow down)" : ""))
                } else {
                    drift.append("\(name) has \(key)=\(value); pushfleet topics create sets \(recommended)")
                }
            }
        }
        let events = names[.events] ?? "pushfleet.events", state = names[.state] ?? "pushfleet.state"
        if let e = found[events], let s = found[state], e.partitions != s.partitions {
            problems.append("\(state) has \(s.partitions) partitions but \(events) has \(e.partitions): they must be equal (the state of events partition N lives in state partition N)")
        }
    }
}
