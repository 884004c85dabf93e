/// One lexical unit of a filter expression, with the column it starts at.
struct FilterToken: Sendable, Hashable {
    enum Kind: Sendable, Hashable {
        case openParen, closeParen
        case and, or, not
        case equal, notEqual
        /// A run of `[A-Za-z0-9._-]`: a variable, a named operator or a keyword.
        case word(String)
        /// A single-quoted constant, quotes removed. There is no escape: the constant ends
        /// at the next `'`, as in Flexisip, so a constant can never contain a quote.
        case constant(String)
    }

    var kind: Kind
    /// 1-based, in Unicode scalars.
    var column: Int
}

/// Splits a filter into tokens; never fails on a character by trapping, only by throwing.
enum FilterTokenizer {
    static func tokenize(_ text: String) throws(FilterSyntaxError) -> [FilterToken] {
        let scalars = Array(text.unicodeScalars)
        var tokens: [FilterToken] = []
        var i = 0
        func next(_ offset: Int) -> Unicode.Scalar? {
            i + offset < scalars.count ? scalars[i + offset] : nil
        }
        while i < scalars.count {
            let c = scalars[i]
            let column = i + 1
            switch c {
            // Flexisip only skips ' '; tabs and line breaks are accepted here too because a
            // tab in a config line is invisible and rejecting it helps nobody.
            case " ", "\t", "\r", "\n":
                i += 1
            case "(":
                tokens.append(FilterToken(kind: .openParen, column: column)); i += 1
            case ")":
                tokens.append(FilterToken(kind: .closeParen, column: column)); i += 1
            case "&", "|", "=":
                guard next(1) == c else {
                    throw FilterSyntaxError(column: column, message: "'\(c)' must be doubled: '\(c)\(c)'")
                }
                let kind: FilterToken.Kind = c == "&" ? .and : c == "|" ? .or : .equal
                tokens.append(FilterToken(kind: kind, column: column)); i += 2
            case "!":
                if next(1) == "=" {
                    tokens.append(FilterToken(kind: .notEqual, column: column)); i += 2
                } else {
                    tokens.append(FilterToken(kind: .not, column: column)); i += 1
                }
            case "'":
                var end = i + 1
                while end < scalars.count, scalars[end] != "'" { end += 1 }
                guard end < scalars.count else {
                    throw FilterSyntaxError(column: column, message: "constant opened with ' is never closed")
                }
                var value = String.UnicodeScalarView()
                value.append(contentsOf: scalars[(i + 1)..<end])
                tokens.append(FilterToken(kind: .constant(String(value)), column: column))
                i = end + 1
            default:
                guard isWordScalar(c) else {
                    throw FilterSyntaxError(column: column, message: "unexpected character \(describe(c))")
                }
                var end = i + 1
                while end < scalars.count, isWordScalar(scalars[end]) { end += 1 }
                var word = String.UnicodeScalarView()
                word.append(contentsOf: scalars[i..<end])
                tokens.append(FilterToken(kind: .word(String(word)), column: column))
                i = end
            }
        }
        return tokens
    }

    /// Flexisip's word characters: ASCII letters and digits (C-locale `isalnum`), `-`, `_`, `.`.
    static func isWordScalar(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x5F, 0x2E: true
        default: false
        }
    }

    /// Printable form of a scalar for an error message: hostile bytes never reach a log raw.
    static func describe(_ c: Unicode.Scalar) -> String {
        if c.value >= 0x21 && c.value < 0x7F { return "'\(c)'" }
        return "U+" + String(c.value, radix: 16, uppercase: true).leftPadded(to: 4)
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
