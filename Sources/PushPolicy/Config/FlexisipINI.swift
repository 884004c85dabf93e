/// The syntax of a Flexisip configuration file, as Flexisip 2.3's reader (`lpconfig`) accepts it.
///
/// - A line whose first non-blank character is `#` is a comment. There are no trailing
///   comments: in `timeout=5 # s` the value is `5 # s` (typed options then reject it).
/// - `[name]` opens a section; text after `]` may only be blank or a `#` comment.
/// - `key=value` splits at the first `=`; key and value are trimmed of blanks.
///   There are no continuation lines: every entry is one line.
/// - Section and key names match case-insensitively; a section opened twice is merged and a key
///   given twice keeps the last value (both as Flexisip).
/// - Unlike Flexisip, which silently skips them, a non-blank line that is none of the above is
///   reported (`malformedLines`) so the loader can reject it where it matters; unclosed `[`,
///   NUL and other control characters, and lines over `maxLineLength` bytes are errors.
package struct FlexisipINI: Sendable, Hashable {
    package struct Entry: Sendable, Hashable {
        package var key: String
        package var value: String
        package var line: Int
    }

    package struct Section: Sendable, Hashable {
        /// As first written; empty for lines before any section header.
        package var name: String
        package var line: Int
        package var entries: [Entry] = []
        /// Lines that are neither entries, comments nor blank.
        package var malformedLines: [Int] = []

        package func entry(_ key: String) -> Entry? {
            entries.first { ConfigText.sameName($0.key, key) }
        }
    }

    package var sections: [Section] = []

    /// Flexisip reads lines through a 2 KiB buffer; we accept much longer ones but not unbounded.
    package static let maxLineLength = 65_536

    package func section(_ name: String) -> Section? {
        sections.first { ConfigText.sameName($0.name, name) }
    }

    package static func parse(_ text: String) throws(ConfigError) -> FlexisipINI {
        var ini = FlexisipINI()
        var current: Int?  // index in ini.sections
        // Lower-cased names → indexes, so repeated names cost O(1), not a scan per line.
        var sectionIndex: [String: Int] = [:]
        var entryIndex: [[String: Int]] = []
        var lineNumber = 0
        var body = Substring(text)
        if body.unicodeScalars.first == "\u{FEFF}" { body = Substring(body.unicodeScalars.dropFirst()) }

        // Split on scalars, not Characters: "\r\n" is a single Character.
        for scalars in body.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Substring(scalars)
            guard line.utf8.count <= maxLineLength else {
                throw ConfigError(
                    location: .line(lineNumber), problem: "line is longer than \(maxLineLength) bytes")
            }
            if line.unicodeScalars.last == "\r" { line = Substring(line.unicodeScalars.dropLast()) }
            if let bad = line.unicodeScalars.first(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
                let name = bad.value == 0 ? "a NUL byte" : "control character \(ConfigText.display(String(bad)))"
                throw ConfigError(location: .line(lineNumber), problem: "line contains \(name)")
            }
            let content = line.trimmingASCIIWhitespace()
            if content.isEmpty || content.first == "#" { continue }

            if content.first == "[" {
                guard let close = content.firstIndex(of: "]") else {
                    throw ConfigError(
                        location: .line(lineNumber),
                        problem: "section header \(ConfigText.display(content)) has no closing ]")
                }
                let after = content[content.index(after: close)...].trimmingASCIIWhitespace()
                guard after.isEmpty || after.first == "#" else {
                    throw ConfigError(
                        location: .line(lineNumber),
                        problem: "unexpected text \(ConfigText.display(after)) after section header")
                }
                let name = content[content.index(after: content.startIndex)..<close].trimmingASCIIWhitespace()
                guard !name.isEmpty else {
                    throw ConfigError(location: .line(lineNumber), problem: "empty section name []")
                }
                if let existing = sectionIndex[ConfigText.asciiLowercased(name)] {
                    current = existing
                } else {
                    ini.sections.append(Section(name: String(name), line: lineNumber))
                    entryIndex.append([:])
                    current = ini.sections.count - 1
                    sectionIndex[ConfigText.asciiLowercased(name)] = current
                }
                continue
            }

            let index: Int
            if let current {
                index = current
            } else {
                // Lines before any header go to a nameless section; nothing else exists yet.
                ini.sections.append(Section(name: "", line: 1))
                entryIndex.append([:])
                sectionIndex[""] = 0
                index = 0
            }
            current = index
            guard let equal = content.firstIndex(of: "="),
                case let key = content[..<equal].trimmingASCIIWhitespace(), !key.isEmpty
            else {
                ini.sections[index].malformedLines.append(lineNumber)
                continue
            }
            let value = String(content[content.index(after: equal)...].trimmingASCIIWhitespace())
            let entry = Entry(key: String(key), value: value, line: lineNumber)
            if let existing = entryIndex[index][ConfigText.asciiLowercased(key)] {
                ini.sections[index].entries[existing].value = entry.value
                ini.sections[index].entries[existing].line = entry.line
            } else {
                entryIndex[index][ConfigText.asciiLowercased(key)] = ini.sections[index].entries.count
                ini.sections[index].entries.append(entry)
            }
        }
        return ini
    }
}
