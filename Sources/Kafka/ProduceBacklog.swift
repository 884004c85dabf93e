import CRdKafka
import Foundation
import Synchronization

/// Records that met librdkafka's full local queue, produced in order from a thread of their own.
///
/// A full queue drains as delivery reports arrive, which takes milliseconds to seconds (a slow
/// or unreachable broker). Waiting for room where the record was enqueued blocked the caller,
/// a partition lane on Swift's cooperative pool, with `usleep`; now the caller goes on and the
/// record waits here. While anything waits, later records join the line behind it, so a newer
/// state value never overtakes an older one of the same key.
final class ProduceBacklog: Sendable {
    struct Item {
        var record: KafkaProducerRecord
        var batch: DeliveryBatch
        var index: Int
        var since: DispatchTime
    }

    private struct State {
        var items: [Item] = []
        var head = 0
        var draining = false
    }

    private let state = Mutex(State())
    /// Set while items wait: the enqueue fast path reads it without the lock.
    private let active = Atomic<Bool>(false)
    /// How long a record may wait for room before it fails with `_QUEUE_FULL` (retriable: its
    /// owner backs off and sends it again), as `message.timeout.ms` bounds a queued one.
    let maxWait: Duration

    init(maxWait: Duration) {
        self.maxWait = maxWait
    }

    var isActive: Bool { active.load(ordering: .acquiring) }

    /// Adds a record behind those waiting and starts the draining thread if none runs.
    /// `produce` returns nil when librdkafka took the record, else its error.
    func append(_ item: Item, produce: @escaping @Sendable (Item) -> OpaquePointer?) {
        let start: Bool = state.withLock { s in
            s.items.append(item)
            active.store(true, ordering: .releasing)
            guard !s.draining else { return false }
            s.draining = true
            return true
        }
        guard start else { return }
        let thread = Thread { [self] in drain(produce) }
        thread.name = "kafka-produce-backlog"
        thread.start()
    }

    /// Produces the waiting records in order, sleeping (on this thread only) while the queue is full.
    private func drain(_ produce: @Sendable (Item) -> OpaquePointer?) {
        while true {
            let next: Item? = state.withLock { s in
                guard s.head < s.items.count else {
                    s.items.removeAll()
                    s.head = 0
                    s.draining = false
                    active.store(false, ordering: .releasing)
                    return nil
                }
                return s.items[s.head]
            }
            guard let item = next else { return }
            if let err = produce(item) {
                let error = KafkaError(consuming: err, context: "produce to \(item.record.topic)")
                let waited = DispatchTime.now().uptimeNanoseconds - item.since.uptimeNanoseconds
                if error.code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue, Int64(waited) < maxWait.nanosecondsValue {
                    usleep(1000)
                    continue
                }
                item.batch.complete(index: item.index, result: .failure(error))
            }
            state.withLock { $0.head += 1 }
        }
    }
}

extension Duration {
    var nanosecondsValue: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
