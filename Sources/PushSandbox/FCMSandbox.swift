import Foundation
import Synchronization
import _CryptoExtras

/// A loopback FCM: HTTP v1 `messages:send`, the legacy `/fcm/send`, and Google's OAuth token
/// endpoint, all HTTP/2 over TLS (ALPN h2) on one port.
///
/// - `POST /token`: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>`;
///   the assertion must be signed by a service account from `makeServiceAccount`, with `aud` the
///   token URL, a `scope` naming firebase.messaging, and `iat`/`exp` at most an hour apart around
///   now; else 400 `invalid_grant`. Answers `{"access_token","expires_in","token_type":"Bearer"}`.
/// - `POST /v1/projects/<id>/messages:send`: `authorization: Bearer <issued, unexpired token>` (401
///   UNAUTHENTICATED), of that project (403 PERMISSION_DENIED), body `{"message":{"token":…}}`
///   (400 INVALID_ARGUMENT), at most 4096 bytes (400 INVALID_ARGUMENT "message is too big").
/// - `POST /fcm/send`: `authorization: key=<a key from addLegacyKey>` (401), body with `"to"` (400).
public final class FCMSandbox: Sendable {
    private let server: SandboxServer
    private let service: FCMService

    public init(ca: SandboxCertificateAuthority, tokenLifetime: Int = 3600, listen: SandboxListen = .loopback) throws {
        let tls = try ca.issueServerCredential(hosts: listen.certificateHosts).serverTLSContext(alpn: ["h2"])
        service = FCMService(tokenLifetime: tokenLifetime)
        server = SandboxServer(configuration: SandboxListenerConfiguration(protocols: .http2, tls: tls, listen: listen), service: service)
    }

    public func start() async throws {
        try await server.start()
        service.tokenURL.withLock { $0 = baseURL + "/token" }
    }
    public var port: Int { server.port }
    /// "https://127.0.0.1:<port>".
    public var baseURL: String { server.baseURL(scheme: "https") }

    /// A service-account JSON (project_id, client_email, private_key (RSA 2048 PEM), token_uri = baseURL + "/token").
    ///
    /// - Important: call after `start()`, so `token_uri` carries the real port.
    public func makeServiceAccount(projectId: String) throws -> String {
        guard port != 0 else { throw SandboxError("makeServiceAccount(projectId:) before start()") }
        let key = try service.signingKey()
        let email = "pushfleet-sandbox@\(projectId).iam.gserviceaccount.com"
        service.accounts.withLock { $0[email] = FCMService.Account(projectID: projectId, key: key.publicKey) }
        let account: [String: String] = [
            "type": "service_account",
            "project_id": projectId,
            "private_key_id": UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: ""),
            "private_key": key.pkcs8PEMRepresentation + "\n",
            "client_email": email,
            "client_id": "100000000000000000000",
            "auth_uri": baseURL + "/auth",
            "token_uri": baseURL + "/token",
        ]
        let data = try JSONSerialization.data(withJSONObject: account, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// Accepts `authorization: key=<key>` on the legacy endpoint.
    public func addLegacyKey(_ key: String) { service.legacyKeys.withLock { _ = $0.insert(key) } }
    /// Replies for a registration token (`message.token`, or legacy `to`), consumed in order.
    public func script(token: String, _ replies: [SandboxReply]) { service.messages.script(token, replies) }
    /// Replies of the OAuth endpoint to valid assertions (invalid ones are always refused), to make it fail or hang.
    public func scriptTokenEndpoint(_ replies: [SandboxReply]) { service.tokens.script("", replies) }
    /// The literal JSON `expires_in` of the tokens issued from now on (`"9e18"`, a 30-digit
    /// integer…), to test clients against hostile lifetimes; nil restores `tokenLifetime`. The
    /// sandbox itself still honours its tokens for `tokenLifetime` seconds.
    public func setTokenExpiresInJSON(_ literal: String?) { service.expiresInLiteral.withLock { $0 = literal } }
    /// Message requests (v1 and legacy), valid or not, in arrival order.
    public var requests: [RecordedRequest] { service.messages.requests }
    /// OAuth token requests, valid or not.
    public var tokenRequests: [RecordedRequest] { service.tokens.requests }
    /// Waits for message requests (not token requests).
    public func waitForRequests(count: Int, timeout: Duration) async throws -> [RecordedRequest] {
        try await service.messages.waitForRequests(count: count, timeout: timeout)
    }
    /// A fault window: while set, every valid request without a script left gets `reply`
    /// (`.unavailable(retryAfter:)`, `.hang`, `.goAway`…); nil ends it.
    public func setFault(_ reply: SandboxReply?) { service.messages.setFault(reply) }
    /// The reply given to each valid request, in order (to tell deliveries from faults).
    public var answers: [SandboxAnswer] { service.messages.answers }
    /// A fault window of the OAuth token endpoint (valid assertions only).
    public func setTokenEndpointFault(_ reply: SandboxReply?) { service.tokens.setFault(reply) }
    public func shutdown() async throws { try await server.shutdown() }
}

final class FCMService: SandboxService {
    struct Account {
        var projectID: String
        var key: _RSA.Signing.PublicKey
    }

