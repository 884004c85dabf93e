import PushContract

/// `[kafka]`: where the fleet's topics live (docs/contract.md §1, §3).
public struct KafkaOptions: Sendable, Hashable {
    /// librdkafka `bootstrap.servers` list (`host:port,host:port`). Nil when not configured:
    /// `config check` reports it, the worker refuses to start without it.
    public var bootstrapServers: String?
    public var groupId = "pushfleet"
    public var eventsTopic = ContractTopic.defaultName(.events)
    public var registrationsTopic = ContractTopic.defaultName(.registrations)
    public var stateTopic = ContractTopic.defaultName(.state)
    public var outcomesTopic = ContractTopic.defaultName(.outcomes)
    public var deadLetterTopic = ContractTopic.defaultName(.deadLetter)

    /// The configured name of each contract topic.
    public var topicNames: [ContractTopic.Role: String] {
        [.events: eventsTopic, .registrations: registrationsTopic, .state: stateTopic,
         .outcomes: outcomesTopic, .deadLetter: deadLetterTopic]
    }
    /// `rdkafka.<property>=<value>` entries, in file order, passed to librdkafka as is.
    public var rdkafka: [(String, String)] = []

    public init() {}

    public static func == (a: KafkaOptions, b: KafkaOptions) -> Bool {
        a.bootstrapServers == b.bootstrapServers && a.groupId == b.groupId
            && a.eventsTopic == b.eventsTopic && a.registrationsTopic == b.registrationsTopic
            && a.stateTopic == b.stateTopic && a.outcomesTopic == b.outcomesTopic
            && a.deadLetterTopic == b.deadLetterTopic
            && a.rdkafka.elementsEqual(b.rdkafka, by: { $0.0 == $1.0 && $0.1 == $1.1 })
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(bootstrapServers)
        hasher.combine(groupId)
        hasher.combine(eventsTopic)
        for (name, value) in rdkafka {
            hasher.combine(name)
            hasher.combine(value)
        }
    }
}
