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

/// Splits a filter into tokens on demand; fails by throwing, never by trapping.
///
/// Lazy so that a hostile 10,000-deep `((((…` is rejected at the 65th `(` without reading the
/// rest of the text.
struct FilterTokenizer {
    private let scalars: String.UnicodeScalarView
    private var position: String.UnicodeScalarView.Index
    /// 1-based column of `position`; once exhausted, one past the last scalar.
    private(set) var column = 1

    init(_ text: String) {
        scalars = text.unicodeScalars
        position = scalars.startIndex
    }

    private var current: Unicode.Scalar? { position < scalars.endIndex ? scalars[position] : nil }

    private mutating func advance() {
        position = scalars.index(after: position)
        column += 1
    }

    mutating func next() throws(FilterSyntaxError) -> FilterToken? {
        // Flexisip only skips ' '; tabs and line breaks are accepted here too because a
        // tab in a config line is invisible and rejecting it helps nobody.
        while let c = current, c == " " || c == "\t" || c == "\r" || c == "\n" { advance() }
        guard let c = current else { return nil }
        let start = column
        advance()
        switch c {
        case "(": return FilterToken(kind: .openParen, column: start)
        case ")": return FilterToken(kind: .closeParen, column: start)
        case "&", "|", "=":
            guard current == c else {
                throw FilterSyntaxError(column: start, message: "'\(c)' must be doubled: '\(c)\(c)'")
            }
            advance()
            return FilterToken(kind: c == "&" ? .and : c == "|" ? .or : .equal, column: start)
        case "!":
            guard current == "=" else { return FilterToken(kind: .not, column: start) }
            advance()
            return FilterToken(kind: .notEqual, column: start)
        case "'":
            var value = String.UnicodeScalarView()
            while let v = current, v != "'" {
                value.append(v)
                advance()
            }
            guard current != nil else {
                throw FilterSyntaxError(column: start, message: "constant opened with ' is never closed")
            }
            advance()
            return FilterToken(kind: .constant(String(value)), column: start)
        default:
            guard Self.isWordScalar(c) else {
                throw FilterSyntaxError(column: start, message: "unexpected character \(Self.describe(c))")
            }
            var word = String.UnicodeScalarView([c])
            while let w = current, Self.isWordScalar(w) {
                word.append(w)
                advance()
            }
            return FilterToken(kind: .word(String(word)), column: start)
        }
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
    /// Zero-padded on the left (hex code points, digests); shared by the filter and payloads.
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
