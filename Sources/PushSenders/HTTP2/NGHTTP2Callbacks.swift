import CNGHTTP2

/// nghttp2's callback table: C function pointers that find their `HTTP2StreamsHandler` through
/// the session's `user_data` (an unretained pointer; the handler owns and outlives its session).
///
/// Only what a client needs: response headers and body, frame and stream ends, frames nghttp2
/// gave up sending, and the request body. There is no send/recv callback: the handler moves the
/// bytes with `nghttp2_session_mem_send` / `nghttp2_session_mem_recv` over NIO's TLS channel.
enum NGHTTP2Callbacks {
    /// A new callback table; the caller deletes it once the session is created (nghttp2 copies it).
    static func make() -> OpaquePointer? {
        var table: OpaquePointer?
        guard nghttp2_session_callbacks_new(&table) == 0, let table else { return nil }
        nghttp2_session_callbacks_set_on_frame_recv_callback(table) { _, frame, user in
            guard let frame, let user else { return 0 }
            streamsHandler(user).frameReceived(frame)
            return 0
        }
        nghttp2_session_callbacks_set_on_header_callback(table) { _, frame, name, nameLength, value, valueLength, _, user in
            guard let frame, let name, let value, let user else { return 0 }
            streamsHandler(user).headerReceived(frame, UnsafeBufferPointer(start: name, count: nameLength),
                                         UnsafeBufferPointer(start: value, count: valueLength))
            return 0
        }
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(table) { _, _, streamID, data, length, user in
            guard let data, let user else { return 0 }
            streamsHandler(user).bodyReceived(streamID, UnsafeBufferPointer(start: data, count: length))
            return 0
        }
        nghttp2_session_callbacks_set_on_stream_close_callback(table) { _, streamID, errorCode, user in
            guard let user else { return 0 }
            streamsHandler(user).streamClosed(streamID, errorCode: errorCode)
            return 0
        }
        nghttp2_session_callbacks_set_on_frame_not_send_callback(table) { _, frame, libError, user in
            guard let frame, let user else { return 0 }
            streamsHandler(user).frameNotSent(frame, libError: libError)
            return 0
        }
        return table
    }

    /// The data provider of a request body: nghttp2 pulls chunks as flow control allows.
    static var bodyProvider: nghttp2_data_provider {
        nghttp2_data_provider(
            source: nghttp2_data_source(ptr: nil),
            read_callback: { _, streamID, buffer, length, flags, _, user in
                guard let buffer, let flags, let user else { return Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) }
                return streamsHandler(user).readBody(streamID, into: UnsafeMutableBufferPointer(start: buffer, count: length), flags: flags)
            }
        )
    }
}

/// The session's `user_data` back to its handler (a free function: C callbacks capture nothing).
private func streamsHandler(_ user: UnsafeMutableRawPointer) -> HTTP2StreamsHandler {
    Unmanaged<HTTP2StreamsHandler>.fromOpaque(user).takeUnretainedValue()
}
