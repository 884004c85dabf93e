/// A parsed Flexisip `filter`: parsed once at startup, then evaluated on every event.
///
/// Binary operators group to the right without precedence, as in Flexisip:
/// `a || b && c` is `a || (b && c)` and `a && b || c` is `a && (b || c)`. `!` applies to the
/// next single condition. See docs/filter.md.
public struct FilterExpression: Sendable, Hashable {
    /// The text it was parsed from, for logs.
    public let source: String
    let root: FilterNode?

    /// Nesting of `(` and `!` allowed before the parser gives up; keeps evaluation recursion
    /// shallow whatever the configuration says.
    public static let maxDepth = 64

    /// An empty (or blank) filter accepts everything, as in Flexisip.
    public init(parsing text: String) throws(FilterSyntaxError) {
        source = text
        root = try FilterParser.parse(text)
    }

    public func evaluate(_ subject: some FilterSubject) -> Bool {
        guard let root else { return true }
        return root.evaluate(subject)
    }
}

/// Left operand or right operand of a comparison.
enum FilterOperand: Sendable, Hashable {
    case variable(FilterVariable)
    case constant(String)

    /// Flexisip reads a missing field as the empty string.
    func value(_ subject: some FilterSubject) -> String {
        switch self {
        case .variable(let v): subject.filterValue(v) ?? ""
        case .constant(let c): c
        }
    }
}

enum FilterComparison: Sendable, Hashable {
    case equal, notEqual, contains, isIn, notIn
}

enum FilterConnective: Sendable, Hashable {
    case and, or
}

indirect enum FilterNode: Sendable, Hashable {
    case constant(Bool)
    case predicate(FilterPredicate)
    case not(FilterNode)
    /// `first op₁ rest₁ op₂ rest₂ …` grouped to the right: `first op₁ (rest₁ op₂ (…))`.
    /// Kept flat so that a long chain costs no recursion to parse or evaluate.
    case chain(FilterNode, [Link])
    case compare(FilterOperand, FilterComparison, FilterOperand)
    case regex(FilterOperand, FilterRegex)
    case defined(FilterOperand)
    case numeric(FilterOperand)

    struct Link: Sendable, Hashable {
        var connective: FilterConnective
        var node: FilterNode
    }

    func evaluate(_ subject: some FilterSubject) -> Bool {
        switch self {
        case .constant(let b):
            return b
        case .predicate(let p):
            return subject.holds(p)
        case .not(let inner):
            return !inner.evaluate(subject)
        case .chain(let first, let links):
            // Right grouping evaluated left to right: `x && R` is false as soon as x is,
            // `x || R` true as soon as x is; otherwise its value is R's.
            var value = first.evaluate(subject)
            for link in links {
                switch link.connective {
                case .and where !value: return false
                case .or where value: return true
                default: value = link.node.evaluate(subject)
                }
            }
            return value
        case .compare(let lhs, let op, let rhs):
            let left = lhs.value(subject), right = rhs.value(subject)
            switch op {
            case .equal: return left.utf8.elementsEqual(right.utf8)
            case .notEqual: return !left.utf8.elementsEqual(right.utf8)
            case .contains: return FilterNode.bytes(of: left, contain: right)
            case .isIn: return FilterNode.list(right, contains: left)
            case .notIn: return !FilterNode.list(right, contains: left)
            }
        case .regex(let operand, let regex):
            return regex.wholeMatch(operand.value(subject))
        case .defined(let operand):
            return !operand.value(subject).isEmpty
        case .numeric(let operand):
            // Flexisip's loop over isdigit: the empty string counts as numeric.
            return operand.value(subject).utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }
    }

    /// Byte comparison, as `std::string`: Swift's `==` would equate canonically equivalent
    /// Unicode spellings that Flexisip considers different.
    static func bytes(of haystack: String, contain needle: String) -> Bool {
        let h = Array(haystack.utf8), n = Array(needle.utf8)
        guard !n.isEmpty else { return true }
        guard n.count <= h.count else { return false }
        for start in 0...(h.count - n.count) where h[start] == n[0] {
            var k = 1
            while k < n.count && h[start + k] == n[k] { k += 1 }
            if k == n.count { return true }
        }
        return false
    }

    /// `in`: the right side is a list separated by spaces (only ' ', as Flexisip).
    static func list(_ list: String, contains value: String) -> Bool {
        list.utf8.split(separator: 0x20).contains { $0.elementsEqual(value.utf8) }
    }
}
