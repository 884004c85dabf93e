/// Recursive-descent parser for Flexisip's filter grammar:
///
///     chain     := unary (('&&' | '||') unary)*      -- grouped to the right, no precedence
///     unary     := '!' unary | primary
///     primary   := '(' chain ')' | 'true' | 'false' | 'is_request' | 'is_response'
///                | ('defined' | 'numeric') operand
///                | operand ('==' | '!=' | 'contains' | 'in' | 'notin' | 'nin') operand
///                | operand ('regex' | 'regexp') constant
///     operand   := variable | 'constant'
///
/// Flexisip's hand-written scanner accepts some meaningless inputs (`a b`, `()`, `x in`
/// without a left side) and then dereferences a null expression; here each is a syntax error.
enum FilterParser {
    static func parse(_ text: String) throws(FilterSyntaxError) -> FilterNode? {
        var state = State(tokenizer: FilterTokenizer(text))
        guard try state.peek() != nil else { return nil }
        let node = try state.parseChain()
        if let extra = try state.peek() {
            if extra.kind == .closeParen {
                throw FilterSyntaxError(column: extra.column, message: "')' has no matching '('")
            }
            throw FilterSyntaxError(
                column: extra.column, message: "expected '&&' or '||' before \(State.describe(extra))")
        }
        return node
    }

    private enum Keyword: String {
        case `true`, `false`, defined, numeric, contains, `in`, notin, nin, regex, regexp
    }

    private struct State {
        var tokenizer: FilterTokenizer
        /// One token of lookahead; `.some(nil)` once the text is exhausted.
        var lookahead: FilterToken??
        var depth = 0

        init(tokenizer: FilterTokenizer) { self.tokenizer = tokenizer }

        mutating func peek() throws(FilterSyntaxError) -> FilterToken? {
            if let lookahead { return lookahead }
            let token = try tokenizer.next()
            lookahead = .some(token)
            return token
        }

        mutating func consume() { lookahead = nil }

        /// Column just past the text, for "expected … at the end" (valid once peek() is nil).
        var endColumn: Int { tokenizer.column }

        mutating func enter(at column: Int) throws(FilterSyntaxError) {
            depth += 1
            guard depth <= FilterExpression.maxDepth else {
                throw FilterSyntaxError(
                    column: column, message: "'(' and '!' nested deeper than \(FilterExpression.maxDepth)")
            }
        }

        mutating func parseChain() throws(FilterSyntaxError) -> FilterNode {
            let first = try parseUnary()
            var links: [FilterNode.Link] = []
            while let token = try peek() {
                let connective: FilterConnective
                switch token.kind {
                case .and: connective = .and
                case .or: connective = .or
                default: return links.isEmpty ? first : .chain(first, links)
                }
                consume()
                links.append(FilterNode.Link(connective: connective, node: try parseUnary()))
            }
            return links.isEmpty ? first : .chain(first, links)
        }

        mutating func parseUnary() throws(FilterSyntaxError) -> FilterNode {
            guard let token = try peek(), token.kind == .not else { return try parsePrimary() }
            try enter(at: token.column)
            consume()
            let inner = try parseUnary()
            depth -= 1
            return .not(inner)
        }

        mutating func parsePrimary() throws(FilterSyntaxError) -> FilterNode {
            guard let token = try peek() else {
                throw FilterSyntaxError(column: endColumn, message: "expected a condition at the end")
            }
            consume()
            switch token.kind {
            case .openParen:
                try enter(at: token.column)
                if try peek()?.kind == .closeParen {
                    throw FilterSyntaxError(column: token.column, message: "empty parentheses")
                }
                let inner = try parseChain()
                guard let close = try peek() else {
                    throw FilterSyntaxError(column: token.column, message: "'(' is never closed")
                }
                guard close.kind == .closeParen else {
                    throw FilterSyntaxError(
                        column: close.column, message: "expected '&&', '||' or ')' before \(Self.describe(close))")
                }
                consume()
                depth -= 1
                return inner
            case .constant(let value):
                return try parseComparison(.constant(value), at: token)
            case .word(let word):
                if let predicate = FilterPredicate(rawValue: word) { return .predicate(predicate) }
                if let variable = FilterVariable(rawValue: word) {
                    return try parseComparison(.variable(variable), at: token)
                }
                switch Keyword(rawValue: word) {
                case .true: return .constant(true)
                case .false: return .constant(false)
                case .defined: return .defined(try parseOperand(after: token))
                case .numeric: return .numeric(try parseOperand(after: token))
                case .some:
                    throw FilterSyntaxError(column: token.column, message: "'\(word)' needs a value on its left")
                case nil:
                    throw FilterSyntaxError(
                        column: token.column, message: "unknown variable \(Self.describe(token))")
                }
            case .closeParen:
                throw FilterSyntaxError(column: token.column, message: "expected a condition before ')'")
            case .and, .or, .equal, .notEqual:
                throw FilterSyntaxError(
                    column: token.column, message: "\(Self.describe(token)) needs a condition or value on its left")
            case .not:
                // parseUnary consumes every '!'; kept for exhaustiveness.
                throw FilterSyntaxError(column: token.column, message: "unexpected '!'")
            }
        }

