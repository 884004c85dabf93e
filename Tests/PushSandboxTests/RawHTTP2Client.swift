import NIOCore
import NIOHPACK
import NIOHTTP2
import NIOPosix

/// What became of one HTTP/2 stream, frame by frame.
enum StreamOutcome: Equatable, Sendable {
    case response(status: String, body: String)
    case reset(HTTP2ErrorCode)
    case closed
}

/// A bare HTTP/2 prior-knowledge (h2c) client: AsyncHTTPClient cannot speak h2c, and these tests
/// want to see the frames themselves (RST_STREAM codes, GOAWAY's last stream id).
final class RawHTTP2Client: Sendable {
    let channel: any Channel
    private let streams: NIOHTTP2Handler.StreamMultiplexer
    let goAway: EventLoopFuture<HTTP2StreamID>

    private init(channel: any Channel, streams: NIOHTTP2Handler.StreamMultiplexer, goAway: EventLoopFuture<HTTP2StreamID>) {
        self.channel = channel
        self.streams = streams
        self.goAway = goAway
    }

    static func connect(port: Int) async throws -> RawHTTP2Client {
        let group = MultiThreadedEventLoopGroup.singleton
        let goAway = group.any().makePromise(of: HTTP2StreamID.self)
        let channel = try await ClientBootstrap(group: goAway.futureResult.eventLoop)
            .connect(host: "127.0.0.1", port: port).get()
        let streams = try await channel.eventLoop.submit {
            let streams = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                mode: .client, connectionConfiguration: .init(), streamConfiguration: .init()
            ) { $0.eventLoop.makeSucceededVoidFuture() }
            try channel.pipeline.syncOperations.addHandler(GoAwayWatcher(promise: goAway))
            return streams
        }.get()
        channel.closeFuture.whenComplete { _ in goAway.fail(ChannelError.ioOnClosedChannel) }
        return RawHTTP2Client(channel: channel, streams: streams, goAway: goAway.futureResult)
    }

    /// Opens a stream, sends POST `path` with `body`, and reports how the stream ended.
    func post(_ path: String, body: String = "{}") async throws -> StreamOutcome {
        let outcome = channel.eventLoop.makePromise(of: StreamOutcome.self)
        let stream = try await channel.eventLoop.flatSubmit {
            let created = self.channel.eventLoop.makePromise(of: (any Channel).self)
            self.streams.createStreamChannel(promise: created) { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.pipeline.syncOperations.addHandler(StreamRecorder(promise: outcome))
                }
            }
            return created.futureResult
        }.get()
        let headers: HPACKHeaders = [":method": "POST", ":path": path, ":scheme": "http", ":authority": "127.0.0.1"]
        stream.write(HTTP2Frame.FramePayload.headers(.init(headers: headers)), promise: nil)
        try await stream.writeAndFlush(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: body)), endStream: true))).get(within: 10)
        return try await outcome.futureResult.get(within: 10)
    }

    func close() async { try? await channel.close() }
}

private final class GoAwayWatcher: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    let promise: EventLoopPromise<HTTP2StreamID>
    init(promise: EventLoopPromise<HTTP2StreamID>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway(let last, _, _) = unwrapInboundIn(data).payload { promise.succeed(last) }
        context.fireChannelRead(data)
    }
}

private final class StreamRecorder: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    let promise: EventLoopPromise<StreamOutcome>
    var status = ""
    var body = ""
    var done = false
    init(promise: EventLoopPromise<StreamOutcome>) { self.promise = promise }

    func finish(_ outcome: StreamOutcome) {
        guard !done else { return }
        done = true
        promise.succeed(outcome)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let frame):
            status = frame.headers.first(name: ":status") ?? status
            if frame.endStream { finish(.response(status: status, body: body)) }
        case .data(let frame):
            if case .byteBuffer(let buffer) = frame.data { body += String(buffer: buffer) }
            if frame.endStream { finish(.response(status: status, body: body)) }
        case .rstStream(let code):
            finish(.reset(code))
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
    func channelInactive(context: ChannelHandlerContext) { finish(.closed) }
}

struct FutureTimeout: Error {}

extension EventLoopFuture where Value: Sendable {
    /// `get()` with a deadline: a stream or connection that never completes fails the test
    /// instead of hanging the whole run (NIO futures cannot be cancelled).
    func get(within seconds: Int64) async throws -> Value {
        let settled = eventLoop.makePromise(of: Value.self)
        let box = SettledFlag()
        // Both callbacks run on this future's event loop, so the flag needs no lock.
        whenComplete { result in
            if !box.done { box.done = true; settled.completeWith(result) }
        }
        eventLoop.scheduleTask(in: .seconds(seconds)) {
            if !box.done { box.done = true; settled.fail(FutureTimeout()) }
        }
        return try await settled.futureResult.get()
    }
}

private final class SettledFlag: @unchecked Sendable {
    // @unchecked: only touched on one event loop (see `get(within:)`).
    var done = false
}
