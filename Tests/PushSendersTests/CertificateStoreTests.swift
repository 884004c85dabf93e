import Foundation
import PushContract
import PushSandbox
import Testing
@testable import PushSenders

/// `apple-certificate-dir` reloads keep the last good certificates through read failures, on
/// real files in a temporary directory.
@Suite struct CertificateStoreTests {
    final class Fixture: Sendable {
        let ca: SandboxCertificateAuthority
        let root: String
        let dir: String
        let log = LogCapture()
        let store: APNsCertificateStore

        init() throws {
            ca = try SandboxCertificateAuthority.generate()
            root = try temporaryDirectory()
            dir = root + "/apn"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            store = APNsCertificateStore(directory: dir, caFile: nil, clock: SystemClock(), logger: log.logger, warningDays: 30)
        }

        func writeCertificate(_ name: String) throws -> String {
            let pem = try ca.issueClientCredential(topic: name).combinedPEM
            try write(pem, to: dir + "/\(name).pem")
            return pem
        }

        func warnings(containing text: String) -> [LogCapture.Line] {
            log.all.filter { $0.level == .warning && ($0.message + "\($0.metadata)").contains(text) }
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test func halfWrittenFileKeepsThatAppsPreviousCertificate() throws {
        let f = try Fixture()
        let pem = try f.writeCertificate("org.a.prod")
        _ = try f.writeCertificate("org.b.prod")
        #expect(f.store.reload().added == ["org.a.prod", "org.b.prod"])
        let before = try #require(f.store.certificate("org.a.prod")).fingerprint
        // A deploy tool caught mid-copy: the file ends half-way through its PEM blocks.
        try write(String(pem.prefix(pem.utf8.count / 2)), to: f.dir + "/org.a.prod.pem")
        for _ in 0..<2 {
            let change = f.store.reload()
            #expect(change.replaced.isEmpty && change.added.isEmpty)
        }
        #expect(f.store.names == ["org.a.prod", "org.b.prod"])
        #expect(f.store.certificate("org.a.prod")?.fingerprint == before)
        #expect(f.store.skipped.keys.sorted() == ["org.a.prod.pem"])
        #expect(f.store.failureCount(.apnsCertificateFile) == 2)
        let warnings = f.warnings(containing: "org.a.prod.pem")
        #expect(warnings.count == 1, "one log line per fault, not one per poll: \(warnings.map(\.message))")
        #expect(warnings.first?.message.contains("keeping its previous certificate") == true)
        // The finished file replaces it.
        _ = try f.writeCertificate("org.a.prod")
        #expect(Array(f.store.reload().replaced.keys) == ["org.a.prod"])
        #expect(f.store.certificate("org.a.prod")?.fingerprint != before)
        #expect(f.store.skipped.isEmpty)
    }

    @Test func brokenNewFileIsSkippedAndCounted() throws {
        let f = try Fixture()
        try write("-----BEGIN CERTIFICATE-----\nAAAA\n", to: f.dir + "/org.new.prod.pem")
        f.store.reload()
        #expect(f.store.names.isEmpty)
        #expect(f.store.failureCount(.apnsCertificateFile) == 1)
        #expect(f.warnings(containing: "org.new.prod.pem").count == 1)
    }

    @Test(arguments: ["removed", "replaced by a file"])
    func unreadableDirectoryKeepsEveryCertificate(fault: String) throws {
        let f = try Fixture()
        _ = try f.writeCertificate("org.a.prod")
        _ = try f.writeCertificate("org.b.prod")
        f.store.reload()
        try FileManager.default.moveItem(atPath: f.dir, toPath: f.root + "/apn.moved")
        if fault == "replaced by a file" { try write("not a directory", to: f.dir) }
        for _ in 0..<3 {
            let change = f.store.reload()
            #expect(change.replaced.isEmpty)
        }
        #expect(f.store.names == ["org.a.prod", "org.b.prod"])
        #expect(f.store.failureCount(.apnsCertificateDirectory) == 3)
        let warnings = f.warnings(containing: "cannot read the APNs certificate directory")
        #expect(warnings.count == 1, "one log line per fault, not one per poll: \(warnings.map(\.metadata))")
        #expect(warnings.first?.metadata["error"] == (fault == "removed" ? "No such file or directory (errno 2)" : "Not a directory (errno 20)"))
        // Back in place: nothing changed, so nothing is replaced.
        try? FileManager.default.removeItem(atPath: f.dir)
        try FileManager.default.moveItem(atPath: f.root + "/apn.moved", toPath: f.dir)
        let change = f.store.reload()
        #expect(change.replaced.isEmpty && change.added.isEmpty)
        #expect(f.store.names == ["org.a.prod", "org.b.prod"])
    }

    @Test func absentDirectoryWithNothingLoadedIsNoFault() throws {
        let f = try Fixture()
        try FileManager.default.removeItem(atPath: f.dir)
        f.store.reload()
        f.store.reload()
        #expect(f.store.names.isEmpty)
        #expect(f.store.failureCount(.apnsCertificateDirectory) == 0)
        #expect(f.log.all.filter { $0.level >= .warning }.isEmpty)
    }
}
