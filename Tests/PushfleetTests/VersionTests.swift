import Foundation
import Testing

@Suite("pushfleet --version")
struct VersionTests {
    @Test("names the release and the git revision the binary was built from")
    func versionAndRevision() async throws {
        let (status, out, err) = try await run("pushfleet", ["--version"])
        #expect(status == 0, "\(err)")
        let root = KamailioRouter.packageRoot.path
        let (gitStatus, head, _) = try await run("/usr/bin/git", ["-C", root, "rev-parse", "--short=12", "HEAD"])
        // A build from a checkout (make test, CI) carries its HEAD; an exported tree says unknown.
        let revision = gitStatus == 0 ? head.trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
        let release = try String(contentsOfFile: root + "/CHANGELOG.md", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("## [") && !$0.hasPrefix("## [Unreleased]") }
            .map { String($0.dropFirst(4).prefix { $0 != "]" }) }
        #expect(out == "pushfleet \(release ?? "?") (revision \(revision))\n", "the newest CHANGELOG.md release and HEAD")
    }
}
