import NIOCore
import PushContract

/// One request in flight on a connection.
///
/// `@unchecked Sendable`: created by the caller, published to the event loop through the
/// connection's lock, and from then on read and mutated only on that event loop (completion,
/// timers and cancellation all hop there), so no two threads ever touch it at once.
final class HTTP2Stream: @unchecked Sendable {
    /// Given by nghttp2 when the request is submitted on the event loop (0 until then).
    var streamID: Int32 = 0
    let request: HTTP2Request
    let deadline: EventTime
    /// Non-nil until the stream completes; resumed exactly once, on the event loop.
    var continuation: UnsafeContinuation<Result<HTTP2Response, TransportError>, Never>?
    var status: Int?
    /// True while the headers of a 1xx interim answer arrive: they are dropped.
    var inInterimHeaders = false
    var headers = HTTP2ResponseFields()
    var body: [UInt8] = []
    /// Request body bytes already handed to nghttp2.
    var bodySent = 0
    var written = false
    /// `deadline` on the event loop's clock, set when the stream is written (the handler's one
    /// deadline timer compares these, so virtual time of a test loop drives them too).
    var loopDeadline = NIODeadline.distantFuture

    init(request: HTTP2Request, deadline: EventTime) {
        self.request = request
        self.deadline = deadline
    }

    var isPending: Bool { continuation != nil }

    /// Resumes the caller; later calls do nothing.
    func complete(_ result: Result<HTTP2Response, TransportError>) {
        guard let c = continuation else { return }
        continuation = nil
        c.resume(returning: result)
    }
}
