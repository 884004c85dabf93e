import CNGHTTP2
import NIOCore

/// The far end of `HTTP2StreamsHandlerTests`: a real HTTP/2 server engine (an nghttp2 server
/// session) with no socket. The test carries the bytes the handler wrote into `receive` and the
/// bytes `output` produces back into the channel, so the conversation runs in the test loop's
/// virtual time, and "the server never answered" is simply bytes the test does not deliver.
///
/// Why a real engine rather than hand-written frames: nghttp2 checks the client's preface,
/// HPACK, stream states and frame order as a production server does, so a malformed frame from
/// the handler fails `receive` instead of passing a lenient fake. It acknowledges SETTINGS and
/// PINGs by itself, like any server.
final class NGHTTP2ServerPeer {
    /// A frame the server received, as far as the tests care.
    enum Frame: Hashable, CustomStringConvertible {
        case settings(ack: Bool)
        case headers(stream: Int32, endStream: Bool)
        case data(stream: Int32, endStream: Bool)
        case rstStream(stream: Int32, code: UInt32)
        case ping(ack: Bool)
        case goAway(lastStream: Int32)
        case windowUpdate(stream: Int32)
        case other(type: UInt8)

        var description: String {
            switch self {
            case .settings(let ack): "SETTINGS\(ack ? "+ACK" : "")"
            case .headers(let id, let end): "HEADERS(\(id)\(end ? ",END" : ""))"
            case .data(let id, let end): "DATA(\(id)\(end ? ",END" : ""))"
            case .rstStream(let id, let code): "RST_STREAM(\(id),\(code))"
            case .ping(let ack): "PING\(ack ? "+ACK" : "")"
            case .goAway(let last): "GOAWAY(\(last))"
            case .windowUpdate(let id): "WINDOW_UPDATE(\(id))"
            case .other(let type): "FRAME(\(type))"
            }
        }
    }

    /// RST_STREAM's CANCEL code, as the handler sends for a stream it gave up on.
    static let cancel = NGHTTP2_CANCEL.rawValue

    struct EngineError: Error, CustomStringConvertible {
        let description: String
    }

    private var session: OpaquePointer?
    /// Frames received since the last `takeFrames()`.
    private var frames: [Frame] = []
    /// Streams whose request arrived complete (END_STREAM), in arrival order.
    private(set) var requests: [Int32] = []

    /// A server session that has queued its SETTINGS (default values, as the sandbox servers).
    init() throws {
        var callbacks: OpaquePointer?
        guard nghttp2_session_callbacks_new(&callbacks) == 0, let callbacks else { throw EngineError(description: "no callbacks") }
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks) { _, frame, user in
            guard let frame, let user else { return 0 }
            Unmanaged<NGHTTP2ServerPeer>.fromOpaque(user).takeUnretainedValue().record(frame.pointee)
            return 0
        }
        var session: OpaquePointer?
        // `self` outlives the session: deinit deletes it.
        guard nghttp2_session_server_new(&session, callbacks, Unmanaged.passUnretained(self).toOpaque()) == 0 else {
            throw EngineError(description: "no server session")
        }
        self.session = session
        guard nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), nil, 0) == 0 else {
            throw EngineError(description: "SETTINGS not queued")
        }
    }

    deinit {
        nghttp2_session_del(session)
    }

    private func record(_ frame: nghttp2_frame) {
        let hd = frame.hd
        let ack = hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0
        let end = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
        switch UInt32(hd.type) {
        case NGHTTP2_SETTINGS.rawValue: frames.append(.settings(ack: ack))
        case NGHTTP2_HEADERS.rawValue: frames.append(.headers(stream: hd.stream_id, endStream: end))
        case NGHTTP2_DATA.rawValue: frames.append(.data(stream: hd.stream_id, endStream: end))
        case NGHTTP2_RST_STREAM.rawValue: frames.append(.rstStream(stream: hd.stream_id, code: frame.rst_stream.error_code))
        case NGHTTP2_PING.rawValue: frames.append(.ping(ack: ack))
        case NGHTTP2_GOAWAY.rawValue: frames.append(.goAway(lastStream: frame.goaway.last_stream_id))
        case NGHTTP2_WINDOW_UPDATE.rawValue: frames.append(.windowUpdate(stream: hd.stream_id))
        default: frames.append(.other(type: hd.type))
        }
        if end, UInt32(hd.type) == NGHTTP2_HEADERS.rawValue || UInt32(hd.type) == NGHTTP2_DATA.rawValue {
            requests.append(hd.stream_id)
        }
    }

    /// Feeds bytes the client wrote; throws when nghttp2 finds them malformed.
    func receive(_ buffer: ByteBuffer) throws {
        let result = buffer.withUnsafeReadableBytes { raw -> Int in
            guard let base = raw.baseAddress, raw.count > 0 else { return 0 }
            return nghttp2_session_mem_recv(session, base.assumingMemoryBound(to: UInt8.self), raw.count)
        }
        guard result == buffer.readableBytes else {
            throw EngineError(description: "server rejected the client's bytes: \(String(cString: nghttp2_strerror(Int32(truncatingIfNeeded: result))))")
        }
    }

    /// Everything the server has to send (SETTINGS, acknowledgements, answers), or nil.
    func output() throws -> ByteBuffer? {
        var out = ByteBuffer()
        while true {
            var chunk: UnsafePointer<UInt8>?
            let count = nghttp2_session_mem_send(session, &chunk)
            guard count >= 0 else { throw EngineError(description: "server send failed: \(count)") }
            guard count > 0, let chunk else { break }
            out.writeBytes(UnsafeRawBufferPointer(start: chunk, count: count))
        }
        return out.readableBytes > 0 ? out : nil
    }

    /// Frames received since the last call.
    func takeFrames() -> [Frame] {
        defer { frames.removeAll() }
        return frames
    }

    /// Queues a final answer with no body (HEADERS with END_STREAM, HPACK by nghttp2).
    func respond(stream: Int32, status: Int) throws {
        var name = Array(":status".utf8)
        var value = Array(String(status).utf8)
        let rc = name.withUnsafeMutableBufferPointer { n in
            value.withUnsafeMutableBufferPointer { v in
                // nghttp2 copies the field (no NO_COPY flag), so the buffers may go after the call.
                var field = nghttp2_nv(name: n.baseAddress, value: v.baseAddress, namelen: n.count, valuelen: v.count,
                                       flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
                return nghttp2_submit_response(session, stream, &field, 1, nil)
            }
        }
        guard rc == 0 else { throw EngineError(description: "response not queued: \(rc)") }
    }

    /// Queues GOAWAY(NO_ERROR): streams up to `lastStream` will be answered, later ones not.
    func goAway(lastStream: Int32) throws {
        let rc = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), lastStream, NGHTTP2_NO_ERROR.rawValue, nil, 0)
        guard rc == 0 else { throw EngineError(description: "GOAWAY not queued: \(rc)") }
    }
}
