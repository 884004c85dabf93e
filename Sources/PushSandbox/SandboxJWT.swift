import Crypto
import Foundation

/// A compact JWS split into its parts, for the sandboxes' provider-token and OAuth checks.
///
/// Not a hot path (APNs re-verifies only when the token string changes), so Foundation's
/// JSONSerialization does the claims.
struct SandboxJWT {
    var header: [String: Any]
    var claims: [String: Any]
    /// `header.payload` as sent: the bytes the signature covers.
    var signingInput: [UInt8]
    var signature: [UInt8]

    /// Nil unless `token` is three base64url parts whose first two are JSON objects.
    init?(_ token: Substring) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Self.base64URLDecode(parts[0]),
            let claimBytes = Self.base64URLDecode(parts[1]),
            let signature = Self.base64URLDecode(parts[2]),
            let header = (try? JSONSerialization.jsonObject(with: Data(headerBytes))) as? [String: Any],
            let claims = (try? JSONSerialization.jsonObject(with: Data(claimBytes))) as? [String: Any]
        else { return nil }
        self.header = header
        self.claims = claims
        self.signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        self.signature = signature
    }

    func string(_ key: String) -> String? { claims[key] as? String }

    /// NumericDate claims arrive as JSON numbers; accept integers and whole doubles.
    func seconds(_ key: String) -> Int64? {
        switch claims[key] {
        case let value as Int: Int64(value)
        case let value as Double where value.isFinite: Int64(value)
        case let value as NSNumber: value.int64Value
        default: nil
        }
    }

    /// ES256: the signature is r‖s, 64 bytes (RFC 7518 §3.4), not DER.
    func isSignedES256(by key: P256.Signing.PublicKey) -> Bool {
        guard header["alg"] as? String == "ES256",
            let signature = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
        else { return false }
        return key.isValidSignature(signature, for: signingInput)
    }

    static func base64URLDecode(_ text: Substring) -> [UInt8]? {
        var base64 = String(text).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard !base64.contains("=") else { return nil }
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        return Data(base64Encoded: base64).map { Array($0) }
    }

    static func base64URLEncode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
