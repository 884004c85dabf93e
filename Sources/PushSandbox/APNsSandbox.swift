public import Crypto
public import Foundation
import Synchronization

/// A loopback APNs: HTTP/2 over TLS (ALPN h2) that validates requests like Apple's servers.
///
/// Checks, in this order, each failing with APNs' own status and `reason`: method POST (405
/// MethodNotAllowed); path `/3/device/<64 hex>` (404 BadPath, 400 BadDeviceToken); authentication —
/// a client certificate issued by the sandbox CA (topic must be its UID, UID.voip or
/// UID.complication, else 400 TopicDisallowed) or an ES256 provider token (403
/// InvalidProviderToken / ExpiredProviderToken, 429 TooManyProviderTokenUpdates, 400 MissingTopic),
/// neither: 403 MissingProviderToken; `apns-push-type` (400 InvalidPushType, voip needs a `.voip`
/// topic); `apns-priority` 1/5/10 and 5 for background (400 BadPriority); `apns-expiration` (400
/// BadExpirationDate); `apns-id` a UUID (400 BadMessageId); `apns-collapse-id` ≤ 64 bytes (400
/// BadCollapseId); body non-empty (400 PayloadEmpty), ≤ 4096 bytes, 5120 for voip (413
/// PayloadTooLarge), a JSON object (400 BadPayload). Then the token's script decides.
public final class APNsSandbox: Sendable {
    private let server: SandboxServer
    private let service: APNsService

    /// Validates like APNs: mutual TLS client certificate issued by `ca` (apns-topic must equal its UID or UID+".voip"),
    /// OR an `authorization: bearer <ES256 JWT>` whose `kid` is one of `tokenKeys` and `iss` the team id.
    public init(ca: SandboxCertificateAuthority, tokenKeys: [String: (teamId: String, key: P256.Signing.PublicKey)] = [:],
                listen: SandboxListen = .loopback) throws {
        let tls = try ca.issueServerCredential(hosts: listen.certificateHosts).serverTLSContext(alpn: ["h2"], clientCA: ca)
        service = APNsService(tokenKeys: tokenKeys)
        server = SandboxServer(
            configuration: SandboxListenerConfiguration(protocols: .http2, tls: tls, listen: listen, readsClientCertificate: true),
            service: service
        )
    }

    /// Binds 127.0.0.1 on a free port.
    public func start() async throws { try await server.start() }
    public var port: Int { server.port }
    /// "https://127.0.0.1:<port>".
    public var baseURL: String { server.baseURL(scheme: "https") }
    /// Replies for `token` (the 64-hex path component), consumed in order before the default `.ok`.
    public func script(token: String, _ replies: [SandboxReply]) { service.recorder.script(token, replies) }
    /// Every request received, valid or not, in arrival order.
    public var requests: [RecordedRequest] { service.recorder.requests }
    public func waitForRequests(count: Int, timeout: Duration) async throws -> [RecordedRequest] {
        try await service.recorder.waitForRequests(count: count, timeout: timeout)
    }
    /// TCP connections accepted so far: lets tests check that a sender reuses its connection.
    public var connectionCount: Int { server.connectionCount }
    /// A fault window: while set, every valid request without a script left gets `reply`
    /// (`.unavailable(retryAfter:)`, `.hang`, `.goAway`…); nil ends it.
    public func setFault(_ reply: SandboxReply?) { service.recorder.setFault(reply) }
    /// The reply given to each valid request, in order (to tell deliveries from faults).
    public var answers: [SandboxAnswer] { service.recorder.answers }
    public func shutdown() async throws { try await server.shutdown() }

    /// APNs refuses a new provider token for a key more often than every 20 minutes; tests that
    /// rotate tokens on purpose may shorten this.
    public var providerTokenUpdateInterval: TimeInterval {
        get { service.tokens.withLock { $0.updateInterval } }
        set { service.tokens.withLock { $0.updateInterval = newValue } }
    }
}

/// The provider-token bookkeeping APNs does per signing key.
struct APNsTokenState {
    struct Accepted {
        var kid: String
        var issuedAt: Int64
    }

    var updateInterval: TimeInterval = 20 * 60
    /// Tokens in use, so a repeated token costs a dictionary look-up, not a signature check.
    var accepted: [String: Accepted] = [:]
    /// When each key last got a new token.
    var lastUpdate: [String: Date] = [:]
}

final class APNsService: SandboxService {
    let recorder = SandboxRecorder()
    let tokenKeys: [String: (teamId: String, key: P256.Signing.PublicKey)]
    let tokens = Mutex(APNsTokenState())

    static let pushTypes: Set<String> = [
        "alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity",
        "pushtotalk", "widgets", "controls",
    ]

    init(tokenKeys: [String: (teamId: String, key: P256.Signing.PublicKey)]) {
        self.tokenKeys = tokenKeys
    }

    func handle(_ request: RecordedRequest) -> SandboxAction {
        recorder.record(request)
        let apnsID = request.header("apns-id") ?? UUID().uuidString
        switch validate(request) {
        case .failure(let rejection):
            return .respond(Self.response(rejection.status, reason: rejection.reason, apnsID: apnsID))
        case .success(let token):
            return recorder.nextReply(for: token, request: request).action { Self.render($0, apnsID: apnsID) }
        }
    }

    struct Rejection: Error {
        var status: Int
        var reason: String
        init(_ status: Int, _ reason: String) {
            self.status = status
            self.reason = reason
        }
    }

