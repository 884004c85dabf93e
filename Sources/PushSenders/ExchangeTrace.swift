import PushContract
import Synchronization

/// Which credential a push goes out with, and why that one (`pushfleet push` prints it).
package enum SenderCredential: Sendable, Hashable {
    /// An `apple-certificate-dir` file, named `<apns-topic>.<dev|prod>.pem` after the device.
    case apnsCertificate(APNsCertificateInfo)
    /// A `.p8` key of `apple-token-keys`, for the team of `pn-param` (no certificate file).
    case apnsToken(teamId: String, keyId: String)
    /// A `firebase-service-accounts` file (FCM v1, OAuth bearer).
    case firebaseServiceAccount(project: String, projectId: String, clientEmail: String)
    /// A `firebase-projects-api-keys` server key (FCM legacy).
    case firebaseServerKey(project: String)
    /// `external-push-uri`, which replaces every other sender.
    case generic
}

/// What `pushfleet push` shows of an APNs client certificate.
package struct APNsCertificateInfo: Sendable, Hashable {
    /// File name minus `.pem`.
    package var name: String
    package var path: String
    package var notAfter: EventTime
    /// `UID=…, CN=Apple Push Services: …` as the certificate says it.
    package var subject: String
    /// The subject's UID: the bundle id the certificate may push to (plus `.voip`, `.complication`).
    package var topic: String?
}

/// What one push put on the wire and what came back, for `pushfleet push` (Flexisip's
/// `flexisip_pusher --debug`). A sender given a trace records every attempt; the worker
/// passes none and pays nothing.
///
/// - Important: secrets never enter the trace: `authorization` values are redacted when they
///   are recorded (a provider JWT keeps its header, whose `kid` names the key), and generic
///   URLs arrive with their `$api-key` values already replaced.
package final class ExchangeTrace: Sendable {
    package struct Request: Sendable {
        package var method: String
        /// `scheme://authority/path?query`.
        package var url: String
        /// As sent, `authorization` redacted.
        package var headers: [(name: String, value: String)]
        package var body: [UInt8]
    }

    package struct Response: Sendable {
        package var status: Int
        package var headers: [(name: String, value: String)]
        package var body: [UInt8]
    }

    package struct Attempt: Sendable {
        package var request: Request
        /// Nil when no answer came (the transport failure is the outcome's reason).
        package var response: Response?
    }

    private struct State {
        var credential: SenderCredential?
        var attempts: [Attempt] = []
    }

    private let state = Mutex(State())

    package init() {}

    package var credential: SenderCredential? { state.withLock { $0.credential } }
    package var attempts: [Attempt] { state.withLock { $0.attempts } }

    func chose(_ credential: SenderCredential) {
        state.withLock { $0.credential = credential }
    }

    func sent(method: String, url: String, headers: [(name: String, value: String)], body: [UInt8]) {
        let shown = headers.map { h in (name: h.name, value: h.name.lowercased() == "authorization" ? Self.redacted(authorization: h.value) : h.value) }
        state.withLock { $0.attempts.append(Attempt(request: Request(method: method, url: url, headers: shown, body: body))) }
    }

    func received(_ response: HTTP2Response) {
        received(status: response.status, headers: response.headers, body: response.body)
    }

    func received(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        state.withLock { s in
            guard !s.attempts.isEmpty else { return }
            s.attempts[s.attempts.count - 1].response = Response(status: status, headers: headers, body: body)
        }
    }

    /// `bearer <redacted>` (with a JWT's header, which names the key and holds no secret),
    /// `key=<redacted>`, or `<redacted>`.
    package static func redacted(authorization value: String) -> String {
        let parts = value.split(separator: " ", maxSplits: 1)
        if parts.count == 2, parts[0].lowercased() == "bearer" {
            let token = parts[1]
            let header = token.split(separator: ".", omittingEmptySubsequences: false)
            if header.count == 3, let json = JWT.decodedBase64URL(header[0]), json.hasPrefix("{") {
                return "\(parts[0]) <redacted JWT, header \(json)>"
            }
            return "\(parts[0]) <redacted>"
        }
        if value.hasPrefix("key=") { return "key=<redacted>" }
        return "<redacted>"
    }
}
