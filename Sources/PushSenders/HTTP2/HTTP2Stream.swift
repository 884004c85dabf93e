import NIOCore
import NIOHTTP2
import PushContract

/// One request in flight on a connection.
///
/// `@unchecked Sendable`: created by the caller, published to the event loop through the
/// connection's lock, and from then on read and mutated only on that event loop (completion,
/// timers and cancellation all hop there), so no two threads ever touch it at once.
final class HTTP2Stream: @unchecked Sendable {
    /// Assigned under the connection's lock in the same step that queues the stream, so ids
    /// reach the wire in increasing order (HTTP/2 refuses a smaller new id).
    var streamID: HTTP2StreamID
    let request: HTTP2Request
    let deadline: EventTime
    /// Non-nil until the stream completes; resumed exactly once, on the event loop.
    var continuation: UnsafeContinuation<Result<HTTP2Response, TransportError>, Never>?
    var status: Int?
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    var written = false
    var timer: Scheduled<Void>?
    var sleeper: Task<Void, Never>?

    init(request: HTTP2Request, deadline: EventTime) {
        self.streamID = .rootStream
        self.request = request
        self.deadline = deadline
    }

    var isPending: Bool { continuation != nil }

    /// Resumes the caller and disarms the timer; later calls do nothing.
    func complete(_ result: Result<HTTP2Response, TransportError>) {
        guard let c = continuation else { return }
        continuation = nil
        timer?.cancel()
        timer = nil
        sleeper?.cancel()
        sleeper = nil
        c.resume(returning: result)
    }
}
