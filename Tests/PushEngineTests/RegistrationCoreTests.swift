import Kafka
import PushContract
import PushPolicy
import PushSenders
import Testing
@testable import PushEngine

@Suite("Register wake-up core")
struct RegistrationCoreTests {
    static func options(interval: Int = 1, threshold: Int = 50) -> PushNotificationOptions {
        var o = PushNotificationOptions()
        o.enabled = true
        o.registerWakeupInterval = interval
        o.registerWakeupThreshold = threshold
        return o
    }

    static func registration(_ key: String, contact: String = Contacts.android, updatedAt: EventTime, expires: Int) -> KafkaMessage {
        let r = RouterEvent.registrationUpdated(RegistrationUpdated(
            header: RecordHeader(id: "reg-\(key)-\(updatedAt.millisecondsSince1970)", time: updatedAt), aor: "sip:alice@example.org",
            contact: contact, instanceId: "<urn:uuid:\(key)>", callId: "register-\(key)", expires: expires, updatedAt: updatedAt))
        return KafkaMessage(topic: "pushfleet.registrations", partition: 0, offset: 0, key: Array(key.utf8), value: RecordEncoder.encode(r))
    }

    static func tombstone(_ key: String) -> KafkaMessage {
        KafkaMessage(topic: "pushfleet.registrations", partition: 0, offset: 0, key: Array(key.utf8), value: nil)
    }

