import Foundation
import NIOCore
import NIOHTTP1

/// One HTTP/1.1 connection: requests arrive one at a time (NIO's pipelining handler queues the
/// rest); `.reset` and `.goAway` close the connection, as HTTP/1.1 has nothing finer.
final class HTTP1RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let server: SandboxServer
    private let connection: SandboxConnection
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(server: SandboxServer, connection: SandboxConnection) {
        self.server = server
        self.connection = connection
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.removeAll(keepingCapacity: true)
        case .body(let buffer):
            if body.count < sandboxMaximumBody {
                body.append(contentsOf: buffer.readableBytesView.prefix(sandboxMaximumBody - body.count))
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let request = RecordedRequest(
                method: head.method.rawValue, path: head.uri,
                headers: head.headers.map { (name: $0.name, value: $0.value) }, body: body, httpVersion: "1.1",
                clientCertificateTopic: server.configuration.readsClientCertificate
                    ? connection.clientCertificateTopic(connectionChannel: context.channel) : nil
            )
            Self.perform(server.service.handle(request), keepAlive: head.isKeepAlive, on: context.channel)
        }
    }

    static func perform(_ action: SandboxAction, keepAlive: Bool, on channel: any Channel) {
        switch action {
        case .respond(let response):
            var headers = HTTPHeaders()
            for (name, value) in response.headers { headers.add(name: name, value: value) }
            headers.add(name: "content-length", value: String(response.body.count))
            if !keepAlive { headers.add(name: "connection", value: "close") }
            let head = HTTPResponseHead(
                version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers
            )
            channel.write(HTTPServerResponsePart.head(head), promise: nil)
            if !response.body.isEmpty {
                channel.write(HTTPServerResponsePart.body(.byteBuffer(channel.allocator.buffer(bytes: response.body))), promise: nil)
            }
            let done = channel.writeAndFlush(HTTPServerResponsePart.end(nil))
            if !keepAlive { done.whenComplete { _ in channel.close(promise: nil) } }
        case .delay(let milliseconds, let then):
            channel.eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                perform(then, keepAlive: keepAlive, on: channel)
            }
        case .hang:
            break
        case .headThenStall(let response):
            var headers = HTTPHeaders()
            for (name, value) in response.headers { headers.add(name: name, value: value) }
            headers.add(name: "content-length", value: String(max(1, response.body.count)))
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
            channel.writeAndFlush(HTTPServerResponsePart.head(head), promise: nil)
        case .reset, .goAway:
            channel.close(promise: nil)
        }
    }
}
