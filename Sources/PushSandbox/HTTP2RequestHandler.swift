import Foundation
import NIOCore
import NIOHPACK
import NIOHTTP2

/// Requests bigger than this are cut (the services only need to know they were too large).
let sandboxMaximumBody = 1 << 20

/// One HTTP/2 stream: collects HEADERS and DATA into a request, then carries out the service's action
/// with real frames (RST_STREAM, GOAWAY, or silence).
final class HTTP2RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias OutboundOut = HTTP2Frame.FramePayload

    private let server: SandboxServer
    private let connection: SandboxConnection
    private var method = ""
    private var path = ""
    private var headers: [(name: String, value: String)] = []
    private var body: [UInt8] = []
    private var completed = false

    init(server: SandboxServer, connection: SandboxConnection) {
        self.server = server
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            if method.isEmpty && path.isEmpty {
                headers.reserveCapacity(frame.headers.count)
                for (name, value, _) in frame.headers {
                    switch name {
                    case ":method": method = value
                    case ":path": path = value
                    case _ where name.hasPrefix(":"): break
                    default: headers.append((name, value))
                    }
                }
            }
            if frame.endStream { complete(context) }
        case .data(let frame):
            if case .byteBuffer(let buffer) = frame.data, body.count < sandboxMaximumBody {
                body.append(contentsOf: buffer.readableBytesView.prefix(sandboxMaximumBody - body.count))
            }
            if frame.endStream { complete(context) }
        default:
            break
        }
    }

    private func complete(_ context: ChannelHandlerContext) {
        guard !completed else { return }
        completed = true
        let request = RecordedRequest(
            method: method, path: path, headers: headers, body: body, httpVersion: "2",
            clientCertificateTopic: server.configuration.readsClientCertificate
                ? connection.clientCertificateTopic(connectionChannel: context.channel.parent ?? context.channel) : nil
        )
        Self.perform(server.service.handle(request), on: context.channel)
    }

    /// Runs on the stream's event loop; `.delay` re-enters it from a scheduled task.
    static func perform(_ action: SandboxAction, on channel: any Channel) {
        switch action {
        case .respond(let response):
            var headers = HPACKHeaders()
            headers.reserveCapacity(response.headers.count + 2)
            headers.add(name: ":status", value: String(response.status))
            for (name, value) in response.headers { headers.add(name: name, value: value) }
            if response.body.isEmpty {
                channel.writeAndFlush(HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: true)), promise: nil)
            } else {
                headers.add(name: "content-length", value: String(response.body.count))
                channel.write(HTTP2Frame.FramePayload.headers(.init(headers: headers)), promise: nil)
                let buffer = channel.allocator.buffer(bytes: response.body)
                channel.writeAndFlush(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(buffer), endStream: true)), promise: nil)
            }
        case .delay(let milliseconds, let then):
            channel.eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                perform(then, on: channel)
            }
        case .hang:
            break
        case .headThenStall(let response):
            var headers = HPACKHeaders()
            headers.add(name: ":status", value: String(response.status))
            for (name, value) in response.headers { headers.add(name: name, value: value) }
            headers.add(name: "content-length", value: String(max(1, response.body.count)))
            channel.writeAndFlush(HTTP2Frame.FramePayload.headers(.init(headers: headers, endStream: false)), promise: nil)
        case .reset:
            channel.writeAndFlush(HTTP2Frame.FramePayload.rstStream(.internalError), promise: nil)
        case .goAway:
            guard let parent = channel.parent else { return channel.close(promise: nil) }
            let streamID = (try? channel.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID)) ?? .rootStream
            let ownID = Int32(streamID)
            // Every earlier stream was processed; this one and later ones were not, so a client may retry them.
            let last = ownID > 2 ? HTTP2StreamID(ownID - 2) : .rootStream
            let frame = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: last, errorCode: .noError, opaqueData: nil))
            parent.writeAndFlush(frame).whenComplete { _ in parent.close(promise: nil) }
        }
    }
}
