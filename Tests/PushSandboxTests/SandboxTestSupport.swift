import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import PushSandbox
import Testing
import _CryptoExtras

/// All sandbox suites, run one at a time: in parallel they stall on this two-core machine (see the
/// report of the sandbox branch); serially they take about 20 s.
@Suite(.serialized) enum SandboxSuites {}

/// One HTTP exchange as the tests see it.
struct Exchange {
    var status: Int
    var headers: HTTPHeaders
    var body: String
    var version: HTTPVersion

    /// The JSON body as a dictionary (empty if it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
}

/// A real HTTP client (AsyncHTTPClient) that trusts the sandbox CA, optionally with a client certificate.
struct TestClient {
    let client: HTTPClient

    init(ca: SandboxCertificateAuthority?, clientCredential: SandboxCredential? = nil) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.certificatePEM.utf8)))
        }
        if let clientCredential {
            tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(clientCredential.certificatePEM.utf8)).map { .certificate($0) }
            tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(clientCredential.privateKeyPEM.utf8), format: .pem))
        }
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
    }

    func send(
        _ url: String, method: HTTPMethod = .POST, headers: [(String, String)] = [], body: String? = nil,
        timeout: TimeAmount = .seconds(20)
    ) async throws -> Exchange {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await client.execute(request, timeout: timeout)
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return Exchange(
            status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes), version: response.version
        )
    }

    func shutdown() async throws { try await client.shutdown() }
}

/// Runs `body` with a client, shutting it down however `body` ends.
func withClient<T>(
    ca: SandboxCertificateAuthority?, credential: SandboxCredential? = nil, _ body: (TestClient) async throws -> T
) async throws -> T {
    let client = try TestClient(ca: ca, clientCredential: credential)
    return try await using(client, shutdown: { try await $0.shutdown() }, body)
}

/// Runs `body` with `resource`, then `shutdown`, however `body` ends (an error from `body` wins).
func using<R, T>(_ resource: R, shutdown: (R) async throws -> Void, _ body: (R) async throws -> T) async throws -> T {
    let result: T
    do {
        result = try await body(resource)
    } catch {
        try? await shutdown(resource)
        throw error
    }
    try await shutdown(resource)
    return result
}

enum TestJWT {
    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func json(_ object: [String: Any]) -> String {
        base64URL(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// An APNs provider token: ES256, `kid` header, `iss` team and `iat` claims.
    static func apns(key: P256.Signing.PrivateKey, kid: String, team: String, issuedAt: Date = Date()) throws -> String {
        let input = json(["alg": "ES256", "kid": kid]) + "." + json(["iss": team, "iat": Int(issuedAt.timeIntervalSince1970)])
        let signature = try key.signature(for: Data(input.utf8))
        return input + "." + base64URL(signature.rawRepresentation)
    }

    /// A Google OAuth assertion signed with the service account's RSA key (RS256).
    static func assertion(
        privateKeyPEM: String, email: String, audience: String, scope: String = "https://www.googleapis.com/auth/firebase.messaging",
        issuedAt: Date = Date(), lifetime: TimeInterval = 3600
    ) throws -> String {
        let key = try _RSA.Signing.PrivateKey(pemRepresentation: privateKeyPEM)
        let iat = Int(issuedAt.timeIntervalSince1970)
        let input = json(["alg": "RS256", "typ": "JWT"]) + "."
            + json(["iss": email, "scope": scope, "aud": audience, "iat": iat, "exp": iat + Int(lifetime)])
        let signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5)
        return input + "." + base64URL(signature.rawRepresentation)
    }
}

/// A valid-looking APNs device token (64 hex digits) derived from `n`.
func deviceToken(_ n: Int) -> String {
    String(repeating: String(format: "%02x", n % 256), count: 32)
}

/// The time `body` takes, for checks that a `.slow` reply really waited.
func elapsed<T>(_ body: () async throws -> T) async rethrows -> (T, Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try await body()
    return (result, clock.now - start)
}

/// A second RSA key, for assertions the sandbox must refuse (made once: RSA generation is slow in debug builds).
enum ForeignRSAKey {
    static let pem: String = try! _RSA.Signing.PrivateKey(keySize: .bits2048).pkcs8PEMRepresentation
}
