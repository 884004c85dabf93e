import Foundation
import PushSandbox
import SwiftASN1
import Testing
import X509

extension SandboxSuites {
    @Suite("Sandbox CA")
    struct SandboxCertificateAuthorityTests {
        static func parse(_ pem: String) throws -> Certificate { try Certificate(pemEncoded: pem) }

        @Test func issuesAPNsStyleClientCertificates() throws {
            let ca = try SandboxCertificateAuthority.generate(commonName: "Test CA")
            let credential = try ca.issueClientCredential(topic: "org.example.app", notAfter: Date() + 600)
            let certificate = try Self.parse(credential.certificatePEM)
            let root = try Self.parse(ca.certificatePEM)
            #expect(certificate.issuer == root.subject)
            #expect(root.subject.description.contains("Test CA"))
            let subject = certificate.subject.description
            #expect(subject.contains("CN=Apple Push Services: org.example.app"))
            #expect(subject.contains("org.example.app"))
            #expect(abs(certificate.notValidAfter.timeIntervalSinceNow - 600) < 5)
            #expect(credential.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
            #expect(credential.combinedPEM == credential.certificatePEM + credential.privateKeyPEM)
            let uid: ASN1ObjectIdentifier = [0, 9, 2342, 19_200_300, 100, 1, 1]
            let uids = certificate.subject.flatMap { $0 }.filter { $0.type == uid }.compactMap { String($0.value) }
            #expect(uids == ["org.example.app"])
        }

        @Test func issuesServerCertificatesForLoopback() throws {
            let ca = try SandboxCertificateAuthority.generate()
            let certificate = try Self.parse(try ca.issueServerCredential(hosts: ["localhost", "127.0.0.1", "push.test"]).certificatePEM)
            let names = try #require(try certificate.extensions.subjectAlternativeNames)
            #expect(names.contains(.dnsName("localhost")))
            #expect(names.contains(.dnsName("push.test")))
            #expect(names.contains(.ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1]))))
        }

        @Test func writesTheRootCertificate() throws {
            let ca = try SandboxCertificateAuthority.generate()
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("sandbox-ca-\(UUID().uuidString).pem").path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try ca.writeCertificate(to: path)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == ca.certificatePEM)
        }

        @Test func everyCAIsFresh() throws {
            #expect(try SandboxCertificateAuthority.generate().certificatePEM != SandboxCertificateAuthority.generate().certificatePEM)
        }
    }
}
