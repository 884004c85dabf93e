import CNGHTTP2
import NIOCore
import NIOSSL
import NIOTLS
import PushContract

/// Drives one HTTP/2 client connection with libnghttp2 as the protocol engine under NIO's TCP
/// and TLS: decrypted bytes go into `nghttp2_session_mem_recv`, and what `nghttp2_session_mem_send`
/// produces leaves as one `ByteBuffer` per flush. A request is a dictionary entry and one
/// `nghttp2_submit_request`; its answer completes a continuation.
///
/// Why nghttp2 and not swift-nio-http2: measured with `pushfleet-bench --senders-only` (2 cores
/// shared with other builds, loopback TLS, one connection, 100 streams, `nghttpd`, release
/// build, `h2load` against the same server in each run). swift-nio-http2 at frame level (no
/// child channels) reached ~23k requests/s, 0.12× of h2load (~194k/s), its time spread over its
/// state machine, header validation and ARC traffic. With nghttp2 (the engine of h2load itself:
/// HPACK, stream states, flow control, the peer's concurrent-stream limit, which it queues for
/// us), two sets of 3 runs gave this transport median rates of 103k and 120k requests/s with
/// median per-run ratios of 0.63× and 0.82× (h2load medians 161k and 152k; every run ≥ 0.58×),
/// the whole generic sender 73k and 86k/s (0.48×, 0.58×), and p50 0.21 ms / p99 0.49 ms at a
/// fixed 5,000 pushes/s. The rest is NIOSSL, the thread hop to Swift tasks and the sender. There is one
/// transport: keeping both would double the failure paths to test for no gain. Latest figures:
/// `bench/README.md`.
///
/// nghttp2 never sees a socket, and every call into it happens on the channel's event loop, so
/// there is no lock on the hot path. Callbacks run inside `mem_recv`/`mem_send` and only record
/// results; closing the channel happens after those calls return, never from a callback.
///
/// Time: every timer of the handler (stream deadlines, PING liveness) is an event-loop timer at
/// a `NIODeadline` of the loop's own clock (`EventLoop.now`), and "now" is always read from that
/// loop. Why: one timing path for production and tests. A socket loop's `now` is the monotonic
/// clock; an `EmbeddedEventLoop`/`NIOAsyncTestingEventLoop` has virtual time, so its
/// `advanceTime(by:)` fires exactly these timers (`HTTP2StreamsHandlerTests`), with no sleeping
/// task per stream and no special case for a test clock. A stream's deadline is an `EventTime`
/// of the push clock; it is read once, when the stream is written, as the time left on the push
/// clock, and from then on lives on the loop (`HTTP2Stream.loopDeadline`). The push clock says
/// how much time a request has; the loop measures it, so a wall-clock step after the write no
/// longer moves a deadline.
///
/// - Important: every method runs on the channel's event loop.
final class HTTP2StreamsHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Receive windows we announce: responses are small but many, so the connection window is
    /// opened wide once and nghttp2 refills both as bytes are consumed.
    static let streamWindow: UInt32 = 1 << 20
    static let connectionWindow: Int32 = 1 << 24
    /// Response header fields kept per stream; a server sending more is hostile or broken.
    static let maxResponseHeaders = 64

    /// The `nghttp2_session *`; nil only if nghttp2 could not allocate one.
    private var session: OpaquePointer?
    private var streams: [Int32: HTTP2Stream] = [:]
    private var context: ChannelHandlerContext?
    private let headerBlock: NGHTTP2HeaderBlock
    private let expectsTLS: Bool
    private let ready: EventLoopPromise<Void>
    /// The connection preface and our SETTINGS are out.
    private var started = false
    /// Ready (server SETTINGS in), draining (GOAWAY, retired), closed; liveness (PING).
    private var state: HTTP2ConnectionState
    /// `context.close` was called (the I/O side of closing; `state` says why).
    private var closeRequested = false
    /// One event-loop timer for the next liveness check (idle PING or overdue acknowledgement).
    private var livenessTimer: Scheduled<Void>?
    private var livenessTimerAt = Int64.max
    private var answered = false
    /// Bytes arrived since the last `channelReadComplete`, which then records the activity.
    private var readSinceComplete = false
    private let signals: HTTP2ConnectionSignals
    /// Read once per written batch, to turn each stream's `EventTime` deadline into time left.
    private let clock: any PushClock
    /// One event-loop timer per connection, for the earliest stream deadline (see `sweep`).
    private var deadlineTimer: Scheduled<Void>?
    private var deadlineTimerAt = NIODeadline.distantFuture
    /// Called on GOAWAY and close, so the pool stops handing out this connection.
    private let onUnusable: @Sendable (TransportError) -> Void

    init(scheme: String, authority: String, expectsTLS: Bool, clock: any PushClock, ready: EventLoopPromise<Void>,
         liveness: (idlePingMs: Int64, pingTimeoutMs: Int64), signals: HTTP2ConnectionSignals,
         onUnusable: @escaping @Sendable (TransportError) -> Void) {
        self.headerBlock = NGHTTP2HeaderBlock(scheme: scheme, authority: authority)
        // The loop's time is unknown before `handlerAdded`; no liveness timer runs before the
        // server's SETTINGS, which set the first activity time.
        self.state = HTTP2ConnectionState(nowMs: 0, idlePingMs: liveness.idlePingMs, pingTimeoutMs: liveness.pingTimeoutMs)
        self.signals = signals
        self.clock = clock
        self.expectsTLS = expectsTLS
        self.ready = ready
        self.onUnusable = onUnusable
    }

    deinit {
        if let session { nghttp2_session_del(session) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        session = Self.makeSession(userData: Unmanaged.passUnretained(self).toOpaque())
        if !expectsTLS, context.channel.isActive { start(context) }
    }

    private static func makeSession(userData: UnsafeMutableRawPointer) -> OpaquePointer? {
        guard let callbacks = NGHTTP2Callbacks.make() else { return nil }
        defer { nghttp2_session_callbacks_del(callbacks) }
        var option: OpaquePointer?
        guard nghttp2_option_new(&option) == 0 else { return nil }
        defer { nghttp2_option_del(option) }
        // Until the server's SETTINGS arrive (we wait for them anyway), assume RFC 9113's floor.
        nghttp2_option_set_peer_max_concurrent_streams(option, 100)
        var session: OpaquePointer?
        guard nghttp2_session_client_new2(&session, callbacks, userData, option) == 0 else { return nil }
        return session
    }

    func channelActive(context: ChannelHandlerContext) {
        if !expectsTLS { start(context) }
        context.fireChannelActive()
    }

    /// Sends the preface, our SETTINGS and the connection window; readiness waits for the
    /// server's SETTINGS, so the first burst already respects its stream limit.
    private func start(_ context: ChannelHandlerContext) {
        guard !started else { return }
        started = true
        guard let session else {
            fail(TransportError(.protocolViolation, "nghttp2 could not create a session"), context: context)
            requestClose(context)
            return
        }
        let settings = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: Self.streamWindow),
        ]
        nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), settings, settings.count)
        nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Self.connectionWindow)
        flush(context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let tls = event as? TLSUserEvent, case .handshakeCompleted(let proto) = tls {
            if proto == "h2" {
                start(context)
            } else {
                fail(TransportError(.protocolViolation, "server did not negotiate HTTP/2 (ALPN: \(proto ?? "none"))"), context: context)
                requestClose(context)
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    // MARK: Requests

    /// Submits a batch of new streams and writes all their frames with a single flush.
    func write(_ batch: [HTTP2Stream]) {
        guard let context, let session, state.isStarted else {
            let e = state.closingError.map { TransportError($0.kind, $0.message, unprocessed: true) } ?? TransportError(.closed, "connection closed", unprocessed: true)
            batch.forEach { $0.complete(.failure(e)) }
            return
        }
        // Two clock reads per batch, none per stream: the push clock gives each request its time
        // left, the loop's clock (monotonic on a socket's loop) places it. (The second one is
        // paid for in `channelReadComplete`, which reads the clock once per burst of reads.)
        let now = clock.now().millisecondsSince1970
        let loopNow = context.eventLoop.now
        for stream in batch where stream.isPending {
            if let closing = state.closingError {
                stream.complete(.failure(TransportError(closing.kind, closing.message, unprocessed: true)))
                continue
            }
            guard stream.deadline.millisecondsSince1970 > now else {
                stream.complete(.failure(TransportError(.timeout, "deadline passed before the request was written", unprocessed: true)))
                continue
            }
            if let problem = headerBlock.build(stream.request) {
                stream.complete(.failure(TransportError(.protocolViolation, problem, unprocessed: true)))
                continue
            }
            let hasBody = !stream.request.body.isEmpty
            let id = headerBlock.withFields { fields, count -> Int32 in
                guard hasBody else { return nghttp2_submit_request(session, nil, fields, count, nil, nil) }
                var provider = NGHTTP2Callbacks.bodyProvider
                return nghttp2_submit_request(session, nil, fields, count, &provider, nil)
            }
            guard id > 0 else {
                let e = TransportError(.closed, "cannot start a stream: \(Self.libraryError(id))", unprocessed: true)
                if id == NGHTTP2_ERR_STREAM_ID_NOT_AVAILABLE.rawValue {
                    drain(e)
                }
                stream.complete(.failure(e))
                continue
            }
            stream.streamID = id
            streams[id] = stream
            stream.written = true
            stream.loopDeadline = loopNow + .milliseconds(stream.deadline.millisecondsSince1970 - now)
            if stream.loopDeadline < deadlineTimerAt { scheduleSweep(at: stream.loopDeadline, loop: context.eventLoop) }
        }
        flush(context)
        closeIfDone(context)
    }

    /// One timer per connection, for the earliest deadline, instead of one per request: attempt
    /// deadlines mostly grow with submission time, so arming is usually a comparison, and a
    /// stream answered in time costs no timer work at all (a per-request NIO timer was ~10% of
    /// the event loop's time, mostly inserting into and removing from its heap). The timer is
    /// at the deadline itself, on the loop's clock: it fires at that instant, not before.
    private func scheduleSweep(at deadline: NIODeadline, loop: any EventLoop) {
        deadlineTimer?.cancel()
        deadlineTimerAt = deadline
        let handler = NIOLoopBound(self, eventLoop: loop)
        deadlineTimer = loop.scheduleTask(deadline: deadline) { handler.value.sweep() }
    }

    /// Times out every stream whose deadline passed and re-arms for the next one.
    private func sweep() {
        deadlineTimer = nil
        deadlineTimerAt = .distantFuture
        guard let context else { return }
        let now = context.eventLoop.now
        var expired: [HTTP2Stream] = []
        var next = NIODeadline.distantFuture
        for stream in streams.values {
            if stream.loopDeadline <= now { expired.append(stream) } else { next = Swift.min(next, stream.loopDeadline) }
        }
        timeOut(expired)
        if next != .distantFuture { scheduleSweep(at: next, loop: context.eventLoop) }
    }

    private func timeOut(_ expired: [HTTP2Stream]) {
        guard let context, let session else { return }
        var reset = false
        for stream in expired where stream.isPending {
            finish(stream.streamID, .failure(TransportError(.timeout, "no answer before the deadline")))
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.streamID, NGHTTP2_CANCEL.rawValue)
            reset = true
        }
        if reset {
            // Maybe the connection itself is dead: ask now, not after the idle period.
            if state.streamTimedOut(nowMs: Self.milliseconds(context.eventLoop.now)) == .sendPing { sendPing(context) }
            flush(context)
            closeIfDone(context)
        }
    }

    // MARK: Liveness

    /// A time of the event loop's clock in the liveness state's milliseconds: silence is measured
    /// on the loop (monotonic on a socket's loop), whatever the push clock says.
    private static func milliseconds(_ time: NIODeadline) -> Int64 {
        Int64(truncatingIfNeeded: time.uptimeNanoseconds / 1_000_000)
    }

    private func sendPing(_ context: ChannelHandlerContext) {
        guard let session else { return }
        nghttp2_submit_ping(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil)
        armLiveness(context)
    }

    /// Re-arms the one liveness timer when the next check is earlier than the armed one; a
    /// later check (traffic moved the idle point) is found by the earlier timer, which re-arms.
    private func armLiveness(_ context: ChannelHandlerContext) {
        guard let at = state.nextCheckMs, at < livenessTimerAt else { return }
        livenessTimer?.cancel()
        livenessTimerAt = at
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        livenessTimer = context.eventLoop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(Swift.max(0, at)) * 1_000_000)) {
            handler.value.checkLiveness()
        }
    }

    private func checkLiveness() {
        livenessTimer = nil
        livenessTimerAt = .max
        guard let context else { return }
        switch state.tick(nowMs: Self.milliseconds(context.eventLoop.now)) {
        case .none:
            armLiveness(context)
        case .sendPing:
            sendPing(context)
            flush(context)
        case .close(let error):
            signals.presumedDead(error)
            fail(error, context: context)
            requestClose(context)
        }
    }

    /// No new streams; close when the open ones are answered.
    func retire() {
        drain(TransportError(.closed, "connection retired", unprocessed: true))
        if let context { closeIfDone(context) }
    }

    /// The caller's task was cancelled: answer it now and tell the server.
    func cancel(_ stream: HTTP2Stream) {
        guard stream.isPending else { return }
        let written = stream.written
        let error = TransportError(.cancelled, "cancelled", unprocessed: !written)
        finish(stream.streamID, .failure(error))
        stream.complete(.failure(error))
        if written, let context { reset(stream.streamID, context: context) }
    }

    /// RST_STREAM(CANCEL) for a stream we gave up on (nghttp2 drops it if HEADERS never left).
    private func reset(_ id: Int32, context: ChannelHandlerContext) {
        guard let session, id > 0 else { return }
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, NGHTTP2_CANCEL.rawValue)
        flush(context)
        closeIfDone(context)
    }

    private func finish(_ id: Int32, _ result: Result<HTTP2Response, TransportError>) {
        guard let stream = streams.removeValue(forKey: id) else { return }
        stream.complete(result)
    }

    private func complete(_ id: Int32, _ stream: HTTP2Stream) {
        guard let status = stream.status else {
            finish(id, .failure(TransportError(.protocolViolation, "stream ended without a :status")))
            return
        }
        if !answered {
            answered = true
            signals.answered()
        }
        finish(id, .success(HTTP2Response(status: status, fields: stream.headers, body: stream.body)))
    }

    // MARK: Bytes in and out

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let session, !closeRequested else { return }
        readSinceComplete = true
        let buffer = unwrapInboundIn(data)
        let result = buffer.withUnsafeReadableBytes { raw -> Int in
            guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
            return nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        if result < 0 {
            // Fatal for the session (flooding, a callback failure); nghttp2 queued a GOAWAY if it could.
            fail(TransportError(.protocolViolation, "HTTP/2 connection error: \(Self.libraryError(result))"), context: context)
            flush(context)
            requestClose(context)
        }
    }

    /// Everything the reads of this loop tick produced (SETTINGS ACK, WINDOW_UPDATE, RST_STREAM)
    /// leaves in one write. The peer's activity is recorded here, once per burst of reads, not
    /// per read: one clock read per burst pays for the one a written batch costs (`write`).
    func channelReadComplete(context: ChannelHandlerContext) {
        if readSinceComplete {
            readSinceComplete = false
            state.bytesReceived(nowMs: Self.milliseconds(context.eventLoop.now))
        }
        flush(context)
        closeIfDone(context)
        context.fireChannelReadComplete()
    }

    /// Drains `nghttp2_session_mem_send` into one buffer and writes it with one flush.
    private func flush(_ context: ChannelHandlerContext) {
        guard let session, started, !closeRequested else { return }
        var out: ByteBuffer?
        while true {
            var chunk: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &chunk)
            if count < 0 {
                fail(TransportError(.protocolViolation, "HTTP/2 send error: \(Self.libraryError(count))"), context: context)
                requestClose(context)
                return
            }
            guard count > 0, let chunk else { break }
            if out == nil { out = context.channel.allocator.buffer(capacity: Swift.max(count, 16_384)) }
            out!.writeBytes(UnsafeRawBufferPointer(start: chunk, count: count))
        }
        if let out { context.writeAndFlush(wrapOutboundOut(out), promise: nil) }
    }

    /// Closes once nothing is left to do: nghttp2 is finished with the session (after a GOAWAY
    /// either way), or we are closing and the last stream is answered.
    private func closeIfDone(_ context: ChannelHandlerContext) {
        guard started, !closeRequested, let session else { return }
        if nghttp2_session_want_read(session) == 0, nghttp2_session_want_write(session) == 0 {
            fail(state.closingError ?? TransportError(.protocolViolation, "HTTP/2 session ended by a protocol error"), context: context)
            requestClose(context)
        } else if state.closingError != nil, streams.isEmpty {
            requestClose(context)
        }
    }

    private func requestClose(_ context: ChannelHandlerContext) {
        guard !closeRequested else { return }
        closeRequested = true
        livenessTimer?.cancel()
        livenessTimer = nil
        context.close(promise: nil)
    }

    // MARK: nghttp2 callbacks (inside mem_recv / mem_send: record, never close)

    func frameReceived(_ frame: UnsafePointer<nghttp2_frame>) {
        let hd = frame.pointee.hd
        switch UInt32(hd.type) {
        case NGHTTP2_DATA.rawValue, NGHTTP2_HEADERS.rawValue:
            if hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0, let stream = streams[hd.stream_id] {
                complete(hd.stream_id, stream)
            }
        case NGHTTP2_RST_STREAM.rawValue:
            let code = frame.pointee.rst_stream.error_code
            // REFUSED_STREAM guarantees no processing (RFC 9113 §8.7).
            finish(hd.stream_id, .failure(TransportError(.reset, "stream reset by the server (\(Self.protocolError(code)))",
                                                          unprocessed: code == NGHTTP2_REFUSED_STREAM.rawValue)))
        case NGHTTP2_GOAWAY.rawValue:
            let last = frame.pointee.goaway.last_stream_id
            let error = TransportError(.goAway, "server sent GOAWAY (\(Self.protocolError(frame.pointee.goaway.error_code)), last stream \(last))",
                                       unprocessed: true)
            drain(error)
            // Streams above `last` were not processed: fail them now, for the retry loop.
            for id in streams.keys where id > last {
                finish(id, .failure(error))
            }
        case NGHTTP2_SETTINGS.rawValue:
            if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) == 0, let context, state.settingsReceived(nowMs: Self.milliseconds(context.eventLoop.now)) {
                ready.succeed(())
                armLiveness(context)
            }
        case NGHTTP2_PING.rawValue:
            if hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0, let context {
                state.pingAcknowledged(nowMs: Self.milliseconds(context.eventLoop.now))
                signals.pingAcknowledged()
            }
        default:
            break
        }
    }

    func headerReceived(_ frame: UnsafePointer<nghttp2_frame>, _ name: UnsafeBufferPointer<UInt8>, _ value: UnsafeBufferPointer<UInt8>) {
        guard UInt32(frame.pointee.hd.type) == NGHTTP2_HEADERS.rawValue, let stream = streams[frame.pointee.hd.stream_id] else { return }
        if name.first == UInt8(ascii: ":") {
            // nghttp2 has already checked that :status is three digits and comes first.
            guard name.elementsEqual(":status".utf8), value.count == 3 else { return }
            let status = value.reduce(0) { $0 * 10 + Int($1 &- 0x30) }
            if status < 200 {
                stream.inInterimHeaders = true // interim answer: wait for the final one
            } else {
                stream.inInterimHeaders = false
                stream.status = status
            }
            return
        }
        guard !stream.inInterimHeaders, stream.headers.count < Self.maxResponseHeaders else { return }
        stream.headers.append(name: name, value: value)
    }

    func bodyReceived(_ id: Int32, _ data: UnsafeBufferPointer<UInt8>) {
        guard let stream = streams[id] else { return }
        guard stream.body.count + data.count <= maxResponseBodyBytes else {
            finish(id, .failure(TransportError(.protocolViolation, "response body larger than \(maxResponseBodyBytes) bytes")))
            nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, NGHTTP2_CANCEL.rawValue)
            return
        }
        stream.body.append(contentsOf: data)
    }

    /// A stream ended without its END_STREAM having completed it: a reset we sent (nghttp2's own
    /// stream errors, such as a malformed response) or one the GOAWAY above already failed.
    func streamClosed(_ id: Int32, errorCode: UInt32) {
        guard streams[id] != nil else { return }
        let refused = errorCode == NGHTTP2_REFUSED_STREAM.rawValue
        let message = errorCode == 0 ? "stream closed without a complete answer" : "HTTP/2 stream error (\(Self.protocolError(errorCode)))"
        finish(id, .failure(TransportError(.protocolViolation, message, unprocessed: refused)))
    }

    /// HEADERS nghttp2 did not send (GOAWAY received, session closing): never reached the server.
    func frameNotSent(_ frame: UnsafePointer<nghttp2_frame>, libError: Int32) {
        guard UInt32(frame.pointee.hd.type) == NGHTTP2_HEADERS.rawValue else { return }
        let kind = state.closingError?.kind ?? .closed
        finish(frame.pointee.hd.stream_id, .failure(TransportError(kind, "request not sent: \(Self.libraryError(libError))", unprocessed: true)))
    }

    /// Copies the next chunk of a request body; EOF with the last one.
    func readBody(_ id: Int32, into buffer: UnsafeMutableBufferPointer<UInt8>, flags: UnsafeMutablePointer<UInt32>) -> Int {
        guard let stream = streams[id] else { return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue) }
        let body = stream.request.body
        let count = Swift.min(buffer.count, body.count - stream.bodySent)
        if count > 0 {
            body.withUnsafeBufferPointer { source in
                buffer.baseAddress!.update(from: source.baseAddress! + stream.bodySent, count: count)
            }
        }
        stream.bodySent += count
        if stream.bodySent == body.count { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
        return count
    }

    // MARK: Connection failure

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(Self.map(error), context: context)
        requestClose(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(TransportError(.closed, "connection closed by the server"), context: context)
        closeRequested = true
        livenessTimer?.cancel()
        livenessTimer = nil
        self.context = nil
        context.fireChannelInactive()
    }

    /// No new streams from now on; a connection not yet ready fails its connect.
    private func drain(_ error: TransportError) {
        if state.drain(error) { ready.fail(error) }
        onUnusable(error)
    }

    /// Fails readiness or every open stream; requests not yet answered are safe to retry on a
    /// new connection (the retry loop decides).
    private func fail(_ error: TransportError, context: ChannelHandlerContext) {
        if state.close(error) { ready.fail(error) }
        onUnusable(error)
        let open = streams
        streams.removeAll()
        for (_, stream) in open {
            stream.complete(.failure(error))
        }
    }

    private static func libraryError(_ code: some BinaryInteger) -> String {
        String(cString: nghttp2_strerror(Int32(truncatingIfNeeded: code)))
    }

    private static func protocolError(_ code: UInt32) -> String {
        String(cString: nghttp2_http2_strerror(code))
    }

    static func map(_ error: any Error) -> TransportError {
        if let e = error as? TransportError { return e }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return TLSFailure.classify(error)
        }
        return TransportError(.protocolViolation, "connection error: \(error)")
    }
}
