public import Foundation
public import Crypto
import X509
import SwiftASN1

/// A throwaway certificate authority generated at run time (swift-certificates + swift-crypto, P-256).
///
/// Nothing secret is ever committed: every test run (and every `pushfleet dev`) makes a fresh CA,
/// so the sandbox servers and their clients trust exactly each other and nothing else.
public struct SandboxCertificateAuthority: Sendable {
    /// The CA's own certificate as PEM; clients add it as a trust anchor (Flexisip's `tls-ca-file`).
    public var certificatePEM: String
    let certificate: Certificate
    let privateKey: P256.Signing.PrivateKey

    public static func generate(commonName: String = "PushFleet Sandbox CA") throws -> SandboxCertificateAuthority {
        fatalError("not yet")
    }

    /// Server certificate for `localhost` and `127.0.0.1` (SANs), signed by this CA.
    public func issueServerCredential(hosts: [String] = ["localhost", "127.0.0.1"]) throws -> SandboxCredential {
        fatalError("not yet")
    }

    /// Client certificate like an APNs provider certificate: subject CN "Apple Push Services: <topic>", UID=<topic>.
    ///
    /// `notAfter` lets tests make an expired or soon-expiring certificate.
    public func issueClientCredential(
        topic: String, notBefore: Date = Date() - 3600, notAfter: Date = Date() + 86400 * 365
    ) throws -> SandboxCredential {
        fatalError("not yet")
    }

    /// "127.0.0.1" → [127, 0, 0, 1]; nil for anything that is not a dotted IPv4 address.
    static func ipv4Octets(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let octets = parts.compactMap { UInt8($0) }
        return octets.count == 4 ? octets : nil
    }

    /// The LDAP `UID` attribute type, which swift-certificates has no name for.
    static let userIDOID: ASN1ObjectIdentifier = [0, 9, 2342, 19_200_300, 100, 1, 1]

    private func issue(
        subject: DistinguishedName, notBefore: Date, notAfter: Date, extra: [Certificate.Extension]
    ) throws -> SandboxCredential {
        fatalError("not yet")
    }

    public func writeCertificate(to path: String) throws {
        try Data(certificatePEM.utf8).write(to: URL(fileURLWithPath: path))
    }
}

/// A certificate and its private key, both PEM.
public struct SandboxCredential: Sendable {
    public var certificatePEM: String
    /// PKCS#8 "PRIVATE KEY" PEM.
    public var privateKeyPEM: String

    public init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// Certificate followed by private key, as Flexisip's `apple-certificate-dir` `.pem` files.
    public var combinedPEM: String { certificatePEM + privateKeyPEM }
}
