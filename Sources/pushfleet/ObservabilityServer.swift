import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// The worker's HTTP endpoint on `metrics-listen`: `/metrics` (Prometheus text format),
/// `/health` (the process answers) and `/ready` (assigned partitions are restored).
final class ObservabilityServer: Service {
    let host: String
    let port: Int
    private let registry: PrometheusCollectorRegistry
    private let isReady: @Sendable () -> Bool
    private let logger: Logger

    init(listen: String, registry: PrometheusCollectorRegistry, logger: Logger, isReady: @escaping @Sendable () -> Bool) throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw CommandError("[pushfleet] metrics-listen = \(listen): expected host:port")
        }
        host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
        self.registry = registry
        self.isReady = isReady
        self.logger = logger
    }

    func run() async throws {
        let registry = self.registry, isReady = self.isReady
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(registry: registry, isReady: isReady))
                }
            }
            .bind(host: host, port: port).get()
        logger.info("metrics endpoint listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: used only on its channel's event loop.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let registry: PrometheusCollectorRegistry
        let isReady: @Sendable () -> Bool
        var path = "/"

        init(registry: PrometheusCollectorRegistry, isReady: @escaping @Sendable () -> Bool) {
            self.registry = registry
            self.isReady = isReady
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = String(head.uri.prefix { $0 != "?" })
            case .body:
                break
            case .end:
                let (status, type, body): (HTTPResponseStatus, String, [UInt8]) = switch path {
                case "/metrics": (.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToBuffer())
                case "/health": (.ok, "text/plain", Array("ok\n".utf8))
                case "/ready": isReady() ? (.ok, "text/plain", Array("ready\n".utf8)) : (.serviceUnavailable, "text/plain", Array("not ready\n".utf8))
                default: (.notFound, "text/plain", Array("not found\n".utf8))
                }
                var headers = HTTPHeaders()
                headers.add(name: "content-type", value: type)
                headers.add(name: "content-length", value: String(body.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
