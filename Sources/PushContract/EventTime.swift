/// A point in time with millisecond precision, as carried by the contract's RFC 3339 timestamps.
///
/// Stored as milliseconds since the Unix epoch so that schedule deadlines compare and add
/// without calendar arithmetic.
public struct EventTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var millisecondsSince1970: Int64

    public init(millisecondsSince1970: Int64) {
        self.millisecondsSince1970 = millisecondsSince1970
    }

    public static func < (lhs: EventTime, rhs: EventTime) -> Bool {
        lhs.millisecondsSince1970 < rhs.millisecondsSince1970
    }

    /// This time plus a number of seconds (TTLs and delays are whole seconds in Flexisip's options).
    public func adding(seconds: Int) -> EventTime {
        EventTime(millisecondsSince1970: millisecondsSince1970 + Int64(seconds) * 1000)
    }

    public func adding(milliseconds: Int64) -> EventTime {
        EventTime(millisecondsSince1970: millisecondsSince1970 + milliseconds)
    }

    public var description: String { "\(millisecondsSince1970)ms" }
}
