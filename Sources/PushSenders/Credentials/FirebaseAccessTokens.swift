import AsyncHTTPClient
import Crypto
import _CryptoExtras
import Foundation
import Logging
import NIOCore
import PushContract
import Synchronization

/// OAuth2 access tokens for FCM v1, fetched in process (Flexisip ran a Python subprocess).
///
/// A signed RS256 assertion (RFC 7523) is exchanged at the account's `token_uri` for a bearer
/// token. The token is renewed `anticipationMs` before it expires; after a failed fetch the next
/// try waits `retryIntervalMs`, and until then the previous token is used while it is still
/// valid. Concurrent callers share one fetch, each waiting at most until its own deadline; the
/// fetch itself (head and body) ends within `timeoutMs`. All timing comes from the injected clock.
package final class FirebaseAccessTokens: Sendable {
    package static let scope = "https://www.googleapis.com/auth/firebase.messaging"
    /// Longest lifetime believed from `expires_in` (Google's is an hour): a huge or hostile
    /// value must neither overflow the expiry arithmetic nor pin a token for years.
    package static let maxLifetimeSeconds = 86_400

    private struct State {
        var token: String?
        var expiresAt = EventTime(millisecondsSince1970: 0)
        var fetch: Task<Result<String, FetchError>, Never>?
        var retryAt: EventTime?
        var lastError: String?
        var fetches = 0
    }

    package struct FetchError: Error, Sendable, CustomStringConvertible {
        package var description: String
        /// The caller's deadline passed while the shared fetch was still running: worth a retry.
        package var transient = false
    }

    package let account: FirebaseServiceAccount
    private let key: _RSA.Signing.PrivateKey
    private let http: ProxiedHTTPClients
    private let clock: any PushClock
    private let anticipationMs: Int64
    private let retryIntervalMs: Int64
    private let timeoutMs: Int64
    private let logger: Logger
    private let state = Mutex(State())

    package init(account: FirebaseServiceAccount, http: ProxiedHTTPClients, clock: any PushClock, anticipationSeconds: Int,
                 retryIntervalSeconds: Int, timeoutMs: Int64, logger: Logger) throws(SenderConfigError) {
        do {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: account.privateKeyPEM)
        } catch {
            throw SenderConfigError(key: "firebase-service-accounts", value: account.projectId, problem: "private_key is not an RSA PEM key: \(error)")
        }
        self.account = account
        self.http = http
        self.clock = clock
        anticipationMs = Int64(max(0, anticipationSeconds)) * 1000
        retryIntervalMs = Int64(max(1, retryIntervalSeconds)) * 1000
        self.timeoutMs = timeoutMs
        self.logger = logger
    }

    /// Token fetches started so far.
    package var fetchCount: Int { state.withLock { $0.fetches } }

    private enum Next {
        case token(String)
        case wait(Task<Result<String, FetchError>, Never>)
        case fail(String)
    }

    /// A valid bearer token, or why there is none by `deadline` at the latest.
    package func token(deadline: EventTime) async -> Result<String, FetchError> {
        let now = clock.now()
        let next: Next = state.withLock { s in
            if let t = s.token, now.millisecondsSince1970 < s.expiresAt.millisecondsSince1970 - anticipationMs {
                return .token(t)
            }
            if let f = s.fetch { return .wait(f) }
            if let at = s.retryAt, now < at {
                if let t = s.token, now < s.expiresAt { return .token(t) }
                return .fail("no Firebase access token for project \(account.projectId): \(s.lastError ?? "fetch failed") (next try at \(at.rfc3339))")
            }
            s.fetches += 1
            let f = Task { await self.fetch() }
            s.fetch = f
            return .wait(f)
        }
        switch next {
        case .token(let t): return .success(t)
        case .fail(let why): return .failure(FetchError(description: why))
        case .wait(let f):
            let r = await Deadline.value(of: f, until: deadline, clock: clock)
                ?? .failure(FetchError(description: "no Firebase access token for project \(account.projectId) before the attempt deadline "
                                       + "(the token request goes on for the next attempt)", transient: true))
            if case .failure = r, let t = state.withLock({ s in now < s.expiresAt ? s.token : nil }) {
                return .success(t)
            }
            return r
        }
    }

    /// FCM refused `token` (401): forget it so the next call fetches, unless already replaced.
    package func invalidate(_ token: String) {
        state.withLock { s in
            if s.token == token {
                s.token = nil
                s.retryAt = nil
            }
        }
    }

    private func fetch() async -> Result<String, FetchError> {
        let result = await exchange()
        let now = clock.now()
        state.withLock { s in
            s.fetch = nil
            switch result {
            case .success(let (token, lifetime)):
                s.token = token
                s.expiresAt = now.adding(seconds: lifetime)
                s.retryAt = nil
                s.lastError = nil
            case .failure(let e):
                s.retryAt = now.adding(milliseconds: retryIntervalMs)
                s.lastError = e.description
            }
        }
        switch result {
        case .success(let (token, _)):
            return .success(token)
        case .failure(let e):
            SenderMetrics.countFailure(.firebaseToken)
            logger.warning("Firebase access token fetch failed", metadata: ["project": "\(account.projectId)", "error": "\(e)"])
            return .failure(FetchError(description: "no Firebase access token for project \(account.projectId): \(e.description)"))
        }
    }

    /// The RFC 7523 assertion: RS256 over `{iss, scope, aud, iat, exp}`.
    package func assertion(now: EventTime) -> String {
        let iat = now.millisecondsSince1970 / 1000
        let input = JWT.signingInput(
            header: [("alg", .string("RS256")), ("typ", .string("JWT"))],
            claims: [("iss", .string(account.clientEmail)), ("scope", .string(Self.scope)), ("aud", .string(account.tokenURI)),
                     ("iat", .int(iat)), ("exp", .int(iat + 3600))])
        let signature = (try? key.signature(for: SHA256.hash(data: Data(input.utf8)), padding: .insecurePKCS1v1_5).rawRepresentation) ?? Data()
        return input + "." + JWT.base64URL(signature)
    }

    private func exchange() async -> Result<(String, Int), FetchError> {
        var request = HTTPClientRequest(url: account.tokenURI)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        let body = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + assertion(now: clock.now())
        request.body = .bytes(ByteBuffer(string: body))
        let (http, proxy) = http.client(for: account.tokenURI)
        let timeoutMs = timeoutMs, prepared = request
        let answer: (status: UInt, bytes: ByteBuffer)?
        do {
            // The request's own deadline covers the head only; the body gets the rest of the same bound.
            answer = try await Deadline.run(until: clock.now().adding(milliseconds: timeoutMs), clock: clock) {
                let response = try await http.execute(prepared, timeout: .milliseconds(timeoutMs))
                return (response.status.code, try await response.body.collect(upTo: 64 * 1024))
            }
        } catch {
            if let why = ProxiedHTTPClients.proxyFailure(error, proxy: proxy, url: account.tokenURI) {
                return .failure(FetchError(description: "token request failed: \(why)"))
            }
            return .failure(FetchError(description: "token request failed\(proxy.map { " (through proxy \($0))" } ?? ""): \(error)"))
        }
        guard let (status, bytes) = answer else {
            return .failure(FetchError(description: "token endpoint gave no complete answer within \(timeoutMs) ms"))
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView))) as? [String: Any]
        guard status == 200 else {
            var reason = object?["error_description"] as? String ?? object?["error"] as? String ?? ""
            if (300..<400).contains(status) { reason = "(redirect not followed)" }
            return .failure(FetchError(description: "token endpoint answered \(status) \(reason)"))
        }
        guard let token = object?["access_token"] as? String, !token.isEmpty else {
            return .failure(FetchError(description: "token endpoint answer has no access_token"))
        }
        return .success((token, Self.lifetime(object?["expires_in"])))
    }

    /// `expires_in` in seconds, within 1...`maxLifetimeSeconds`; an hour when absent or not a number.
    static func lifetime(_ value: Any?) -> Int {
        guard let number = value as? NSNumber else { return 3600 }
        let seconds = number.doubleValue
        guard seconds.isFinite else { return seconds > 0 ? maxLifetimeSeconds : 1 }
        return Int(min(Double(maxLifetimeSeconds), max(1, seconds)))
    }
}
