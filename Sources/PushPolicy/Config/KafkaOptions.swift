/// `[kafka]`: where the fleet's topics live (docs/contract.md §1, §3).
public struct KafkaOptions: Sendable, Hashable {
    /// librdkafka `bootstrap.servers` list (`host:port,host:port`). Nil when not configured:
    /// `config check` reports it, the worker refuses to start without it.
    public var bootstrapServers: String?
    public var groupId = "pushfleet"
    public var eventsTopic = "pushfleet.events"
    public var registrationsTopic = "pushfleet.registrations"
    public var stateTopic = "pushfleet.state"
    public var outcomesTopic = "pushfleet.outcomes"
    public var deadLetterTopic = "pushfleet.dead-letter"
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
