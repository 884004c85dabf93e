/// Why a push was skipped or dropped: a stable `code` for what counts it (metrics, summaries)
/// and the `text` that `push.outcome` carries as its `reason`.
///
/// The text names the rule and quotes values ("filter is false: …", "queue full for …"): it is
/// for people and may be reworded. Classifying it back by prefix moved a Prometheus series
/// whenever a message changed, so the code is set where the decision is made and read as is.
public struct OutcomeReason: Sendable, Hashable, CustomStringConvertible {
    public var code: Code
    /// What the outcome record's `reason` says (unchanged on the wire).
    public var text: String
    /// Set when the text carries an event-time note (`appending`).
    public var timeReplaced: EventTimeNote.Direction?

    public init(_ code: Code, _ text: String) {
        self.code = code
        self.text = text
    }

    public var description: String { text }

    /// The text with `note` appended after "; ", if there is one (the code stays).
    public func appending(_ note: EventTimeNote?) -> OutcomeReason {
        guard let note else { return self }
        var r = OutcomeReason(code, "\(text); \(note.text)")
        r.timeReplaced = note.direction
        return r
    }

    /// A growable set of reason codes (as swift-kafka-client's `KafkaError.ErrorCode`): a struct of
    /// statics rather than an enum, so adding one breaks no `switch` outside this module.
    /// - Important: raw values are stable identifiers; never rename one (dashboards key on the
    ///   metric labels derived from them).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String

        private init(_ rawValue: String) { self.rawValue = rawValue }

        public var description: String { rawValue }

        // MARK: Skips

        /// The `filter` expression was false for the request.
        public static let filter = Code("filter")
        /// The request never gets a push (Flexisip's needsPush: in-dialog, non-urgent, method…).
        public static let needsPush = Code("needs_push")
        /// The push parameters are invalid, or give no destination for this kind of push.
        public static let pushParams = Code("push_params")
        /// The event was already processed, or the call and device already have a push context.
        public static let duplicate = Code("duplicate")
        /// No sender serves the provider (disabled by `apple`/`firebase`, or none at all).
        public static let disabled = Code("disabled")
        /// A response or call end found no push schedule to act on, or does not stop pushes.
        public static let noSchedule = Code("no_schedule")
        /// The event was read from a topic it does not belong on.
        public static let misrouted = Code("misrouted")

        // MARK: Drops

        /// The push's lifetime (TTL, fork timeout, send deadline) passed before it was sent.
        public static let expired = Code("expired")
        /// A delay longer than the push's lifetime: it was never scheduled.
        public static let notScheduled = Code("not_scheduled")
        /// The destination had no room for it (a register wake-up: best effort, not held).
        public static let queueFull = Code("queue_full")
    }
}

/// Why a push counts from when its `branch.unanswered` was read rather than from its `time`
/// (contract §2 `time`, 1.1): which way the router's time was off, and the note every outcome
/// of the push appends to its `reason`. The direction travels next to the text, so metrics
/// count it without reading the text back.
public struct EventTimeNote: Sendable, Hashable {
    public enum Direction: String, Sendable, Hashable, CaseIterable {
        case ahead, behind
    }

    public var direction: Direction
    public var text: String

    public init(_ direction: Direction, _ text: String) {
        self.direction = direction
        self.text = text
    }
}
