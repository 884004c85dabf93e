import NIOSSL
import PushContract
import PushPolicy

/// FCM v1 (`firebase-service-accounts`, OAuth2 bearer) and legacy (`firebase-projects-api-keys`,
/// `key=`) over HTTP/2 to `firebase-uri`.
///
/// Legacy is documented as shut down by Google in July 2024; it stays for private gateways
/// that still speak it.
package final class FirebaseSender: Sendable {
    private let endpoint: HTTP2Endpoint
    private let accounts: [String: FirebaseAccessTokens]
    private let legacyKeys: [String: String]
    private let tls: NIOSSLContext?
    private let pools: PoolRegistry
    private let lanes: LaneRegistry
    private let delivery: Delivery

    package init(fleet: PushFleetOptions, accounts: [String: FirebaseAccessTokens], legacyKeys: [String: String],
                 tls: NIOSSLContext?, pools: PoolRegistry, lanes: LaneRegistry, delivery: Delivery) throws(SenderConfigError) {
        guard let endpoint = HTTP2Endpoint(url: fleet.firebaseURI) else {
            throw SenderConfigError(key: "firebase-uri", value: fleet.firebaseURI, problem: "not an http(s) URL")
        }
        self.endpoint = endpoint
        self.accounts = accounts
        self.legacyKeys = legacyKeys
        self.tls = tls
        self.pools = pools
        self.lanes = lanes
        self.delivery = delivery
    }

    /// Fetches an access token for each service account and opens one connection to the FCM
    /// endpoint per project, as a push would: `config check --connect`.
    package func probe(deadline: EventTime) async -> [SenderProbe] {
        var probes: [SenderProbe] = []
        for project in Set(accounts.keys).union(legacyKeys.keys).sorted() {
            if let tokens = accounts[project] {
                var failure: String?
                if case .failure(let e) = await tokens.token(deadline: deadline) { failure = "\(e)" }
                probes.append(SenderProbe(what: "Firebase project \(project): access token from \(tokens.account.tokenURI)", failure: failure))
            }
            let pool = pools.pool("fcm:\(project)|\(endpoint)", endpoint: endpoint) { tls }
            probes.append(SenderProbe(what: "Firebase project \(project) → \(endpoint)", failure: await pool.probe(deadline: deadline)))
        }
        return probes
    }

    /// The credential a push to `r` would go out with (a service account wins: both for one
    /// project is a configuration error).
    package func credential(for r: PushRequest) -> SenderCredential? {
        let project = r.destination.firebaseProject ?? r.destination.param
        if let tokens = accounts[project] {
            return .firebaseServiceAccount(project: project, projectId: tokens.account.projectId, clientEmail: tokens.account.clientEmail)
        }
        return legacyKeys[project] == nil ? nil : .firebaseServerKey(project: project)
    }

    /// - Parameter trace: records the credential, each request (secrets redacted) and answer.
    package func send(_ r: PushRequest, deadline: EventTime, trace: ExchangeTrace? = nil) async -> SendOutcome {
        let provider = r.destination.provider.rawValue
        let project = r.destination.firebaseProject ?? r.destination.param
        let now = delivery.clock.now()
        // Credentials first: a project nobody configured gets no lane, pool or gauge series.
        guard accounts[project] != nil || legacyKeys[project] != nil else {
            return SendOutcome(result: .failed, reason: "no Firebase service account or API key for project \(project)", provider: provider)
        }
        guard let lane = lanes.lane("fcm:" + project) else { return lanes.refused("fcm:" + project, provider: provider) }
        let pool = pools.pool("fcm:\(project)|\(endpoint)", endpoint: endpoint) { tls }
        let minimum429 = delivery.tuning.fcmTooManyRequestsMinimumMs
        if let trace, let credential = credential(for: r) { trace.chose(credential) }
        if let tokens = accounts[project] {
            let payload: PushPayload
            do { payload = try FirebasePayload.v1(r, now: now) } catch {
                return SendOutcome(result: .failed, reason: "invalid FCM payload: \(error)", provider: provider)
            }
            let path = endpoint.path + "/v1/projects/\(tokens.account.projectId)/messages:send"
            return await delivery.run(provider: provider, lane: lane, deadline: deadline) { _, attemptDeadline, _ in
                let bearer: String
                switch await tokens.token(deadline: attemptDeadline) {
                case .success(let t): bearer = t
                case .failure(let e) where e.transient:
                    return AttemptVerdict(.retry(minimumMs: 0, immediate: false), reason: e.description, health: .failing(e.description))
                case .failure(let e): return AttemptVerdict(.failed, reason: e.description, health: .failing(e.description))
                }
                var headers = payload.headers.map { (name: $0.name, value: $0.value) }
                headers.append((name: "authorization", value: "Bearer " + bearer))
                let request = HTTP2Request(method: "POST", path: path, headers: headers, body: payload.body)
                trace?.sent(method: "POST", url: endpoint.description + path, headers: headers, body: payload.body)
                switch await pool.execute(request, deadline: attemptDeadline) {
                case .failure(let e): return .transport(e)
                case .success(let response):
                    trace?.received(response)
                    let v = ProviderAnswers.fcm(response, tooManyRequestsMinimumMs: minimum429)
                    ProviderReasons.count("fcm", ProviderReasons.fcm, v)
                    if v.action == .reauthenticate { tokens.invalidate(bearer) }
                    return v
                }
            }
        }
        if let key = legacyKeys[project] {
            let payload: PushPayload
            do { payload = try FirebasePayload.legacy(r, now: now) } catch {
                return SendOutcome(result: .failed, reason: "invalid FCM payload: \(error)", provider: provider)
            }
            var headers = payload.headers.map { (name: $0.name, value: $0.value) }
            headers.append((name: "authorization", value: "key=" + key))
            let request = HTTP2Request(method: "POST", path: endpoint.path + (payload.path ?? "/fcm/send"), headers: headers, body: payload.body)
            return await delivery.run(provider: provider, lane: lane, deadline: deadline) { _, attemptDeadline, _ in
                trace?.sent(method: "POST", url: endpoint.description + request.path, headers: headers, body: payload.body)
                switch await pool.execute(request, deadline: attemptDeadline) {
                case .failure(let e): return .transport(e)
                case .success(let response):
                    trace?.received(response)
                    var v = ProviderAnswers.fcmLegacy(response, tooManyRequestsMinimumMs: minimum429)
                    ProviderReasons.count("fcm-legacy", ProviderReasons.fcmLegacy, v)
                    // A server key cannot be refreshed.
                    if v.action == .reauthenticate { v.action = .failed; v.health = .failing(v.reason ?? "401") }
                    return v
                }
            }
        }
        return SendOutcome(result: .failed, reason: "no Firebase service account or API key for project \(project)", provider: provider)
    }
}
