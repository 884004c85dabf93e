import PushPolicy
import Testing

/// Flexisip groups `&&` and `||` to the right with no precedence between them.
@Suite("Filter grouping")
struct FilterGroupingTests {
    @Test(arguments: [
        // a && b || c = a && (b || c): false && (…) is false; C says (false && b) || true = true.
        FilterCase(filter: "false && false || true", expected: false),
        // a || b && c = a || (b && c): same as C here.
        FilterCase(filter: "true || false && false", expected: true),
        // a && b || c with a true: true && (false || true) = true.
        FilterCase(filter: "true && false || true", expected: true),
        // false || (true && false).
        FilterCase(filter: "false || true && false", expected: false),
        // a || b && c: (a || b) && c would be false; right-grouping gives true || (…).
        FilterCase(filter: "true || true && false", expected: true),
        // a && b || c && d = a && (b || (c && d)).
        FilterCase(filter: "false && true || true && true", expected: false),
        // Parentheses restore the C reading.
        FilterCase(filter: "(false && false) || true", expected: true),
        // ! applies to the next condition only: (!false) && false.
        FilterCase(filter: "!false && false", expected: false),
        FilterCase(filter: "!(false && false)", expected: true),
        // ! binds to a whole comparison, not to its left operand.
        FilterCase(filter: "!'a' == 'b' && true", expected: true),
    ])
    func rightGroupingWithoutPrecedence(_ c: FilterCase) throws {
        #expect(try eval(c.filter) == c.expected)
    }

    /// Every three-operand chain equals its explicitly right-parenthesized form.
    @Test func threeOperandChainsGroupRight() throws {
        let ops = ["&&", "||"]
        for a in [true, false] { for b in [true, false] { for c in [true, false] {
            for op1 in ops { for op2 in ops {
                let plain = "\(a) \(op1) \(b) \(op2) \(c)"
                let right = "\(a) \(op1) (\(b) \(op2) \(c))"
                #expect(try eval(plain) == eval(right), "\(plain)")
            } }
        } } }
        // And differs from left grouping where the two readings disagree.
        #expect(try eval("false && false || true") != eval("(false && false) || true"))
    }

    @Test func longChainsNeedNoRecursion() throws {
        let chain = Array(repeating: "true", count: 20_000).joined(separator: " && ") + " && false"
        #expect(try !eval(chain))
        let orChain = Array(repeating: "false", count: 20_000).joined(separator: " || ") + " || true"
        #expect(try eval(orChain))
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let depth = FilterExpression.maxDepth
        let nested = String(repeating: "(", count: depth) + "true" + String(repeating: ")", count: depth)
        #expect(try eval(nested))
        #expect(try eval(String(repeating: "!", count: depth) + "true"))  // 64 is even
    }
}
