import Crypto
import Foundation
import PushContract
import PushPolicy
import Synchronization

/// The ES256 provider token of one `.p8` key, cached as Apple requires.
///
/// APNs rejects tokens older than an hour (403 ExpiredProviderToken) and more than one new
/// token per 20 minutes (429 TooManyProviderTokenUpdates). So a token is reused until it is
/// `refreshAfterMs` (50 min) old, and a new one is never signed while the current one is younger
/// than `minimumAgeMs` (20 min) — not even when APNs calls it expired — which makes
/// TooManyProviderTokenUpdates impossible by construction. Time comes from the injected clock.
package final class APNsTokenSigner: Sendable {
    package static let refreshAfterMs: Int64 = 50 * 60_000
    package static let minimumAgeMs: Int64 = 20 * 60_000

    package let teamId: String
    package let keyId: String
    private let key: P256.Signing.PrivateKey
    private let clock: any PushClock
    /// The current token with its `authorization` value, both built once per signature.
    private let current = Mutex<Bearer?>(nil)
    private let signed = Atomic<Int>(0)

    /// A signed token and the `authorization` header value that carries it.
    ///
    /// The header value is built and checked for HTTP/2 when the token is signed, not per
    /// request: a token lives 50 minutes, so concatenating `"bearer " + token` (~200 bytes) and
    /// validating it on every attempt only cost time. Safe to cache because all of it comes from
    /// the same signature: a re-sign (age or ExpiredProviderToken) replaces the whole value, so
    /// no request carries a header of an older token.
    package struct Bearer: Sendable {
        package var token: String
        package var authorization: String
        /// `authorization` checked once for HTTP/2 (nil if it were invalid: then it goes out as
        /// a plain header and its request fails the per-request check).
        package var checkedAuthorization: HTTP2CheckedField?
        var issuedAt: EventTime

        init(token: String, issuedAt: EventTime) {
            self.token = token
            authorization = "bearer " + token
            checkedAuthorization = HTTP2CheckedField(name: "authorization", value: authorization)
            self.issuedAt = issuedAt
        }
    }

    package init(key: AppleTokenKey, clock: any PushClock) throws(SenderConfigError) {
        let pem: String
        do {
            pem = try String(contentsOfFile: key.path, encoding: .utf8)
        } catch {
            throw SenderConfigError(key: "apple-token-keys", value: "\(key.teamId):\(key.keyId):\(key.path)", problem: "cannot read the .p8 file: \(error.localizedDescription)")
        }
        do {
            self.key = try P256.Signing.PrivateKey(pemRepresentation: pem)
        } catch {
            throw SenderConfigError(key: "apple-token-keys", value: "\(key.teamId):\(key.keyId):\(key.path)", problem: "not a P-256 private key in PEM (PKCS#8): \(error)")
        }
        teamId = key.teamId
        keyId = key.keyId
        self.clock = clock
    }

    /// Tokens signed so far (tests assert the refresh rule).
    package var signedCount: Int { signed.load(ordering: .relaxed) }

    /// The cached token, re-signed once it is 50 minutes old.
    package func token() -> String { bearer().token }

    /// The cached token and its header value, re-signed once the token is 50 minutes old.
    package func bearer() -> Bearer {
        let now = clock.now()
        return current.withLock { c in
            if let c, now.millisecondsSince1970 - c.issuedAt.millisecondsSince1970 < Self.refreshAfterMs {
                return c
            }
            let b = Bearer(token: sign(now), issuedAt: now)
            c = b
            return b
        }
    }

    /// APNs said `rejected` is expired. Re-signs if that token is at least 20 minutes old (or
    /// was already replaced) and returns true; false means a new token is not allowed yet.
    package func refresh(rejected: String) -> Bool {
        let now = clock.now()
        return current.withLock { c in
            guard let existing = c else { return true }
            if existing.token != rejected { return true }
            guard now.millisecondsSince1970 - existing.issuedAt.millisecondsSince1970 >= Self.minimumAgeMs else { return false }
            c = Bearer(token: sign(now), issuedAt: now)
            return true
        }
    }

    private func sign(_ now: EventTime) -> String {
        let input = JWT.signingInput(
            header: [("alg", .string("ES256")), ("kid", .string(keyId))],
            claims: [("iss", .string(teamId)), ("iat", .int(now.millisecondsSince1970 / 1000))])
        // ES256 signature: raw r‖s (64 bytes), not DER.
        let signature = (try? key.signature(for: Data(input.utf8)).rawRepresentation) ?? Data()
        signed.add(1, ordering: .relaxed)
        return input + "." + JWT.base64URL(signature)
    }
}
