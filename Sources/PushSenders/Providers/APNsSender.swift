import Logging
import NIOSSL
import PushContract
import PushPolicy

/// APNs over HTTP/2: `POST /3/device/<token>` with a client certificate from
/// `apple-certificate-dir` or, failing that, an ES256 provider token of the app's team.
package final class APNsSender: Sendable {
    private let options: PushNotificationOptions
    private let production: Route
    private let development: Route
    package let certificates: APNsCertificateStore?
    private let signers: [String: TokenKey]
    /// Server-only TLS (no client certificate) for token-authenticated connections.
    private let tokenTLS: NIOSSLContext
    private let pools: PoolRegistry
    private let lanes: LaneRegistry
    private let delivery: Delivery

    package init(options: PushNotificationOptions, fleet: PushFleetOptions, certificates: APNsCertificateStore?,
                 signers: [APNsTokenSigner], tokenTLS: NIOSSLContext, pools: PoolRegistry, lanes: LaneRegistry,
                 delivery: Delivery) throws(SenderConfigError) {
        guard let prod = HTTP2Endpoint(url: fleet.applePushURI) else {
            throw SenderConfigError(key: "apple-push-uri", value: fleet.applePushURI, problem: "not an http(s) URL")
        }
        guard let dev = HTTP2Endpoint(url: fleet.appleDevPushURI) else {
            throw SenderConfigError(key: "apple-dev-push-uri", value: fleet.appleDevPushURI, problem: "not an http(s) URL")
        }
        self.options = options
        production = Route(prod)
        development = Route(dev)
        self.certificates = certificates
        var byTeam: [String: TokenKey] = [:]
        for s in signers where byTeam[s.teamId] == nil {
            byTeam[s.teamId] = TokenKey(signer: s, productionPool: "apns.token:\(s.teamId).\(s.keyId)|\(production.name)",
                                        developmentPool: "apns.token:\(s.teamId).\(s.keyId)|\(development.name)")
        }
        self.signers = byTeam
        self.tokenTLS = tokenTLS
        self.pools = pools
        self.lanes = lanes
        self.delivery = delivery
    }

    /// Opens one connection (TCP, proxy tunnel, TLS with the credential's client certificate,
    /// HTTP/2 preface) per certificate and per token key, as a push would: `config check
    /// --connect`. A certificate named `….dev` goes to the development endpoint, others to
    /// production (Flexisip's file naming); a token key is tried on both.
    package func probe(deadline: EventTime) async -> [SenderProbe] {
        var probes: [SenderProbe] = []
        for name in certificates?.names ?? [] {
            guard let cert = certificates?.certificate(name) else { continue }
            let route = name.hasSuffix(".dev") ? development : production
            let pool = pools.pool("apns.cert:\(cert.name)|\(cert.fingerprint)|\(route.name)", endpoint: route.endpoint) { cert.tls }
            probes.append(SenderProbe(what: "APNs certificate \(name) → \(route.name)", failure: await pool.probe(deadline: deadline)))
        }
        for key in signers.values.sorted(by: { $0.signer.keyId < $1.signer.keyId }) {
            for (route, poolKey) in [(production, key.productionPool), (development, key.developmentPool)] {
                let pool = pools.pool(poolKey, endpoint: route.endpoint) { tokenTLS }
                probes.append(SenderProbe(what: "APNs key \(key.signer.keyId) → \(route.name)", failure: await pool.probe(deadline: deadline)))
            }
        }
        return probes
    }

    /// An APNs host with its text form (`https://host[:port]`), computed once: it is part of
    /// every pool key, and formatting it per attempt was measurable garbage.
    /// A class: the attempt closure then holds one reference instead of copying its strings.
    private final class Route: Sendable {
        let endpoint: HTTP2Endpoint
        let name: String

        init(_ endpoint: HTTP2Endpoint) {
            self.endpoint = endpoint
            name = endpoint.description
        }
    }

    /// A `.p8` signer with its pool keys, fixed at start-up like the signer itself.
    private struct TokenKey {
        var signer: APNsTokenSigner
        var productionPool: String
        var developmentPool: String
    }

    private enum Credential {
        case certificate(APNsCertificate)
        case token(TokenKey)
    }

    /// - Parameter trace: records the credential, each request (secrets redacted) and answer.
    package func send(_ r: PushRequest, deadline: EventTime, trace: ExchangeTrace? = nil) async -> SendOutcome {
        let provider = r.destination.provider.rawValue
        let payload: PushPayload
        do {
            payload = try APNsPayload.build(r, options: options, now: delivery.clock.now())
        } catch {
            return SendOutcome(result: .failed, reason: "invalid APNs payload: \(error)", provider: provider)
        }
        let app = r.destination.apnsCertificateKey ?? ""
        // The attempt closure captures these, not `r`: capturing the request copied all of it.
        let team = r.destination.apnsTeamId
        guard credential(app: app, team: team) != nil else {
            return SendOutcome(result: .failed, reason: "no APNs certificate or token key for \(app)", provider: provider)
        }
        let isDevelopment: Bool
        switch r.destination.provider {
        case .apnsDev: isDevelopment = true
        case .apns, .fcm, .other: isDevelopment = false  // only APNs pushes reach this sender (`PushSenders.send`)
        }
        let route = isDevelopment ? development : production
        let path = route.endpoint.path + (payload.path ?? "")
        guard let lane = lanes.lane("apns:" + app) else { return lanes.refused("apns:" + app, provider: provider) }
        return await delivery.run(provider: provider, lane: lane, deadline: deadline) { _, attemptDeadline, _ in
            // Looked up per attempt: a certificate reloaded during retries is used at once.
            guard let credential = credential(app: app, team: team) else {
                return AttemptVerdict(.failed, reason: "no APNs certificate or token key for \(app)", health: .unknown)
            }
            if let trace { trace.chose(describe(credential)) }
            var headers: [(name: String, value: String)] = []
            headers.reserveCapacity(payload.headers.count + 1)
            for h in payload.headers { headers.append((name: h.name, value: h.value)) }
            let pool: HTTP2ConnectionPool
            var bearer: String?
            var checked: HTTP2CheckedField?
            switch credential {
            case .certificate(let cert):
                pool = pools.pool("apns.cert:\(cert.name)|\(cert.fingerprint)|\(route.name)", endpoint: route.endpoint) { cert.tls }
            case .token(let key):
                let b = key.signer.bearer()
                bearer = b.token
                if let c = b.checkedAuthorization {
                    checked = c
                } else {
                    headers.append((name: "authorization", value: b.authorization))
                }
                pool = pools.pool(isDevelopment ? key.developmentPool : key.productionPool, endpoint: route.endpoint) { tokenTLS }
            }
            let request = HTTP2Request(method: "POST", path: path, headers: headers, checkedField: checked, body: payload.body)
            if let trace {
                let authorization = checked == nil ? [] : bearer.map { [(name: "authorization", value: "bearer " + $0)] } ?? []
                trace.sent(method: "POST", url: route.name + path, headers: headers + authorization, body: payload.body)
            }
            switch await pool.execute(request, deadline: attemptDeadline) {
            case .failure(let e):
                return .transport(e)
            case .success(let response):
                trace?.received(response)
                var v = ProviderAnswers.apns(response)
                ProviderReasons.count("apns", ProviderReasons.apns, v)
                if v.action == .reauthenticate {
                    if case .token(let key) = credential, let bearer, key.signer.refresh(rejected: bearer) {
                        return v
                    }
                    v.action = .failed
                    if bearer != nil { v.reason = (v.reason ?? "") + " (token younger than 20 minutes: not re-signed)" }
                }
                return v
            }
        }
    }

    /// The credential a push to `r` would go out with now (certificate first, as `send`).
    package func credential(for r: PushRequest) -> SenderCredential? {
        credential(app: r.destination.apnsCertificateKey ?? "", team: r.destination.apnsTeamId).map(describe)
    }

    private func describe(_ credential: Credential) -> SenderCredential {
        switch credential {
        case .certificate(let c):
            return .apnsCertificate(APNsCertificateInfo(name: c.name, path: (certificates?.directory ?? "") + "/" + c.name + ".pem",
                                                        notAfter: c.notAfter, subject: c.subject, topic: c.topic))
        case .token(let key):
            return .apnsToken(teamId: key.signer.teamId, keyId: key.signer.keyId)
        }
    }

    private func credential(app: String, team: String?) -> Credential? {
        if let cert = certificates?.certificate(app) { return .certificate(cert) }
        if let team, let key = signers[team] { return .token(key) }
        return nil
    }

    /// Retires the connections of certificates whose file changed or disappeared.
    package func reloadCertificates() {
        guard let certificates else { return }
        let change = certificates.reload()
        for (name, fingerprint) in change.replaced {
            pools.retire(prefix: "apns.cert:\(name)|\(fingerprint)|")
        }
    }
}
