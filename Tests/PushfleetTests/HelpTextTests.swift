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
        for line in out.split(separator: "\n") where line.count > 80 {
            Issue.record("pushfleet \(command.joined(separator: " ")) --help: \(line.count) columns: \(line)")
        }
    }
}