    struct IssuedToken {
        var projectID: String
        var expires: Date
    }

    let messages = SandboxRecorder()
    let tokens = SandboxRecorder()
    let accounts = Mutex<[String: Account]>([:])
    let issued = Mutex<[String: IssuedToken]>([:])
    let legacyKeys = Mutex<Set<String>>([])
    let tokenLifetime: Int
    let expiresInLiteral = Mutex<String?>(nil)
    /// RSA-2048 generation takes seconds in debug builds (BoringSSL at -O0): one key per process
    /// serves every account of every sandbox; it is still made at run time and never stored.
    private static let key = Mutex<_RSA.Signing.PrivateKey?>(nil)
    private let counter = Atomic<Int>(0)
    /// The `aud` assertions must carry; known once the port is.
    let tokenURL = Mutex("")

    init(tokenLifetime: Int) { self.tokenLifetime = tokenLifetime }

    func signingKey() throws -> _RSA.Signing.PrivateKey {
        try Self.key.withLock { key in
            if let key { return key }
            let made = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            key = made
            return made
        }
    }

    private func nextID() -> Int { counter.add(1, ordering: .relaxed).newValue }

    func handle(_ request: RecordedRequest) -> SandboxAction {
        let path = request.path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
        if path == "/token" {
            tokens.record(request)
            return handleToken(request)
        }
        messages.record(request)
        if path == "/fcm/send" { return handleLegacy(request) }
        let prefix = "/v1/projects/", suffix = "/messages:send"
        guard path.hasPrefix(prefix), path.hasSuffix(suffix), path.count > prefix.count + suffix.count else {
            return .respond(Self.error(404, "NOT_FOUND", "Unknown path \(request.path)"))
        }
        let project = String(path.dropFirst(prefix.count).dropLast(suffix.count))
        guard request.method == "POST" else { return .respond(Self.error(405, "INVALID_ARGUMENT", "Use POST")) }
        switch validateMessage(request, project: project) {
        case .failure(let response): return .respond(response)
        case .success(let token):
            return messages.nextReply(for: token, request: request).action { self.render($0, project: project) }
        }
    }

    // MARK: v1

    private func validateMessage(_ request: RecordedRequest, project: String) -> Result<String, SandboxResponse> {
        let authorization = request.header("authorization") ?? ""
        guard authorization.lowercased().hasPrefix("bearer "),
            let issuedToken = issued.withLock({ $0[String(authorization.dropFirst(7))] }),
            issuedToken.expires > Date()
        else {
            return .failure(
                Self.error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials. Expected OAuth 2 access token.")
            )
        }
        guard issuedToken.projectID == project else {
            return .failure(Self.error(403, "PERMISSION_DENIED", "Permission denied on project \(project)", code: "SENDER_ID_MISMATCH"))
        }
        guard request.body.count <= 4096 else {
            return .failure(Self.error(400, "INVALID_ARGUMENT", "Android message is too big", code: "INVALID_ARGUMENT"))
        }
        guard let root = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any],
            let message = root["message"] as? [String: Any]
        else {
            return .failure(Self.error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
        }
        guard let token = message["token"] as? String, Self.isRegistrationToken(token) else {
            return .failure(Self.invalidToken)
        }
        return .success(token)
    }

