import PushContract
import PushSenders
import Testing
@testable import PushEngine

@Suite("Schedule table: compact slots, per-call lists and timers behave like plain dictionaries")
struct ScheduleTableTests {
    func record(_ key: String, call: String, nextAt: Int64?, phase: ScheduleRecord.Phase = .pending, attempt: Int = 0) -> ScheduleRecord {
        ScheduleRecord(
            header: RecordHeader(id: "e-\(key)", time: t0), key: key, callId: call, branch: "b-\(key)", eventTime: t0,
            requestIndex: 1, provider: "apns", pushType: .ringing, phase: phase, attempt: attempt,
            nextAt: nextAt.map { t0.adding(milliseconds: $0) }, retransmissionsLeft: 3,
            ringingUntil: t0.adding(seconds: 60), finalReason: .cancelled, event: Array(key.utf8))
    }

    @Test("a record comes back exactly as stored, optional times and enums included")
    func roundTrip() {
        var table = ScheduleTable()
        let full = record("c1:apns:param:prid", call: "c1", nextAt: 5, phase: .final, attempt: 7)
        var bare = record("k2", call: "c1", nextAt: nil, phase: .done)
        bare.ringingUntil = nil
        bare.finalReason = nil
        table.put(full)
        table.put(bare)
        #expect(table["c1:apns:param:prid"] == full)
        #expect(table["k2"] == bare)
        #expect(table["k3"] == nil)
        #expect(table.keys(ofCall: "c1") == ["c1:apns:param:prid", "k2"])
        #expect(table.keys(ofCall: "c").isEmpty, "a Call-ID that is only a prefix of another's is not that call")
        #expect(table.count(in: .final) == 1 && table.count(in: .done) == 1 && table.count(in: .pending) == 0)
    }

    @Test("timers: due entries pop in time order, a re-armed key fires only at its new instant, removed keys never fire")
    func timers() {
        var table = ScheduleTable()
        table.put(record("a", call: "c", nextAt: 30))
        table.put(record("b", call: "c", nextAt: 10))
        table.put(record("c", call: "d", nextAt: 20))
        table.put(record("b", call: "c", nextAt: 40))  // re-armed: its entry at 10 is stale
        table.remove("c")
        #expect(table.nextDeadline == t0.adding(milliseconds: 10), "stale entries may show as the next deadline; popping skips them")
        #expect(table.popDue(now: t0.adding(milliseconds: 25)) == nil)
        let first = table.popDue(now: t0.adding(milliseconds: 100))
        let second = table.popDue(now: t0.adding(milliseconds: 100))
        #expect(first?.key == "a" && first?.at == t0.adding(milliseconds: 30))
        #expect(second?.key == "b" && second?.at == t0.adding(milliseconds: 40))
        #expect(table.popDue(now: t0.adding(milliseconds: 100)) == nil, "popping disarms: nothing fires twice")
    }

    @Test("a freed slot reused by another key inherits neither its links nor its timer")
    func slotReuse() {
        var table = ScheduleTable()
        table.put(record("old", call: "c-old", nextAt: 50))
        table.put(record("other", call: "c-old", nextAt: nil))
        table.remove("old")
        table.put(record("new", call: "c-new", nextAt: 70))
        #expect(table.keys(ofCall: "c-old") == ["other"])
        #expect(table.keys(ofCall: "c-new") == ["new"])
        #expect(table.popDue(now: t0.adding(milliseconds: 60)) == nil, "the removed key's entry at 50 must not fire the new key")
        #expect(table.popDue(now: t0.adding(milliseconds: 70))?.key == "new")
    }

    /// Random operations against a reference built from plain dictionaries and sets, as the core
    /// kept its schedules before the table: every observable answer must be the same.
    @Test("10,000 random puts, removes and timer pops agree with a dictionary model")
    func modelCheck() {
        var generator = SplitMix64(0x5eed)
        var table = ScheduleTable()
        var records: [String: ScheduleRecord] = [:]
        var armed: [String: Int64] = [:]
        var now: Int64 = 0
        for step in 0..<10_000 {
            // Keys that start with their Call-ID, as the policy makes them (the slot keeps the
            // Call-ID as a length), and keys that do not (it keeps a string).
            let call = "c\(generator.next() % 40)"
            let key = generator.next() % 2 == 0 ? "k\(generator.next() % 300)" : "\(call):p\(generator.next() % 8)"
            switch generator.next() % 10 {
            case 0..<5:
                let nextAt: Int64? = generator.next() % 5 == 0 ? nil : now + Int64(generator.next() % 200)
                let r = record(key, call: call, nextAt: nextAt, attempt: step)
                table.put(r)
                records[key] = r
                armed[key] = nextAt
            case 5..<7:
                table.remove(key)
                records[key] = nil
                armed[key] = nil
            default:
                now += Int64(generator.next() % 50)
                var popped: [String] = []
                while let due = table.popDue(now: t0.adding(milliseconds: now)) {
                    #expect(armed[due.key] == due.at.millisecondsSince1970 - t0.millisecondsSince1970)
                    armed[due.key] = nil
                    popped.append(due.key)
                }
                #expect(armed.values.allSatisfy { $0 > now }, "every armed key due by now has popped (step \(step))")
                #expect(Set(popped).count == popped.count)
            }
            #expect(table.count == records.count)
        }
        for (key, r) in records { #expect(table[key] == r) }
        let byCall = Dictionary(grouping: records.values, by: \.callId)
        for (call, rs) in byCall { #expect(table.keys(ofCall: call) == rs.map(\.key).sorted()) }
        #expect(table.keys(ofCall: "c-none").isEmpty)
    }
}

