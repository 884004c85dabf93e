import Testing

@testable import PushContract

@Suite("Topic settings and topics check's review")
struct TopicReviewTests {
    static let names = Dictionary(uniqueKeysWithValues: ContractTopic.all.map { ($0.role, $0.defaultName) })

    /// Every topic as `topics create` makes it, with `partitions`.
    static func created(partitions: Int32 = 16) -> [String: (partitions: Int32, configs: [String: String])] {
        Dictionary(uniqueKeysWithValues: ContractTopic.all.map { ($0.defaultName, (partitions, $0.configs)) })
    }

    @Test("tables are compacted with hourly segments, an eager cleaner and a day of tombstones; streams keep a week, dead letters 30 days")
    func settings() {
        let by = Dictionary(uniqueKeysWithValues: ContractTopic.all.map { ($0.role, $0.configs) })
        for table in [ContractTopic.Role.state, .registrations] {
            #expect(by[table] == ["cleanup.policy": "compact", "segment.ms": "3600000", "min.cleanable.dirty.ratio": "0.1",
                                  "delete.retention.ms": "86400000"])
        }
        #expect(by[.events] == ["cleanup.policy": "delete", "retention.ms": "604800000"])
        #expect(by[.outcomes] == ["cleanup.policy": "delete", "retention.ms": "604800000"])
        #expect(by[.deadLetter] == ["cleanup.policy": "delete", "retention.ms": "2592000000"])
    }

    @Test("topics as created: nothing to report")
    func clean() {
        #expect(TopicReview(names: Self.names, found: Self.created()) == TopicReview(names: [:], found: Self.created()))
        #expect(TopicReview(names: Self.names, found: Self.created()).problems.isEmpty)
        #expect(TopicReview(names: Self.names, found: Self.created()).drift.isEmpty)
    }

    @Test("a missing topic, a table not compacted and events/state not co-partitioned are problems; other values are drift")
    func problemsAndDrift() {
        var found = Self.created()
        found["pushfleet.dead-letter"] = nil
        found["pushfleet.state"] = (8, ["cleanup.policy": "delete", "segment.ms": "604800000"])
        found["pushfleet.events"]?.configs["retention.ms"] = "86400000"
        let review = TopicReview(names: Self.names, found: found)
        #expect(review.problems == [
            "pushfleet.state has cleanup.policy=delete, expected compact (a table: without compaction it grows forever and restores slow down)",
            "pushfleet.dead-letter does not exist (run `pushfleet topics create`)",
            "pushfleet.state has 8 partitions but pushfleet.events has 16: they must be equal (the state of events partition N lives in state partition N)",
        ])
        #expect(review.drift == [
            "pushfleet.events has retention.ms=86400000; pushfleet topics create sets 604800000",
            "pushfleet.state has segment.ms=604800000; pushfleet topics create sets 3600000",
        ])
    }

    @Test("configured names are reviewed, and a config the cluster did not report is not judged")
    func configuredNames() {
        var names = Self.names
        names[.events] = "acme.events"
        var found = Self.created()
        found["acme.events"] = (16, [:])
        found["pushfleet.events"] = nil
        #expect(TopicReview(names: names, found: found) == TopicReview(names: Self.names, found: Self.created()))
    }
}