        mutating func parseComparison(_ lhs: FilterOperand, at lhsToken: FilterToken) throws(FilterSyntaxError) -> FilterNode {
            guard let op = try peek() else {
                throw FilterSyntaxError(
                    column: lhsToken.column,
                    message: "\(Self.describe(lhsToken)) is a value, not a condition: compare it with ==, !=, contains, in, notin or regex")
            }
            let comparison: FilterComparison
            switch op.kind {
            case .equal: comparison = .equal
            case .notEqual: comparison = .notEqual
            case .word(let word):
                switch Keyword(rawValue: word) {
                case .contains: comparison = .contains
                case .in: comparison = .isIn
                case .notin, .nin: comparison = .notIn
                case .regex, .regexp:
                    consume()
                    return .regex(lhs, try parseRegex(after: op))
                default:
                    throw FilterSyntaxError(
                        column: op.column,
                        message: "expected ==, !=, contains, in, notin or regex before \(Self.describe(op))")
                }
            default:
                throw FilterSyntaxError(
                    column: op.column, message: "expected ==, !=, contains, in, notin or regex before \(Self.describe(op))")
            }
            consume()
            return .compare(lhs, comparison, try parseOperand(after: op))
        }

        mutating func parseOperand(after op: FilterToken) throws(FilterSyntaxError) -> FilterOperand {
            guard let token = try peek() else {
                throw FilterSyntaxError(
                    column: endColumn, message: "expected a variable or a 'constant' after \(Self.describe(op))")
            }
            switch token.kind {
            case .constant(let value):
                consume()
                return .constant(value)
            case .word(let word):
                if let variable = FilterVariable(rawValue: word) {
                    consume()
                    return .variable(variable)
                }
                if FilterPredicate(rawValue: word) != nil || Keyword(rawValue: word) != nil {
                    throw FilterSyntaxError(
                        column: token.column, message: "expected a variable or a 'constant', found \(Self.describe(token))")
                }
                throw FilterSyntaxError(column: token.column, message: "unknown variable \(Self.describe(token))")
            default:
                throw FilterSyntaxError(
                    column: token.column, message: "expected a variable or a 'constant' after \(Self.describe(op))")
            }
        }

        /// The pattern must be a constant (Flexisip compiles it at startup).
        mutating func parseRegex(after op: FilterToken) throws(FilterSyntaxError) -> FilterRegex {
            guard let token = try peek(), case .constant(let pattern) = token.kind else {
                throw FilterSyntaxError(
                    column: (try peek())?.column ?? endColumn, message: "expected a 'constant' pattern after \(Self.describe(op))")
            }
            consume()
            do {
                return try FilterRegex(pattern)
            } catch {
                // +1 skips the opening quote.
                throw FilterSyntaxError(column: token.column + 1 + error.offset, message: "regex: \(error.message)")
            }
        }

        /// Token text for messages; words are `[A-Za-z0-9._-]` so safe to quote, but may be long.
        static func describe(_ token: FilterToken) -> String {
            switch token.kind {
            case .openParen: return "'('"
            case .closeParen: return "')'"
            case .and: return "'&&'"
            case .or: return "'||'"
            case .not: return "'!'"
            case .equal: return "'=='"
            case .notEqual: return "'!='"
            case .word(let word): return "'" + (word.count > 40 ? word.prefix(40) + "…" : word) + "'"
            case .constant: return "a 'constant'"
            }
        }
    }
}
