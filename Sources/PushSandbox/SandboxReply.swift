/// One scripted answer of a sandbox server.
///
/// Scripts are per device token (APNs: the path's token; FCM: `message.token`; generic: the whole
/// path), consumed in order; when a token's script is empty the server answers `.ok`. Faults are
/// real protocol behaviour so that senders meet them exactly as they would in production.
public indirect enum SandboxReply: Sendable, Hashable {
    case ok
    /// APNs body `{"reason":R}`; FCM body `{"error":{"code":N,"status":R,"message":...}}`.
    case status(Int, reason: String?)
    /// APNs 410 `{"reason":"Unregistered","timestamp":ms}`; FCM 404 `UNREGISTERED`.
    case unregistered(timestamp: Int64)
    /// APNs 400 `BadDeviceToken`; FCM 400 `INVALID_ARGUMENT` naming `message.token`.
    case badDeviceToken
    /// 429, with `retry-after` seconds when given.
    case tooManyRequests(retryAfter: Int?)
    /// 500.
    case internalError
    /// 503, with `retry-after` seconds when given.
    case unavailable(retryAfter: Int?)
    /// Answer `then` after a delay scheduled on the connection's event loop.
    case slow(milliseconds: Int, then: SandboxReply)
    /// Never answer this stream (the client's deadline must fire).
    case hang
    /// Send the head of `then`'s answer (status, headers, a non-zero content-length), then
    /// never its body: a client whose deadline covers only the head would wait forever.
    case stallBody(then: SandboxReply)
    /// 302 with `location` (a client must not follow it to a cleartext or foreign host).
    case redirect(location: String)
    /// RST_STREAM on HTTP/2; close the connection on HTTP/1.1.
    case reset
    /// GOAWAY(NO_ERROR, last stream before this one), then close the connection.
    case goAway
}
