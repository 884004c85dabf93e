public import Foundation
import Crypto
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
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now - 3600,
            notValidAfter: now + 86400 * 3650,
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(key)
        )
        return SandboxCertificateAuthority(
            certificatePEM: try certificate.serializeAsPEM().pemString + "\n",
            certificate: certificate,
            privateKey: key
        )
    }

    /// Server certificate for `localhost` and `127.0.0.1` (SANs), signed by this CA.
    public func issueServerCredential(hosts: [String] = ["localhost", "127.0.0.1"]) throws -> SandboxCredential {
        let names = hosts.map { host -> GeneralName in
            if let octets = Self.ipv4Octets(host) { return .ipAddress(ASN1OctetString(contentBytes: octets[...])) }
            return .dnsName(host)
        }
        return try issue(
            subject: try DistinguishedName { CommonName(hosts.first ?? "localhost") },
            notBefore: Date() - 3600, notAfter: Date() + 86400 * 365,
            extra: [
                try SubjectAlternativeNames(names).makeCertificateExtension(),
                try ExtendedKeyUsage([.serverAuth]).makeCertificateExtension(),
            ]
        )
    }

    /// Client certificate like an APNs provider certificate: subject CN "Apple Push Services: <topic>", UID=<topic>.
    ///
    /// `notAfter` lets tests make an expired or soon-expiring certificate.
    public func issueClientCredential(
        topic: String, notBefore: Date = Date() - 3600, notAfter: Date = Date() + 86400 * 365
    ) throws -> SandboxCredential {
        // Apple's provider certificates carry the bundle id as UID (0.9.2342.19200300.100.1.1);
        // Flexisip and the APNs sandbox read the topic from there.
        let subject = DistinguishedName([
            RelativeDistinguishedName(RelativeDistinguishedName.Attribute(type: Self.userIDOID, utf8String: topic)),
            RelativeDistinguishedName(
                RelativeDistinguishedName.Attribute(type: .RDNAttributeType.commonName, utf8String: "Apple Push Services: \(topic)")
            ),
        ])
        return try issue(
            subject: subject, notBefore: notBefore, notAfter: notAfter,
            extra: [try ExtendedKeyUsage([.clientAuth]).makeCertificateExtension()]
        )
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
        let key = P256.Signing.PrivateKey()
        var all = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyAgreement: true))
            AuthorityKeyIdentifier(keyIdentifier: try certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
        }
        for e in extra { try all.append(e) }
        let leaf = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: certificate.subject,
            subject: subject,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: all,
            issuerPrivateKey: Certificate.PrivateKey(privateKey)
        )
        return SandboxCredential(
            certificatePEM: try leaf.serializeAsPEM().pemString + "\n",
            privateKeyPEM: key.pemRepresentation + "\n"
        )
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
