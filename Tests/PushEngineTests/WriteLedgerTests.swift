import Testing
@testable import PushEngine

@Suite("Write ledger: which offset may be stored")
struct WriteLedgerTests {
    @Test("an offset is stored only when its writes and all earlier writes are acknowledged")
    func inOrder() {
        var ledger = WriteLedger()
        let a = ledger.begin(offset: 10, empty: false)
        let b = ledger.begin(offset: nil, empty: false)  // a timer's writes
        let c = ledger.begin(offset: 12, empty: false)
        #expect(a.store == nil && b.store == nil && c.store == nil)
        #expect(ledger.complete(c.sequence) == nil, "12's writes are done but 10's are not")
        #expect(ledger.complete(a.sequence) == 11, "10 is done; the timer's writes still hold 12")
        #expect(ledger.complete(b.sequence) == 13)
        #expect(ledger.isEmpty)
    }

    @Test("an empty step stores at once when nothing is outstanding, and waits otherwise")
    func emptySteps() {
        var ledger = WriteLedger()
        #expect(ledger.begin(offset: 5, empty: true).store == 6)
        let pending = ledger.begin(offset: 6, empty: false)
        #expect(ledger.begin(offset: 7, empty: true).store == nil)
        #expect(ledger.outstanding == 2)
        #expect(ledger.complete(pending.sequence) == 8)
    }

    @Test("steps without an input offset store nothing; repeated or unknown acknowledgements change nothing")
    func timersAndRepeats() {
        var ledger = WriteLedger()
        let t = ledger.begin(offset: nil, empty: false)
        #expect(ledger.complete(t.sequence) == nil)
        #expect(ledger.complete(t.sequence) == nil)
        #expect(ledger.complete(99) == nil)
        let i = ledger.begin(offset: 3, empty: false)
        #expect(ledger.complete(i.sequence) == 4)
        #expect(ledger.complete(i.sequence) == nil)
        #expect(ledger.lastInputOffset == 3)
    }
}