    /// The device token if the request would be accepted by APNs.
    func validate(_ request: RecordedRequest) -> Result<String, Rejection> {
        guard request.method == "POST" else { return .failure(Rejection(405, "MethodNotAllowed")) }
        let prefix = "/3/device/"
        guard request.path.hasPrefix(prefix) else { return .failure(Rejection(404, "BadPath")) }
        let token = String(request.path.dropFirst(prefix.count))
        guard token.utf8.count == 64, token.utf8.allSatisfy(Self.isHexDigit) else {
            return .failure(Rejection(400, "BadDeviceToken"))
        }
        let pushType = request.header("apns-push-type") ?? "alert"
        let topic: String
        if let certificateTopic = request.clientCertificateTopic {
            topic = request.header("apns-topic") ?? certificateTopic
            let allowed = [certificateTopic, certificateTopic + ".voip", certificateTopic + ".complication"]
            guard allowed.contains(topic) else { return .failure(Rejection(400, "TopicDisallowed")) }
        } else if let authorization = request.header("authorization") {
            if let rejection = checkProviderToken(authorization) { return .failure(rejection) }
            guard let given = request.header("apns-topic"), !given.isEmpty else {
                return .failure(Rejection(400, "MissingTopic"))
            }
            topic = given
        } else {
            return .failure(Rejection(403, "MissingProviderToken"))
        }
        guard Self.pushTypes.contains(pushType) else { return .failure(Rejection(400, "InvalidPushType")) }
        if pushType == "voip" && !topic.hasSuffix(".voip") { return .failure(Rejection(400, "InvalidPushType")) }
        if let priority = request.header("apns-priority") {
            guard ["1", "5", "10"].contains(priority), pushType != "background" || priority == "5" else {
                return .failure(Rejection(400, "BadPriority"))
            }
        }
        if let expiration = request.header("apns-expiration"), Int64(expiration) == nil {
            return .failure(Rejection(400, "BadExpirationDate"))
        }
        if let id = request.header("apns-id"), UUID(uuidString: id) == nil {
            return .failure(Rejection(400, "BadMessageId"))
        }
        if let collapseID = request.header("apns-collapse-id"), collapseID.utf8.count > 64 {
            return .failure(Rejection(400, "BadCollapseId"))
        }
        guard !request.body.isEmpty else { return .failure(Rejection(400, "PayloadEmpty")) }
        guard request.body.count <= (pushType == "voip" ? 5120 : 4096) else {
            return .failure(Rejection(413, "PayloadTooLarge"))
        }
        guard (try? JSONSerialization.jsonObject(with: Data(request.body))) is [String: Any] else {
            return .failure(Rejection(400, "BadPayload"))
        }
        return .success(token)
    }

    /// Nil when `authorization` carries a provider token APNs would accept now.
    func checkProviderToken(_ authorization: String) -> Rejection? {
        guard authorization.hasPrefix("bearer ") || authorization.hasPrefix("Bearer ") else {
            return Rejection(403, "InvalidProviderToken")
        }
        let token = String(authorization.dropFirst("bearer ".count))
        let now = Date()
        let nowSeconds = Int64(now.timeIntervalSince1970)
        if let known = tokens.withLock({ $0.accepted[token] }) {
            return nowSeconds - known.issuedAt > 3600 ? Rejection(403, "ExpiredProviderToken") : nil
        }
        guard let jwt = SandboxJWT(token[...]),
            let kid = jwt.header["kid"] as? String,
            let entry = tokenKeys[kid],
            jwt.isSignedES256(by: entry.key),
            jwt.string("iss") == entry.teamId,
            let issuedAt = jwt.seconds("iat")
        else { return Rejection(403, "InvalidProviderToken") }
        guard nowSeconds - issuedAt <= 3600 else { return Rejection(403, "ExpiredProviderToken") }
        guard issuedAt <= nowSeconds + 300 else { return Rejection(403, "InvalidProviderToken") }
        return tokens.withLock { state in
            if let last = state.lastUpdate[kid], now.timeIntervalSince(last) < state.updateInterval {
                return Rejection(429, "TooManyProviderTokenUpdates")
            }
            state.lastUpdate[kid] = now
            state.accepted = state.accepted.filter { $0.value.kid != kid }
            state.accepted[token] = APNsTokenState.Accepted(kid: kid, issuedAt: issuedAt)
            return nil
        }
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }

    static func render(_ reply: SandboxReply, apnsID: String) -> SandboxResponse {
        switch reply {
        case .status(let status, let reason):
            return response(status, reason: reason, apnsID: apnsID)
        case .unregistered(let timestamp):
            return SandboxResponse(
                status: 410, headers: [("apns-id", apnsID)],
                json: #"{"reason":"Unregistered","timestamp":\#(timestamp)}"#
            )
        case .badDeviceToken: return response(400, reason: "BadDeviceToken", apnsID: apnsID)
        case .tooManyRequests: return response(429, reason: "TooManyRequests", apnsID: apnsID, extra: reply.retryAfterHeaders)
        case .internalError: return response(500, reason: "InternalServerError", apnsID: apnsID)
        case .unavailable: return response(503, reason: "ServiceUnavailable", apnsID: apnsID, extra: reply.retryAfterHeaders)
        default: return SandboxResponse(status: 200, headers: [("apns-id", apnsID)])
        }
    }

    static func response(_ status: Int, reason: String?, apnsID: String, extra: [(String, String)] = []) -> SandboxResponse {
        guard let reason else { return SandboxResponse(status: status, headers: [("apns-id", apnsID)] + extra) }
        return SandboxResponse(
            status: status, headers: [("apns-id", apnsID)] + extra, json: #"{"reason":\#(sandboxJSONString(reason))}"#
        )
    }
}
