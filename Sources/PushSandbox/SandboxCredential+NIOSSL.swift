import Foundation
import NIOSSL

extension SandboxCredential {
    /// A TLS 1.2+ server context for this credential, offering `alpn`; with `clientCA`, client
    /// certificates are verified against it when presented (APNs also admits token-authenticated
    /// clients without one, so presenting one stays optional).
    func serverTLSContext(alpn: [String], clientCA: SandboxCertificateAuthority? = nil) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = alpn
        if let clientCA {
            configuration.certificateVerification = .optionalVerification
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clientCA.certificatePEM.utf8)))
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// A JSON string literal for `text`, for the few bodies the sandboxes write by hand.
func sandboxJSONString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
