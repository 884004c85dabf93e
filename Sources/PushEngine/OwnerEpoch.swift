public import Kafka
public import PushContract

/// Fencing in the data of `pushfleet.state`: every state record (tombstones included) carries
/// the epoch of the lane that wrote it, in the Kafka header `pushfleet-owner`, and a restore
/// never lets a record of an earlier owner override a later owner's record of the same key.
///
/// Why: a worker that froze or was cut off from the broker may still hold state writes in its
/// producer, made while it owned the partition. They land when it reaches the broker again,
/// possibly after the new owner wrote the same key (a `done` after `call.ended`); the log's
/// latest value is then the old owner's `pending`, and the next restore rang the call again
/// until its fork timeout (chaos seed 2026). Offsets order writes, not owners; the epoch does.
///
/// The epoch is chosen when a lane is created, after its restore read the state partition:
/// the wall-clock time in milliseconds, or one more than the highest epoch the restore saw if
/// that is later (a clock behind another worker's still gives a higher epoch than every owner
/// whose records it read). A former owner's records it did not see are older still: they were
/// made before that owner lost the partition, which was before this lane's assignment, by at
/// least the session timeout, so clocks within that of each other keep the order.
public enum OwnerEpoch {
    /// The Kafka header naming the writer's epoch (decimal ASCII).
    public static let headerName = "pushfleet-owner"

    public static func header(_ epoch: Int64) -> KafkaHeader {
        KafkaHeader(name: headerName, value: Array(String(epoch).utf8))
    }

    /// The epoch a record was written under; nil for a record without one (written by a worker
    /// before 1.1's fencing, or by hand), which is then ordered by offset as before.
    public static func of(_ message: KafkaMessage) -> Int64? {
        guard let header = message.headers.last(where: { $0.name == headerName }), let value = header.value,
              !value.isEmpty, value.count <= 19, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return value.reduce(Int64(0)) { $0 * 10 + Int64($1 - 0x30) }
    }

    /// The epoch of a lane whose restore saw `highest` (0: none) at `now`.
    public static func next(after highest: Int64, now: EventTime) -> Int64 {
        max(now.millisecondsSince1970, highest + 1)
    }
}

/// The latest value per key of a compacted partition being read, tombstones deleting, and,
/// where records carry an owner epoch (`OwnerEpoch`), a record of a lower epoch than the key's
/// current one ignored. The one reader of compacted state: the worker's restores, `pushfleet
/// inspect` and the restore benchmark.
public final class LatestValues: @unchecked Sendable {
    // @unchecked: `apply` runs on the partition reader's single thread; the results are read
    // after the read has returned.
    private var entries: [String: (epoch: Int64?, value: [UInt8]?)] = [:]
    /// The highest owner epoch of any record read (0: none).
    public private(set) var highestEpoch: Int64 = 0
    /// Records ignored because a later owner had already written their key.
    public private(set) var staleIgnored = 0

    public init() {}

    public func apply(_ batch: [KafkaMessage]) {
        for message in batch {
            let key = String(decoding: message.key ?? [], as: UTF8.self)
            let epoch = OwnerEpoch.of(message)
            if let epoch { highestEpoch = max(highestEpoch, epoch) }
            if let epoch, let current = entries[key]?.epoch, epoch < current {
                staleIgnored += 1
                continue
            }
            entries[key] = (epoch, message.value)
        }
    }

    /// The live keys' values (tombstoned keys left out).
    public var values: [String: [UInt8]] {
        entries.compactMapValues(\.value)
    }
}