    @Test("ticks fall on wall-clock multiples of the interval: every owner ticks at the same instants")
    func alignedTicks() {
        let fiveMinutes: Int64 = 300_000
        let boundary = EventTime(millisecondsSince1970: (t0.millisecondsSince1970 / fiveMinutes + 1) * fiveMinutes)
        let restoredEarly = RegistrationCore(partition: 0, options: Self.options(interval: 5), now: boundary.adding(seconds: -299))
        let restoredLate = RegistrationCore(partition: 0, options: Self.options(interval: 5), now: boundary.adding(seconds: -1))
        #expect(restoredEarly.nextTick == boundary && restoredLate.nextTick == boundary,
                "a partition restored a second before a boundary ticks at it, not one interval later")
        #expect(RegistrationCore(partition: 0, options: Self.options(interval: 5), now: boundary).nextTick == boundary.adding(seconds: 300))
        var moved = RegistrationCore(partition: 0, options: Self.options(interval: 5), now: boundary.adding(seconds: -1))
        #expect(moved.fireDue(now: boundary.adding(seconds: 1)).isEmpty)
        #expect(moved.nextTick == boundary.adding(seconds: 300), "then every interval on the same grid")
    }

    @Test("threshold boundaries: before the threshold no push, after it one push, expired none")
    func boundaries() throws {
        // Ticks every minute from t0; threshold 50 % of 600 s = due at t0+300 s, expires t0+600 s.
        var core = RegistrationCore(partition: 0, options: Self.options(), now: t0)
        _ = core.handle(Self.registration("due-later", updatedAt: t0.adding(seconds: 1), expires: 600), now: t0)   // due t0+301
        _ = core.handle(Self.registration("due-now", updatedAt: t0, expires: 600), now: t0)                      // due t0+300
        _ = core.handle(Self.registration("expired", updatedAt: t0.adding(seconds: -1000), expires: 600), now: t0)
        #expect(core.fireDue(now: t0.adding(seconds: 240)).isEmpty, "t0+240: nobody past the threshold")
        let at300 = core.fireDue(now: t0.adding(seconds: 300))
        #expect(at300.sends.map(\.key) == ["due-now"])
        #expect(at300.sends.first?.request.pushType == .background)
        #expect(at300.sends.first?.request.ttl == 0)
        let at360 = core.fireDue(now: t0.adding(seconds: 360))
        #expect(at360.sends.map(\.key) == ["due-later"], "each binding once; the expired one never")
    }

    @Test("at most once per registration; a new registration.updated resets; a tombstone removes")
    func oncePerVersion() throws {
        var core = RegistrationCore(partition: 0, options: Self.options(), now: t0)
        _ = core.handle(Self.registration("a", updatedAt: t0, expires: 120), now: t0)
        let first = try #require(core.fireDue(now: t0.adding(seconds: 60)).sends.first)
        let done = core.completed(first, outcome: SendOutcome(result: .sent, status: 200, provider: "fcm"), now: t0.adding(seconds: 60))
        #expect(done.outcomes.first?.pushType == .wakeup)
        #expect(done.outcomes.first?.registration == "a")
        let marker = try #require(done.states.first?.record)
        #expect(marker.key == "wakeup|0|a" && marker.pushType == .wakeup)
        #expect(core.fireDue(now: t0.adding(seconds: 120)).sends.isEmpty, "not twice for the same registration")
        // Re-registration: a new version is due again after its own threshold.
        _ = core.handle(Self.registration("a", updatedAt: t0.adding(seconds: 130), expires: 120), now: t0.adding(seconds: 130))
        #expect(core.fireDue(now: t0.adding(seconds: 180)).sends.isEmpty)
        #expect(core.fireDue(now: t0.adding(seconds: 240)).sends.map(\.key) == ["a"])
        // Removal.
        var other = RegistrationCore(partition: 0, options: Self.options(), now: t0)
        _ = other.handle(Self.registration("b", updatedAt: t0, expires: 120), now: t0)
        _ = other.handle(Self.tombstone("b"), now: t0)
        #expect(other.fireDue(now: t0.adding(seconds: 60)).isEmpty)
        #expect(other.pendingCount == 0)
    }

    @Test("a worker that takes the partition over does not send wake-ups already sent")
    func takeover() throws {
        var a = RegistrationCore(partition: 3, options: Self.options(), now: t0)
        let reg = Self.registration("x", updatedAt: t0, expires: 120)
        _ = a.handle(reg, now: t0)
        let order = try #require(a.fireDue(now: t0.adding(seconds: 60)).sends.first)
        let marker = try #require(a.completed(order, outcome: SendOutcome(result: .sent, provider: "fcm"), now: t0.adding(seconds: 60)).states.first?.record)
        // Worker B restores the table and the marker (as read back from Kafka), as PushWorker does.
        var b = RegistrationCore(partition: 3, options: Self.options(), now: t0.adding(seconds: 61))
        b.restore(reg, now: t0.adding(seconds: 61))
        b.restoreMarker(try RecordDecoder.decodeSchedule(RecordEncoder.encode(marker)))
        #expect(b.pendingCount == 1)
        #expect(b.fireDue(now: t0.adding(seconds: 121)).sends.isEmpty)
        // A binding restored without a marker is woken by B's first tick.
        var c = RegistrationCore(partition: 3, options: Self.options(), now: t0.adding(seconds: 30))
        c.restore(reg, now: t0.adding(seconds: 30))
        #expect(c.fireDue(now: t0.adding(seconds: 90)).sends.map(\.key) == ["x"], "due at t0+60, valid until t0+120")
    }

    @Test("iOS VoIP-only devices are skipped with an outcome; malformed records are dead-lettered")
    func skipsAndDeadLetters() throws {
        var core = RegistrationCore(partition: 0, options: Self.options(), now: t0)
        _ = core.handle(Self.registration("voip", contact: Contacts.iosVoip, updatedAt: t0, expires: 120), now: t0)
        let tick = core.fireDue(now: t0.adding(seconds: 60))
        #expect(tick.sends.isEmpty)
        #expect(tick.outcomes.first?.result == .skipped)
        #expect(tick.outcomes.first?.reason?.contains("only a VoIP token") == true)
        let bad = KafkaMessage(topic: "pushfleet.registrations", partition: 0, offset: 7, key: Array("k".utf8), value: Array("{".utf8))
        #expect(core.handle(bad, now: t0).deadLetters.count == 1)
        let wrongType = KafkaMessage(topic: "pushfleet.registrations", partition: 0, offset: 8, key: Array("k".utf8),
                                     value: RecordEncoder.encode(RouterEvent.callEnded(CallEnded(header: RecordHeader(id: "c", time: t0), callId: "c", reason: .cancelled))))
        #expect(core.handle(wrongType, now: t0).deadLetters.first?.error.contains("registrations topic") == true)
    }

    @Test("a tick's work is proportional to the bindings due, not to all bindings")
    func scale() throws {
        var core = RegistrationCore(partition: 0, options: Self.options(), now: t0)
        // 100,000 bindings: 100 due within the first minute, the rest far later.
        for i in 0..<100_000 {
            let expires = i < 100 ? 100 : 86_400
            _ = core.handle(Self.registration("b\(i)", updatedAt: t0, expires: expires), now: t0)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let tick = core.fireDue(now: t0.adding(seconds: 60))
        let elapsed = clock.now - start
        #expect(tick.sends.count == 100)
        print("register wake-up: tick over 100,000 bindings with 100 due took \(elapsed)")
    }
}
