import Crypto
import Foundation
import Logging
import Metrics
import NIOSSL
import PushContract
import Synchronization
import X509

/// One client certificate of `apple-certificate-dir`, ready for TLS.
package struct APNsCertificate: Sendable {
    /// File name minus `.pem`: `org.linphone.phone.voip.prod`.
    package var name: String
    /// SHA-256 of the file: a change means new connections, old ones drain.
    package var fingerprint: String
    package var notAfter: EventTime
    package var tls: NIOSSLContext
    /// The subject as written (`UID=…, CN=Apple Push Services: …`), for diagnostics.
    package var subject: String
    /// The subject's UID: the bundle id the certificate may push to (Apple's provider
    /// certificates carry it there); nil when it has none.
    package var topic: String?
}

/// Every `*.pem` (certificate + key) of `apple-certificate-dir`, reloaded when the directory
/// changes. A bad file is skipped with a warning naming it; it never stops the others.
///
/// A failed read keeps the last good state: an unreadable directory keeps every certificate,
/// an unreadable or unparseable file (often one being written) keeps that app's previous
/// certificate. Only a file that is gone from a readable directory removes its certificate.
package final class APNsCertificateStore: Sendable {
    package struct Change: Sendable, Hashable {
        /// Name → old fingerprint, for files that changed or disappeared: their connections
        /// must be retired.
        package var replaced: [String: String]
        package var added: Set<String>
    }

    package let directory: String
    private let caFile: String?
    private let clock: any PushClock
    private let logger: Logger
    private let warningDays: Int
    private let certificates = Mutex<[String: APNsCertificate]>([:])
    private let skippedFiles = Mutex<[String: String]>([:])
    /// Certificates whose expiry gauge exists (to remove the series of deleted files).
    private let exportedExpiries = Mutex<Set<String>>([])
    /// Why the directory could not be read at the last reload (logged once per new reason).
    private let directoryError = Mutex<String?>(nil)
    private let failures = Mutex<[SenderMetrics.CredentialsFailure: Int]>([:])

    package init(directory: String, caFile: String?, clock: any PushClock, logger: Logger, warningDays: Int) {
        self.directory = directory
        self.caFile = caFile
        self.clock = clock
        self.logger = logger
        self.warningDays = warningDays
    }

    package func certificate(_ name: String) -> APNsCertificate? {
        certificates.withLock { $0[name] }
    }

    package var names: [String] { certificates.withLock { $0.keys.sorted() } }
    /// File name → why it was skipped at the last load.
    package var skipped: [String: String] { skippedFiles.withLock { $0 } }
    /// Failed reads so far, by kind (the same counts as the metric, for tests and status).
    package func failureCount(_ kind: SenderMetrics.CredentialsFailure) -> Int { failures.withLock { $0[kind] ?? 0 } }

    private func countFailure(_ kind: SenderMetrics.CredentialsFailure) {
        failures.withLock { $0[kind, default: 0] += 1 }
        SenderMetrics.countFailure(kind)
    }

    /// Reads the directory and swaps in what changed; unchanged certificates keep their TLS
    /// context (and so their connections).
    @discardableResult
    package func reload() -> Change {
        let old = certificates.withLock { $0 }
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            // Deployments with token keys only have no directory: nothing is lost, nothing to alert on.
            let absent = old.isEmpty && !FileManager.default.fileExists(atPath: directory)
            let why = absent ? "absent" : Self.describe(error)
            let isNew = directoryError.withLock { last in
                defer { last = why }
                return last != why
            }
            if absent {
                if isNew { logger.info("no APNs certificate directory", metadata: ["directory": "\(directory)"]) }
            } else {
                countFailure(.apnsCertificateDirectory)
                if isNew {
                    logger.warning("cannot read the APNs certificate directory; keeping the certificates loaded before",
                                   metadata: ["directory": "\(directory)", "error": "\(why)", "certificates": "\(old.keys.sorted())"])
                }
            }
            return Change(replaced: [:], added: [])
        }
        if directoryError.withLock({ last in defer { last = nil }; return last != nil }) {
            logger.info("APNs certificate directory readable again", metadata: ["directory": "\(directory)"])
        }
        var loaded: [String: APNsCertificate] = [:]
        var skipped: [String: String] = [:]
        for file in files.sorted() where file.hasSuffix(".pem") {
            let name = String(file.dropLast(4))
            let path = directory + "/" + file
            guard let data = FileManager.default.contents(atPath: path) else {
                skipped[file] = "unreadable"
                loaded[name] = old[name]
                continue
            }
            let fingerprint = SHA256.hash(data: data).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            if let same = old[name], same.fingerprint == fingerprint {
                loaded[name] = same
                continue
            }
            do {
                loaded[name] = try load(name: name, bytes: Array(data), fingerprint: fingerprint)
            } catch {
                skipped[file] = "\(error)"
                loaded[name] = old[name]
            }
        }
        for (file, why) in skipped {
            countFailure(.apnsCertificateFile)
            guard skippedFiles.withLock({ $0[file] }) != why else { continue }
            let kept = loaded[String(file.dropLast(4))] != nil ? "; keeping its previous certificate" : ""
            logger.warning("skipping APNs certificate file\(kept)", metadata: ["file": "\(directory)/\(file)", "error": "\(why)"])
        }
        skippedFiles.withLock { $0 = skipped }
        var change = Change(replaced: [:], added: [])
        for (name, cert) in old where loaded[name]?.fingerprint != cert.fingerprint {
            change.replaced[name] = cert.fingerprint
        }
        for (name, cert) in loaded where old[name]?.fingerprint != cert.fingerprint {
            change.added.insert(name)
            report(cert)
        }
        certificates.withLock { $0 = loaded }
        refreshExpiryGauges()
        if !change.replaced.isEmpty || !change.added.isEmpty {
            logger.info("APNs certificates loaded", metadata: ["directory": "\(directory)", "certificates": "\(loaded.keys.sorted())",
                                                             "replaced": "\(change.replaced.keys.sorted())"])
        }
        return change
    }

    /// The OS error's text: Foundation's description prints a userInfo dictionary whose key
    /// order varies between calls, and a changed text would log the same fault again.
    static func describe(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? any Error, case let posix = underlying as NSError,
            posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code))) + " (errno \(posix.code))"
        }
        return "\(ns.domain) error \(ns.code)"
    }

    private func load(name: String, bytes: [UInt8], fingerprint: String) throws -> APNsCertificate {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(bytes)
        } catch {
            throw LoadError("no PEM certificate: \(error)")
        }
        guard let leaf = chain.first else { throw LoadError("no PEM certificate") }
        do {
            key = try NIOSSLPrivateKey(bytes: bytes, format: .pem)
        } catch {
            throw LoadError("no PEM private key: \(error)")
        }
        let tls: NIOSSLContext
        do {
            tls = try TLSSetup.context(caFile: caFile, identity: .init(certificateChain: chain, privateKey: key))
        } catch {
            throw LoadError("\(error)")
        }
        let (subject, topic) = Self.subject(of: leaf)
        return APNsCertificate(name: name, fingerprint: fingerprint,
                               notAfter: EventTime(millisecondsSince1970: Int64(leaf.notValidAfter) * 1000), tls: tls,
                               subject: subject, topic: topic)
    }

    /// The LDAP `UID` attribute type, which swift-certificates has no name for (it prints the OID).
    private static let userIDOID = "0.9.2342.19200300.100.1.1"

    /// The subject's text and UID; empty and nil when the certificate cannot be parsed again
    /// (it already loaded into TLS: a diagnostic is not worth refusing it).
    static func subject(of leaf: NIOSSLCertificate) -> (String, String?) {
        guard let der = try? leaf.toDERBytes(), let certificate = try? Certificate(derEncoded: der) else { return ("", nil) }
        var parts: [String] = []
        var uid: String?
        for rdn in certificate.subject {
            for attribute in rdn {
                let value = String(describing: attribute.value)
                if String(describing: attribute.type) == userIDOID {
                    uid = value
                    parts.append("UID=" + value)
                } else {
                    parts.append(String(describing: attribute))
                }
            }
        }
        return (parts.joined(separator: ", "), uid)
    }

    /// Exports each loaded certificate's remaining lifetime as of now, and drops the series of
    /// certificates no longer in the directory (an alert must not fire on a removed file).
    package func refreshExpiryGauges() {
        let now = clock.now().millisecondsSince1970
        let loaded = certificates.withLock { $0.values.map { ($0.name, $0.notAfter.millisecondsSince1970) } }
        let gone = exportedExpiries.withLock { exported in
            let names = Set(loaded.map(\.0))
            defer { exported = names }
            return exported.subtracting(names)
        }
        for (name, notAfter) in loaded {
            Gauge(label: SenderMetrics.certificateExpiry, dimensions: [("certificate", name)]).record(Double((notAfter - now) / 1000))
        }
        for name in gone { Gauge(label: SenderMetrics.certificateExpiry, dimensions: [("certificate", name)]).destroy() }
    }

    /// Logs an expired or soon-expiring certificate.
    private func report(_ cert: APNsCertificate) {
        let remaining = (cert.notAfter.millisecondsSince1970 - clock.now().millisecondsSince1970) / 1000
        let metadata: Logger.Metadata = ["certificate": "\(cert.name)", "notAfter": "\(cert.notAfter.rfc3339)"]
        if remaining <= 0 {
            logger.error("APNs certificate has expired", metadata: metadata)
        } else if remaining < Int64(warningDays) * 86_400 {
            logger.warning("APNs certificate expires soon", metadata: metadata.merging(["days": "\(remaining / 86_400)"]) { $1 })
        }
    }

    /// Days left on each certificate (for status pages and tests).
    package func expiries() -> [String: EventTime] {
        certificates.withLock { $0.mapValues(\.notAfter) }
    }

    struct LoadError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }
}
