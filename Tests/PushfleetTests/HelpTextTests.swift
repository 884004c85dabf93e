import Foundation
import Testing

@Suite("Help texts")
struct HelpTextTests {
    static let commands: [[String]] = [
        [], ["worker"], ["dev"], ["dev-broker"], ["sandbox"], ["config", "check"], ["config", "dump"],
        ["topics", "create"], ["topics", "check"], ["publish"], ["replay"], ["inspect"], ["tail"], ["push"],
    ]

    @Test("every command's --help fits 80 columns (usage lines and examples do not wrap mid-command)", arguments: commands)
    func fitsEightyColumns(command: [String]) async throws {
        let (status, out, err) = try await run("pushfleet", command + ["--help"])
        #expect(status == 0, "\(err)")
        #expect(out.contains("USAGE: pushfleet"))
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        for line in lines where line.count > 80 {
            Issue.record("pushfleet \(command.joined(separator: " ")) --help: \(line.count) columns: \(line)")
        }
        // An example wrapped by the help formatter goes on at column 0; one continued on purpose
        // ends with a backslash and goes on indented.
        for (line, next) in zip(lines, lines.dropFirst()) where line.hasPrefix("  pushfleet ") || line.hasPrefix("    --") {
            if !line.hasSuffix("\\"), let first = next.first, first != " " {
                Issue.record("pushfleet \(command.joined(separator: " ")) --help: an example wraps mid-command: \(line) / \(next)")
            }
        }
    }
}
