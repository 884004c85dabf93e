/// A variable of Flexisip's filter language, resolved when the expression is parsed.
///
/// Resolving names at parse time makes a misspelt variable a startup error (as in Flexisip,
/// which throws "is not a variable nor operator name") instead of a filter that never matches.
public enum FilterVariable: String, Sendable, Hashable, CaseIterable {
    case direction
    case requestMethod = "request.method"
    case requestMethodName = "request.method-name"
    case requestURIDomain = "request.uri.domain"
    case requestURIUser = "request.uri.user"
    case requestURIParams = "request.uri.params"
    case fromURIDomain = "from.uri.domain"
    case fromURIUser = "from.uri.user"
    case fromURIParams = "from.uri.params"
    case toURIDomain = "to.uri.domain"
    case toURIUser = "to.uri.user"
    case toURIParams = "to.uri.params"
    case contactURIDomain = "contact.uri.domain"
    case contactURIUser = "contact.uri.user"
    case contactURIParams = "contact.uri.params"
    case userAgent = "user-agent"
    case callID = "call-id"
    case callIDHash = "call-id.hash"
    case statusCode = "status.code"
    case statusPhrase = "status.phrase"
    case contentType = "content-type"

    /// The name as written in a filter.
    public var name: String { rawValue }
}

/// A boolean fact about the message, usable alone as an expression (`is_request`).
public enum FilterPredicate: String, Sendable, Hashable, CaseIterable {
    case isRequest = "is_request"
    case isResponse = "is_response"
}

/// What a filter is evaluated on: one SIP message, or a contract event standing for one.
public protocol FilterSubject {
    /// The variable's text, or nil when the message has no such field.
    ///
    /// Flexisip turns a missing field into the empty string, so nil and "" behave the same
    /// in every operator; nil exists so a subject can say "absent" without inventing text.
    func filterValue(_ variable: FilterVariable) -> String?
}

extension FilterSubject {
    /// Flexisip derives both predicates from the same fact as `direction` (whether the
    /// message has a request line), so they cannot disagree with it.
    func holds(_ predicate: FilterPredicate) -> Bool {
        let isRequest = filterValue(.direction) == "request"
        switch predicate {
        case .isRequest: return isRequest
        case .isResponse: return !isRequest
        }
    }
}
