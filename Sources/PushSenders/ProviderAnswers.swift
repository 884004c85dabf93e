import Foundation
import PushContract

/// Reads provider answers into verdicts. Error bodies are parsed with Foundation: they are rare
/// and small, success answers are never parsed.
package enum ProviderAnswers {
    /// APNs: `{"reason":R}` plus `timestamp` (ms) on 410.
    package static func apns(_ r: HTTP2Response) -> AttemptVerdict {
        if r.status == 200 { return AttemptVerdict(.sent, status: 200, health: .healthy) }
        let json = object(r.body)
        let reason = json?["reason"] as? String
        let text = reason ?? "HTTP \(r.status)"
        switch (r.status, reason) {
        case (400, "BadDeviceToken"), (400, "DeviceTokenNotForTopic"):
            return AttemptVerdict(.invalidToken(since: nil), status: r.status, reason: text, health: .healthy)
        case (410, _):
            let since = (json?["timestamp"] as? NSNumber).map { EventTime(millisecondsSince1970: $0.int64Value) }
            return AttemptVerdict(.invalidToken(since: since), status: 410, reason: reason ?? "Unregistered", health: .healthy)
        case (403, "ExpiredProviderToken"):
            return AttemptVerdict(.reauthenticate, status: 403, reason: text, health: .unknown)
        case (403, _):
            // Certificate or signing key refused: every push on this credential will fail.
            return AttemptVerdict(.failed, status: 403, reason: text, health: .failing(text))
        case (429, _):
            return AttemptVerdict(.retry(minimumMs: Backoff.retryAfterMs(r.header("retry-after")) ?? 0, immediate: false),
                                  status: 429, reason: text, health: .unknown)
        case (500, _), (503, _):
            return AttemptVerdict(.retry(minimumMs: Backoff.retryAfterMs(r.header("retry-after")) ?? 0, immediate: false),
                                  status: r.status, reason: text, health: .failing(text))
        default:
            return AttemptVerdict(.failed, status: r.status, reason: text, health: .healthy)
        }
    }

    /// FCM v1: `{"error":{"code","status","message","details":[{"errorCode"}, {"fieldViolations"}]}}`.
    package static func fcm(_ r: HTTP2Response, tooManyRequestsMinimumMs: Int64) -> AttemptVerdict {
        if r.status == 200 { return AttemptVerdict(.sent, status: 200, health: .healthy) }
        let error = object(r.body)?["error"] as? [String: Any]
        let status = error?["status"] as? String
        let details = error?["details"] as? [[String: Any]] ?? []
        let errorCode = details.lazy.compactMap { $0["errorCode"] as? String }.first
        let message = error?["message"] as? String ?? ""
        let text = errorCode ?? status ?? "HTTP \(r.status)"
        let fields = details.flatMap { ($0["fieldViolations"] as? [[String: Any]] ?? []).compactMap { $0["field"] as? String } }
        let namesToken = fields.contains("message.token") || message.contains("registration token") || message.contains("message.token")
        let retryAfter = Backoff.retryAfterMs(r.header("retry-after")) ?? 0
        switch r.status {
        case 404 where text == "UNREGISTERED" || status == "NOT_FOUND":
            return AttemptVerdict(.invalidToken(since: nil), status: 404, reason: "UNREGISTERED", health: .healthy)
        case 400 where (text == "INVALID_ARGUMENT" || status == "INVALID_ARGUMENT") && namesToken:
            return AttemptVerdict(.invalidToken(since: nil), status: 400, reason: message.isEmpty ? text : "\(text): \(message)", health: .healthy)
        case 429:
            return AttemptVerdict(.retry(minimumMs: max(retryAfter, tooManyRequestsMinimumMs), immediate: false),
                                  status: 429, reason: text, health: .unknown)
        case 500, 503:
            return AttemptVerdict(.retry(minimumMs: retryAfter, immediate: false), status: r.status, reason: text, health: .failing(text))
        case 401:
            return AttemptVerdict(.reauthenticate, status: 401, reason: text, health: .unknown)
        case 403:
            return AttemptVerdict(.failed, status: 403, reason: text, health: .failing(text))
        default:
            return AttemptVerdict(.failed, status: r.status, reason: message.isEmpty ? text : "\(text): \(message)", health: .healthy)
        }
    }

    /// FCM legacy: HTTP 200 can still carry `results[0].error` (`NotRegistered`, …).
    package static func fcmLegacy(_ r: HTTP2Response, tooManyRequestsMinimumMs: Int64) -> AttemptVerdict {
        guard r.status == 200 else {
            if r.status == 401 {
                return AttemptVerdict(.failed, status: 401, reason: "server key refused", health: .failing("server key refused"))
            }
            return fcm(r, tooManyRequestsMinimumMs: tooManyRequestsMinimumMs)
        }
        let results = object(r.body)?["results"] as? [[String: Any]]
        guard let error = results?.first?["error"] as? String else {
            return AttemptVerdict(.sent, status: 200, health: .healthy)
        }
        switch error {
        case "NotRegistered", "InvalidRegistration", "MismatchSenderId":
            return AttemptVerdict(.invalidToken(since: nil), status: 200, reason: error, health: .healthy)
        case "Unavailable", "InternalServerError":
            return AttemptVerdict(.retry(minimumMs: Backoff.retryAfterMs(r.header("retry-after")) ?? 0, immediate: false),
                                  status: 200, reason: error, health: .failing(error))
        default:
            return AttemptVerdict(.failed, status: 200, reason: error, health: .healthy)
        }
    }

    /// Generic gateways: 2xx is success (Flexisip accepted 200 only); 429/500/503 retried.
    package static func generic(status: Int, retryAfter: String?, body: [UInt8], location: String? = nil) -> AttemptVerdict {
        switch status {
        case 200..<300:
            return AttemptVerdict(.sent, status: status, health: .healthy)
        case 300..<400:
            // Never followed: a redirect could lead the push (and its URL's secrets) to cleartext or another host.
            let target = location.map { " to " + String($0.prefix(200)) } ?? ""
            return AttemptVerdict(.failed, status: status, reason: "HTTP \(status) redirect\(target) not followed", health: .failing("HTTP \(status)"))
        case 429:
            return AttemptVerdict(.retry(minimumMs: Backoff.retryAfterMs(retryAfter) ?? 0, immediate: false), status: status,
                                  reason: "HTTP 429", health: .unknown)
        case 500, 502, 503, 504:
            return AttemptVerdict(.retry(minimumMs: Backoff.retryAfterMs(retryAfter) ?? 0, immediate: false), status: status,
                                  reason: "HTTP \(status)", health: .failing("HTTP \(status)"))
        default:
            let snippet = String(decoding: body.prefix(200), as: UTF8.self)
            return AttemptVerdict(.failed, status: status, reason: snippet.isEmpty ? "HTTP \(status)" : "HTTP \(status): \(snippet)", health: .healthy)
        }
    }

    static func object(_ body: [UInt8]) -> [String: Any]? {
        guard !body.isEmpty, body.count < maxResponseBodyBytes else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }
}