    /// FCM registration tokens are URL-safe base64 with `:` separators.
    static func isRegistrationToken(_ token: String) -> Bool {
        !token.isEmpty && token.utf8.count <= 4096
            && token.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ":"):
                    true
                default: false
                }
            }
    }

    static let invalidToken = SandboxResponse(
        status: 400,
        json: #"{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"},{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"message.token","description":"Invalid registration token"}]}]}}"#
    )

    static let fcmErrorCodes: Set<String> = [
        "UNSPECIFIED_ERROR", "INVALID_ARGUMENT", "UNREGISTERED", "SENDER_ID_MISMATCH", "QUOTA_EXCEEDED",
        "UNAVAILABLE", "INTERNAL", "THIRD_PARTY_AUTH_ERROR",
    ]

    /// FCM v1's error body: google.rpc.Status with an FcmError detail when `code` is given.
    static func error(_ status: Int, _ rpcStatus: String, _ message: String, code: String? = nil, extra: [(String, String)] = []) -> SandboxResponse {
        let details = code.map { #","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"\#($0)"}]"# } ?? ""
        return SandboxResponse(
            status: status, headers: extra,
            json: #"{"error":{"code":\#(status),"message":\#(sandboxJSONString(message)),"status":\#(sandboxJSONString(rpcStatus))\#(details)}}"#
        )
    }

    static func rpcStatus(for status: Int) -> String {
        switch status {
        case 400: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 429: "RESOURCE_EXHAUSTED"
        case 503: "UNAVAILABLE"
        case 500...: "INTERNAL"
        default: "UNKNOWN"
        }
    }

    func render(_ reply: SandboxReply, project: String) -> SandboxResponse {
        switch reply {
        case .status(let status, let reason):
            let code = reason.flatMap { Self.fcmErrorCodes.contains($0) ? $0 : nil }
            let rpc = code == nil ? (reason ?? Self.rpcStatus(for: status)) : Self.rpcStatus(for: status)
            return Self.error(status, rpc, "Scripted by the sandbox", code: code)
        case .unregistered: return Self.error(404, "NOT_FOUND", "Requested entity was not found.", code: "UNREGISTERED")
        case .badDeviceToken: return Self.invalidToken
        case .tooManyRequests:
            return Self.error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", code: "QUOTA_EXCEEDED", extra: reply.retryAfterHeaders)
        case .internalError: return Self.error(500, "INTERNAL", "Internal error encountered.", code: "INTERNAL")
        case .unavailable:
            return Self.error(503, "UNAVAILABLE", "The service is currently unavailable.", code: "UNAVAILABLE", extra: reply.retryAfterHeaders)
        default:
            return SandboxResponse(status: 200, json: #"{"name":"projects/\#(project)/messages/\#(nextID())"}"#)
        }
    }

    // MARK: legacy

    private func handleLegacy(_ request: RecordedRequest) -> SandboxAction {
        let authorization = request.header("authorization") ?? ""
        guard authorization.hasPrefix("key="), legacyKeys.withLock({ $0.contains(String(authorization.dropFirst(4))) }) else {
            return .respond(SandboxResponse(status: 401, headers: [("content-type", "text/html")], body: Array("<HTML><TITLE>Unauthorized</TITLE></HTML>".utf8)))
        }
        guard let root = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any],
            let to = root["to"] as? String
        else {
            return .respond(SandboxResponse(status: 400, body: Array("JSON_PARSING_ERROR: missing \"to\"".utf8)))
        }
        return messages.nextReply(for: to, request: request).action { self.renderLegacy($0) }
    }

    func renderLegacy(_ reply: SandboxReply) -> SandboxResponse {
        func result(_ entry: String, success: Bool) -> SandboxResponse {
            SandboxResponse(
                status: 200,
                json: #"{"multicast_id":\#(nextID()),"success":\#(success ? 1 : 0),"failure":\#(success ? 0 : 1),"canonical_ids":0,"results":[\#(entry)]}"#
            )
        }
        switch reply {
        case .status(200, let reason?): return result(#"{"error":\#(sandboxJSONString(reason))}"#, success: false)
        case .status(let status, let reason): return SandboxResponse(status: status, body: Array((reason ?? "").utf8))
        case .unregistered: return result(#"{"error":"NotRegistered"}"#, success: false)
        case .badDeviceToken: return result(#"{"error":"InvalidRegistration"}"#, success: false)
        case .tooManyRequests: return SandboxResponse(status: 429, headers: reply.retryAfterHeaders)
        case .internalError: return SandboxResponse(status: 500)
        case .unavailable: return SandboxResponse(status: 503, headers: reply.retryAfterHeaders)
        default: return result(#"{"message_id":"0:\#(nextID())"}"#, success: true)
        }
    }

    // MARK: OAuth

    private func handleToken(_ request: RecordedRequest) -> SandboxAction {
        guard request.method == "POST" else { return .respond(Self.oauthError(405, "invalid_request", "Use POST")) }
        let form = Self.parseForm(request.bodyText)
        guard form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer" else {
            return .respond(Self.oauthError(400, "unsupported_grant_type", "Invalid grant_type: \(form["grant_type"] ?? "")"))
        }
        guard let assertion = form["assertion"], let jwt = SandboxJWT(assertion[...]) else {
            return .respond(Self.oauthError(400, "invalid_request", "Missing or malformed assertion"))
        }
        switch verify(jwt) {
        case .failure(let response): return .respond(response)
        case .success(let project):
            return tokens.nextReply(for: "", request: request).action { reply in
                switch reply {
                case .status(let status, let reason): Self.oauthError(status, reason ?? "invalid_grant", "Scripted by the sandbox")
                case .unregistered, .badDeviceToken: Self.oauthError(400, "invalid_grant", "Scripted by the sandbox")
                case .tooManyRequests: Self.oauthError(429, "rate_limit_exceeded", "Scripted by the sandbox", extra: reply.retryAfterHeaders)
                case .internalError: Self.oauthError(500, "internal_failure", "Scripted by the sandbox")
                case .unavailable: Self.oauthError(503, "temporarily_unavailable", "Scripted by the sandbox", extra: reply.retryAfterHeaders)
                default: self.issueToken(project: project)
                }
            }
        }
    }

    /// The project of the service account that signed `jwt`, if Google would accept the assertion.
    private func verify(_ jwt: SandboxJWT) -> Result<String, SandboxResponse> {
        guard jwt.header["alg"] as? String == "RS256", let issuer = jwt.string("iss"),
            let account = accounts.withLock({ $0[issuer] })
        else { return .failure(Self.oauthError(400, "invalid_grant", "Invalid JWT Signature.")) }
        let signature = _RSA.Signing.RSASignature(rawRepresentation: jwt.signature)
        guard account.key.isValidSignature(signature, for: jwt.signingInput, padding: .insecurePKCS1v1_5) else { return .failure(Self.oauthError(400, "invalid_grant", "Invalid JWT Signature.")) }
        guard let audience = jwt.string("aud"), audience == tokenURL.withLock({ $0 }) else {
            return .failure(Self.oauthError(400, "invalid_grant", "Invalid JWT: audience must be the token URL"))
        }
        guard let scope = jwt.string("scope"), scope.contains("firebase.messaging") else {
            return .failure(Self.oauthError(400, "invalid_scope", "Scope must include firebase.messaging"))
        }
        let now = Int64(Date().timeIntervalSince1970)
        guard let issuedAt = jwt.seconds("iat"), let expires = jwt.seconds("exp"),
            issuedAt <= now + 60, expires > now, expires - issuedAt <= 3600
        else {
            return .failure(
                Self.oauthError(400, "invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
            )
        }
        return .success(account.projectID)
    }

    private func issueToken(project: String) -> SandboxResponse {
        let token = "ya29.sandbox-\(nextID())-\(UUID().uuidString)"
        issued.withLock { $0[token] = IssuedToken(projectID: project, expires: Date() + TimeInterval(tokenLifetime)) }
        let expiresIn = expiresInLiteral.withLock { $0 } ?? String(tokenLifetime)
        return SandboxResponse(
            status: 200, json: #"{"access_token":"\#(token)","expires_in":\#(expiresIn),"token_type":"Bearer"}"#
        )
    }

    static func oauthError(_ status: Int, _ error: String, _ description: String, extra: [(String, String)] = []) -> SandboxResponse {
        SandboxResponse(
            status: status, headers: extra,
            json: #"{"error":\#(sandboxJSONString(error)),"error_description":\#(sandboxJSONString(description))}"#
        )
    }

    /// `application/x-www-form-urlencoded`: `+` is a space, then percent-decoding.
    static func parseForm(_ body: String) -> [String: String] {
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            form[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return form
    }
}
