import PushContract
import Testing
@testable import PushSenders

@Suite struct ProviderAnswersTests {
    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var response: HTTP2Response
        var action: AttemptVerdict.Action
        var reason: String?
        var description: String { name }
    }

    static let apnsRows: [Row] = [
        Row(name: "200", response: response(200), action: .sent, reason: nil),
        Row(name: "BadDeviceToken", response: response(400, #"{"reason":"BadDeviceToken"}"#), action: .invalidToken(since: nil), reason: "BadDeviceToken"),
        Row(name: "DeviceTokenNotForTopic", response: response(400, #"{"reason":"DeviceTokenNotForTopic"}"#), action: .invalidToken(since: nil), reason: "DeviceTokenNotForTopic"),
        Row(name: "410", response: response(410, #"{"reason":"Unregistered","timestamp":1700000000123}"#),
            action: .invalidToken(since: EventTime(millisecondsSince1970: 1_700_000_000_123)), reason: "Unregistered"),
        Row(name: "BadPayload", response: response(400, #"{"reason":"BadPayload"}"#), action: .failed, reason: "BadPayload"),
        Row(name: "429", response: response(429, #"{"reason":"TooManyRequests"}"#, headers: [(name: "retry-after", value: "3")]),
            action: .retry(minimumMs: 3000, immediate: false), reason: "TooManyRequests"),
        Row(name: "500", response: response(500, #"{"reason":"InternalServerError"}"#), action: .retry(minimumMs: 0, immediate: false), reason: "InternalServerError"),
        Row(name: "503", response: response(503, #"{"reason":"ServiceUnavailable"}"#, headers: [(name: "retry-after", value: "9")]),
            action: .retry(minimumMs: 9000, immediate: false), reason: "ServiceUnavailable"),
        Row(name: "ExpiredProviderToken", response: response(403, #"{"reason":"ExpiredProviderToken"}"#), action: .reauthenticate, reason: "ExpiredProviderToken"),
        Row(name: "BadCertificate", response: response(403, #"{"reason":"BadCertificate"}"#), action: .failed, reason: "BadCertificate"),
        Row(name: "413 no body", response: response(413), action: .failed, reason: "HTTP 413"),
    ]

    @Test(arguments: apnsRows)
    func apns(_ row: Row) {
        let v = ProviderAnswers.apns(row.response)
        #expect(v.action == row.action)
        #expect(v.reason == row.reason)
        #expect(v.status == row.response.status)
    }

    static func fcmError(_ code: Int, _ status: String, errorCode: String? = nil, field: String? = nil, message: String = "m") -> String {
        var details: [String] = []
        if let errorCode { details.append(#"{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"\#(errorCode)"}"#) }
        if let field { details.append(#"{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"\#(field)","description":"bad"}]}"#) }
        return #"{"error":{"code":\#(code),"message":"\#(message)","status":"\#(status)","details":[\#(details.joined(separator: ","))]}}"#
    }

    static let fcmRows: [Row] = [
        Row(name: "200", response: response(200, #"{"name":"projects/p/messages/1"}"#), action: .sent, reason: nil),
        Row(name: "404 UNREGISTERED", response: response(404, fcmError(404, "NOT_FOUND", errorCode: "UNREGISTERED")), action: .invalidToken(since: nil), reason: "UNREGISTERED"),
        Row(name: "400 token", response: response(400, fcmError(400, "INVALID_ARGUMENT", errorCode: "INVALID_ARGUMENT", field: "message.token", message: "bad")),
            action: .invalidToken(since: nil), reason: "INVALID_ARGUMENT: bad"),
        Row(name: "400 other field", response: response(400, fcmError(400, "INVALID_ARGUMENT", errorCode: "INVALID_ARGUMENT", field: "message.android.ttl", message: "ttl")),
            action: .failed, reason: "INVALID_ARGUMENT: ttl"),
        Row(name: "429 no retry-after", response: response(429, fcmError(429, "RESOURCE_EXHAUSTED", errorCode: "QUOTA_EXCEEDED")),
            action: .retry(minimumMs: 60_000, immediate: false), reason: "QUOTA_EXCEEDED"),
        Row(name: "429 long retry-after", response: response(429, "", headers: [(name: "retry-after", value: "120")]),
            action: .retry(minimumMs: 120_000, immediate: false), reason: "HTTP 429"),
        Row(name: "500", response: response(500, fcmError(500, "INTERNAL", errorCode: "INTERNAL")), action: .retry(minimumMs: 0, immediate: false), reason: "INTERNAL"),
        Row(name: "503", response: response(503, fcmError(503, "UNAVAILABLE", errorCode: "UNAVAILABLE")), action: .retry(minimumMs: 0, immediate: false), reason: "UNAVAILABLE"),
        Row(name: "401", response: response(401, fcmError(401, "UNAUTHENTICATED")), action: .reauthenticate, reason: "UNAUTHENTICATED"),
        Row(name: "403", response: response(403, fcmError(403, "PERMISSION_DENIED", errorCode: "SENDER_ID_MISMATCH")), action: .failed, reason: "SENDER_ID_MISMATCH"),
    ]

    @Test(arguments: fcmRows)
    func fcm(_ row: Row) {
        let v = ProviderAnswers.fcm(row.response, tooManyRequestsMinimumMs: 60_000)
        #expect(v.action == row.action)
        #expect(v.reason == row.reason)
    }

    @Test func fcmLegacyResults() {
        #expect(ProviderAnswers.fcmLegacy(response(200, #"{"success":1,"failure":0,"results":[{"message_id":"1"}]}"#), tooManyRequestsMinimumMs: 60_000).action == .sent)
        let gone = ProviderAnswers.fcmLegacy(response(200, #"{"success":0,"failure":1,"results":[{"error":"NotRegistered"}]}"#), tooManyRequestsMinimumMs: 60_000)
        #expect(gone.action == .invalidToken(since: nil))
        #expect(gone.reason == "NotRegistered")
        #expect(ProviderAnswers.fcmLegacy(response(200, #"{"results":[{"error":"Unavailable"}]}"#), tooManyRequestsMinimumMs: 60_000).action
            == .retry(minimumMs: 0, immediate: false))
        let key = ProviderAnswers.fcmLegacy(response(401), tooManyRequestsMinimumMs: 60_000)
        #expect(key.action == .failed)
        #expect(key.health == .failing("server key refused"))
    }

    @Test func genericStatuses() {
        #expect(ProviderAnswers.generic(status: 204, retryAfter: nil, body: []).action == .sent)
        #expect(ProviderAnswers.generic(status: 503, retryAfter: "2", body: []).action == .retry(minimumMs: 2000, immediate: false))
        let v = ProviderAnswers.generic(status: 404, retryAfter: nil, body: Array("no such user".utf8))
        #expect(v.action == .failed)
        #expect(v.reason == "HTTP 404: no such user")
    }

    @Test func transportErrors() {
        #expect(AttemptVerdict.transport(TransportError(.untrusted, "TLS certificate refused: x")).action == .failed)
        // EOF in a handshake heals: retried with backoff, and it does say the destination is failing.
        let tls = AttemptVerdict.transport(TransportError(.tls, "TLS handshake failed: EOF during handshake"))
        #expect(tls.action == .retry(minimumMs: 0, immediate: false))
        #expect(tls.health == .failing("TLS handshake failed: EOF during handshake"))
        let wait = AttemptVerdict.transport(TransportError(.reconnectWait, "waiting to reconnect", unprocessed: true))
        #expect(!wait.isAttempt)
        #expect(wait.requests == 0)
        #expect(wait.health == .unknown)
        // Written and unanswered: may have been processed, a retry may duplicate it.
        for lost in [TransportError(.timeout, "t"), TransportError(.reset, "r"), TransportError(.closed, "c")] {
            let v = AttemptVerdict.transport(lost)
            #expect(v.requests == 1 && v.ambiguous && v.isAttempt, "\(lost)")
        }
        for safe in [TransportError(.closed, "c", unprocessed: true), TransportError(.connect, "c", unprocessed: true),
                     TransportError(.goAway, "g", unprocessed: true), TransportError(.cancelled, "c")] {
            let v = AttemptVerdict.transport(safe)
            #expect(!v.ambiguous, "\(safe)")
        }
        #expect(AttemptVerdict.transport(TransportError(.connect, "c", unprocessed: true)).requests == 0)
        #expect(AttemptVerdict.transport(TransportError(.goAway, "g", unprocessed: true)).action == .retry(minimumMs: 0, immediate: true))
        #expect(AttemptVerdict.transport(TransportError(.timeout, "t")).action == .retry(minimumMs: 0, immediate: false))
        #expect(AttemptVerdict.transport(TransportError(.closed, "c", unprocessed: true)).action == .retry(minimumMs: 0, immediate: true))
        #expect(AttemptVerdict.transport(TransportError(.connect, "c", unprocessed: true)).action == .retry(minimumMs: 0, immediate: false))
        #expect(AttemptVerdict.transport(TransportError(.cancelled, "c")).action == .failed)
    }

    @Test func hostileBodiesAreJustReasons() {
        for body in ["", "{", "[1,2]", #"{"reason":5}"#, String(repeating: "[", count: 10_000)] {
            let v = ProviderAnswers.apns(response(400, body))
            #expect(v.action == .failed)
            #expect(v.reason == "HTTP 400")
        }
    }
}

/// The `reason` label of `pushfleet_provider_errors_total`, from the verdicts the parsers return.
@Suite struct ProviderReasonLabelTests {
    @Test("APNs: the documented reason, or other (BadPayload is not one, a body-less 413 has none)")
    func apns() {
        let label = { (status: Int, body: String?) in
            ProviderReasons.label(ProviderReasons.apns, reason: ProviderAnswers.apns(response(status, body ?? "")).reason)
        }
        #expect(label(400, #"{"reason":"BadDeviceToken"}"#) == "BadDeviceToken")
        #expect(label(429, #"{"reason":"TooManyRequests"}"#) == "TooManyRequests")
        #expect(label(410, #"{"reason":"Unregistered","timestamp":1}"#) == "Unregistered")
        #expect(label(400, #"{"reason":"BadPayload"}"#) == "other")
        #expect(label(413, nil) == "other")
        #expect(label(400, #"{"reason":"\u0000\u0001 evil series"}"#) == "other", "a provider cannot make up label values")
    }

    @Test("FCM v1: the error code before any detail")
    func fcm() {
        let label = { (status: Int, body: String) in
            ProviderReasons.label(ProviderReasons.fcm, reason: ProviderAnswers.fcm(response(status, body), tooManyRequestsMinimumMs: 0).reason)
        }
        #expect(label(404, #"{"error":{"code":404,"status":"NOT_FOUND","details":[{"errorCode":"UNREGISTERED"}]}}"#) == "UNREGISTERED")
        #expect(label(400, #"{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"The registration token is not a valid FCM registration token","details":[{"fieldViolations":[{"field":"message.token"}]}]}}"#) == "INVALID_ARGUMENT")
        #expect(label(429, #"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"errorCode":"QUOTA_EXCEEDED"}]}}"#) == "QUOTA_EXCEEDED")
    }
}
