import NIOSSL

/// TLS client contexts: server certificates always verified (Flexisip verified none) against
/// the system store plus `tls-ca-file`, ALPN `h2`, and optionally an APNs client identity.
package enum TLSSetup {
    package struct Identity: Sendable {
        package var certificateChain: [NIOSSLCertificate]
        package var privateKey: NIOSSLPrivateKey

        package init(certificateChain: [NIOSSLCertificate], privateKey: NIOSSLPrivateKey) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
        }
    }

    package static func context(caFile: String?, identity: Identity? = nil, alpn: [String] = ["h2"]) throws(SenderConfigError) -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        config.certificateVerification = .fullVerification
        config.trustRoots = .default
        if let caFile, !caFile.isEmpty {
            do {
                let extra = try NIOSSLCertificate.fromPEMFile(caFile)
                guard !extra.isEmpty else {
                    throw SenderConfigError(key: "tls-ca-file", value: caFile, problem: "no PEM certificate in the file")
                }
                config.additionalTrustRoots = [.certificates(extra)]
            } catch let e as SenderConfigError {
                throw e
            } catch {
                throw SenderConfigError(key: "tls-ca-file", value: caFile, problem: "cannot read CA certificates: \(error)")
            }
        }
        config.applicationProtocols = alpn
        if let identity {
            config.certificateChain = identity.certificateChain.map { .certificate($0) }
            config.privateKey = .privateKey(identity.privateKey)
        }
        do {
            return try NIOSSLContext(configuration: config)
        } catch {
            throw SenderConfigError(key: "tls", problem: "cannot build the TLS context: \(error)")
        }
    }
}
