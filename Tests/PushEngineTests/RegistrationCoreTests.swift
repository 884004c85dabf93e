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
        #expect(at360.sends.map(\.key) == ["due-later"], "due-now's push is still in flight; the expired one never")
    }

    @Test("a binding past its threshold is woken at every tick until it is refreshed, removed or expired (contract 1.1 §2.4)")
    func everyTick() throws {
        var core = RegistrationCore(partition: 0, options: Self.options(), now: t0)
        // Due at t0+60 (50 % of 120 s), expires at t0+120.
        _ = core.handle(Self.registration("a", updatedAt: t0, expires: 120), now: t0)
        let first = try #require(core.fireDue(now: t0.adding(seconds: 60)).sends.first)
        let done = core.completed(first, outcome: SendOutcome(result: .sent, status: 200, provider: "fcm"), now: t0.adding(seconds: 60))
        #expect(done.outcomes.first?.pushType == .wakeup)
        #expect(done.outcomes.first?.registration == "a")
        #expect(done.outcomes.first?.attempt == 1)
        let marker = try #require(done.states.first?.record)
        #expect(marker.key == "wakeup|0|a" && marker.pushType == .wakeup)
        #expect(marker.nextAt == first.dueAt.adding(seconds: 60), "the marker says when the binding is due again: the next tick")
        #expect(core.fireDue(now: t0.adding(seconds: 61)).sends.isEmpty, "not twice in one tick")
        // Next tick: again, a second wake-up with its own outcome id.
        let second = try #require(core.fireDue(now: t0.adding(seconds: 100)).sends.first, "woken again at the next tick")
        #expect(second.key == "a" && second.attempt == 2)
        let again = core.completed(second, outcome: SendOutcome(result: .sent, status: 200, provider: "fcm"), now: t0.adding(seconds: 100))
        #expect(again.outcomes.first?.attempt == 2)
        #expect(again.outcomes.first?.header.id != done.outcomes.first?.header.id, "one outcome id per wake-up")
        // Expired at t0+120: no more.
        #expect(core.fireDue(now: t0.adding(seconds: 160)).sends.isEmpty)
        // Refreshed: the new version is due after its own threshold, then at every tick.
        _ = core.handle(Self.registration("a", updatedAt: t0.adding(seconds: 130), expires: 120), now: t0.adding(seconds: 130))
        #expect(core.fireDue(now: t0.adding(seconds: 180)).sends.isEmpty)
        let refreshed = try #require(core.fireDue(now: t0.adding(seconds: 240)).sends.first)
        #expect(refreshed.key == "a" && refreshed.attempt == 1)
        _ = core.completed(refreshed, outcome: SendOutcome(result: .sent, status: 200, provider: "fcm"), now: t0.adding(seconds: 240))
        // Removed: no more.
        _ = core.handle(Self.tombstone("a"), now: t0.adding(seconds: 241))
        #expect(core.fireDue(now: t0.adding(seconds: 245)).sends.isEmpty)
        #expect(core.pendingCount == 0)
    }

    @Test("a send still in flight at the next tick is not doubled; a skip is said once per registration, not every tick")
    func inFlightAndSkips() throws {
        var core = RegistrationCore(partition: 0, options: Self.options(), now: t0)
        _ = core.handle(Self.registration("a", updatedAt: t0, expires: 600), now: t0)
        _ = core.handle(Self.registration("voip", contact: Contacts.iosVoip, updatedAt: t0, expires: 600), now: t0)
        let tick1 = core.fireDue(now: t0.adding(seconds: 300))
        #expect(tick1.sends.map(\.key) == ["a"] && tick1.outcomes.count == 1)
        #expect(tick1.outcomes.first?.reasonCode == .pushParams, "a VoIP-only device counts as push_params, as on the call path")
        let tick2 = core.fireDue(now: t0.adding(seconds: 360))
        #expect(tick2.sends.isEmpty && tick2.outcomes.isEmpty)
    }

    @Test("after a takeover: not twice at the tick the previous owner already woke, again at the next one")
    func takeover() throws {
        let minute: Int64 = 60_000
        let tick = EventTime(millisecondsSince1970: (t0.millisecondsSince1970 / minute + 2) * minute)
        var a = RegistrationCore(partition: 3, options: Self.options(threshold: 5), now: tick.adding(seconds: -1))
        // Due since 24 s before the tick (5 % of 720 s), expires 11 minutes after it.
        let reg = Self.registration("x", updatedAt: tick.adding(seconds: -60), expires: 720)
        _ = a.handle(reg, now: tick.adding(seconds: -1))
        let order = try #require(a.fireDue(now: tick).sends.first)
        #expect(order.dueAt == tick)
        let marker = try #require(a.completed(order, outcome: SendOutcome(result: .sent, provider: "fcm"), now: tick.adding(milliseconds: 50)).states.first?.record)
        // Worker B started restoring before the tick (so its first tick is this one) and read the
        // table and A's marker back from Kafka, as PushWorker does.
        var b = RegistrationCore(partition: 3, options: Self.options(threshold: 5), now: tick.adding(seconds: -2))
        b.restore(reg, now: tick.adding(seconds: 1))
        b.restoreMarker(try RecordDecoder.decodeSchedule(RecordEncoder.encode(marker)))
        #expect(b.pendingCount == 1)
        #expect(b.fireDue(now: tick.adding(seconds: 1)).sends.isEmpty, "A already woke x at this tick")
        let next = try #require(b.fireDue(now: tick.adding(seconds: 60)).sends.first, "B wakes x at the next tick")
        #expect(next.key == "x" && next.attempt == 2 && next.dueAt == tick.adding(seconds: 60))
        // A binding restored without a marker is woken by the new owner's first tick.
        var c = RegistrationCore(partition: 3, options: Self.options(threshold: 5), now: tick.adding(seconds: -2))
        c.restore(reg, now: tick.adding(seconds: -2))
        #expect(c.fireDue(now: tick).sends.map(\.key) == ["x"])
    }

    @Test("wake-up outcomes name the device: pn triple, the registration's AOR, its instance (contract 1.1 §2.5)")
    func outcomesNameTheDevice() throws {
        var core = RegistrationCore(partition: 0, options: Self.options(), now: t0)
        _ = core.handle(Self.registration("a", updatedAt: t0, expires: 120), now: t0)
        _ = core.handle(Self.registration("voip", contact: Contacts.iosVoip, updatedAt: t0, expires: 120), now: t0)
        let tick = core.fireDue(now: t0.adding(seconds: 60))
        let skipped = try #require(tick.outcomes.first)
        #expect(skipped.device == PushDevice(provider: "apns", param: "ABCD1234.org.linphone.phone.voip", prid: Contacts.voipToken + ":voip",
                                             aor: "sip:alice@example.org", instanceId: "<urn:uuid:voip>"))
        let send = try #require(tick.sends.first)
        let sent = core.completed(send, outcome: SendOutcome(result: .invalidToken, status: 404, provider: "fcm"), now: t0.adding(seconds: 60))
        #expect(sent.outcomes.first?.device == PushDevice(provider: "fcm", param: "123456789", prid: "fcm-token-1",
                                                          aor: "sip:alice@example.org", instanceId: "<urn:uuid:a>"))
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
