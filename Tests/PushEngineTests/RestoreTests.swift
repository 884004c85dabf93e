import Kafka
import PushContract
import PushPolicy
import PushSenders
import Testing
@testable import PushEngine

/// Restores decide what a state record is by decoding it, and leave a trace of what they skip.
@Suite("Restore: shared state namespace and unusable records")
struct RestoreTests {
    /// A register wake-up marker as `RegistrationCore` writes it.
    static func marker(partition: Int32, binding: String) -> ScheduleRecord {
        ScheduleRecord(
            header: RecordHeader(id: "reg-1", time: t0), key: RegistrationCore.markerKey(partition: partition, binding: binding),
            callId: binding, branch: "register", eventTime: t0, requestIndex: 0, provider: "fcm", pushType: .wakeup,
            phase: .done, attempt: 1, nextAt: t0.adding(seconds: 600), retransmissionsLeft: 0, ringingUntil: nil,
            finalReason: nil, event: [])
    }

    /// The pending schedule of a call whose Call-ID starts with `wakeup|`, as its state record.
    static func callSchedule(callId: String) throws -> ScheduleRecord {
        var a = try makeCore { o, _ in o.timeout = 5 }
        return try #require(a.apply(unanswered("e1", call: callId, uri: Contacts.android), now: t0).states.first?.record)
    }

    @Test("a call whose Call-ID starts with wakeup| is restored; wake-up markers and undecodable records are not")
    func eventsRestoreDecidesByRecord() throws {
        let call = try Self.callSchedule(callId: "wakeup|0|evil")
        #expect(call.key.hasPrefix("wakeup|"))
        let marker = Self.marker(partition: 0, binding: "sip:alice@example.org|<urn:uuid:x>")
        var core = try makeCore { o, _ in o.timeout = 5 }
        let unusable = core.restore(latest: [
            call.key: RecordEncoder.encode(call),
            marker.key: RecordEncoder.encode(marker),
            "broken": Array("{".utf8),
        ])
        #expect(core.schedules(ofCall: "wakeup|0|evil").count == 1, "not lost on failover")
        #expect(core.pendingCount == 1, "the wake-up marker belongs to the registrations core")
        #expect(core.nextDeadline == t0.adding(seconds: 5))
        #expect(Array(unusable.keys) == ["broken"])
    }

    @Test("the registrations restore takes only wake-up markers, whatever their key's prefix")
    func markersDecidedByRecord() throws {
        let call = try Self.callSchedule(callId: "wakeup|0|evil")
        let marker = Self.marker(partition: 0, binding: "sip:alice@example.org|<urn:uuid:x>")
        var core = RegistrationCore(partition: 0, options: PushNotificationOptions(), now: t0)
        let unusable = core.restoreMarkers(latest: [
            call.key: RecordEncoder.encode(call),
            marker.key: RecordEncoder.encode(marker),
            "wakeup|0|broken": Array("{".utf8),
            "wakeup|1|other-partition": Array("{".utf8),
        ])
        #expect(core.currentState(key: marker.key) == marker)
        #expect(core.currentState(key: call.key) == nil, "a call's schedule is not a sent wake-up")
        #expect(Array(unusable.keys) == ["wakeup|0|broken"], "markers of other partitions are not this restore's")
    }

    @Test("an undecodable registration is dead-lettered when read, and reported (not dead-lettered again) at restore")
    func undecodableRegistration() throws {
        let bad = KafkaMessage(topic: "pushfleet.registrations", partition: 0, offset: 7, key: Array("k".utf8), value: Array("{".utf8))
        var live = RegistrationCore(partition: 0, options: PushNotificationOptions(), now: t0)
        #expect(live.handle(bad, now: t0).deadLetters.count == 1)
        var restored = RegistrationCore(partition: 0, options: PushNotificationOptions(), now: t0)
        let reason = restored.restore(bad, now: t0)
        #expect(reason?.isEmpty == false, "the shell logs and counts it")
        #expect(restored.pendingCount == 0)
    }
}
