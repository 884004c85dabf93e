public import PushContract

/// What a request that gets a push is, for the strategy: it picks push types and TTLs from it.
public enum PushKind: String, Sendable, Hashable, CaseIterable {
    /// An INVITE that is not a group-chat INVITE.
    case call
    /// A MESSAGE, or a group-chat INVITE (handled like a message, as Flexisip).
    case message
    /// A REFER: IM TTL, loc-key `IC_SIL`.
    case refer

    /// Calls use the call TTL and the call push strategy; everything else is IM.
    public var isCall: Bool { self == .call }
}

/// The outcome of Flexisip's `needsPush` for one branch.
public enum NeedsPushDecision: Sendable, Hashable {
    case push(kind: PushKind)
    /// No push; the reason names the rule, and becomes the `skipped` outcome's reason.
    case skip(reason: OutcomeReason)
}

/// Which requests get a push at all (docs/contract.md §2.1, as Flexisip's `needsPush`).
public enum NeedsPush {
    /// Content types of MESSAGEs that never wake a device (typing notices, delivery reports).
    static let silentMessageTypes = ["application/im-iscomposing+xml", "message/imdn+xml"]

    /// Applies the rules in Flexisip's order; the first rule that refuses gives the reason.
    public static func evaluate(_ e: BranchUnanswered) -> NeedsPushDecision {
        if let tag = e.to.tag, !tag.isEmpty {
            return .skip(reason: OutcomeReason(.needsPush, "To has a tag (in-dialog request)"))
        }
        if let priority = e.headers["Priority"], trimmed(priority).caseInsensitiveEquals("non-urgent") {
            return .skip(reason: OutcomeReason(.needsPush, "Priority: non-urgent"))
        }
        if let type = e.headers["X-fs-message-type"], trimmed(type).caseInsensitiveEquals("chat-service") {
            return .skip(reason: OutcomeReason(.needsPush, "X-fs-message-type: chat-service"))
        }
        // SIP methods are case-sensitive tokens (RFC 3261 §7.1).
        switch e.method {
        case "REFER":
            return .push(kind: .refer)
        case "INVITE":
            if e.headers["Replaces"] != nil {
                return .skip(reason: OutcomeReason(.needsPush, "INVITE with Replaces"))
            }
            return .push(kind: e.isGroupChatInvite ? .message : .call)
        case "MESSAGE":
            if let contentType = e.headers["Content-Type"] {
                let mediaType = mediaType(of: contentType)
                for silent in silentMessageTypes where mediaType.caseInsensitiveEquals(silent) {
                    return .skip(reason: OutcomeReason(.needsPush, "MESSAGE of type \(silent)"))
                }
            }
            return .push(kind: .message)
        default:
            return .skip(reason: OutcomeReason(.needsPush, "method \(e.method) never gets a push"))
        }
    }

    /// `type/subtype` without parameters or surrounding blanks.
    static func mediaType(of contentType: String) -> String {
        let beforeParameters = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(beforeParameters.trimmingASCIIWhitespace())
    }

    static func trimmed(_ s: String) -> String {
        String(Substring(s).trimmingASCIIWhitespace())
    }
}
