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
    private let beforeScrape: @Sendable () -> Void
    private let logger: Logger

    /// `beforeScrape` recomputes the gauges that depend on the time of reading (certificate
    /// lifetimes, breaker states) just before `/metrics` renders them.
    init(listen: String, registry: PrometheusCollectorRegistry, logger: Logger, beforeScrape: @escaping @Sendable () -> Void = {},
         isReady: @escaping @Sendable () -> Bool) throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw CommandError("[pushfleet] metrics-listen = \(listen): expected host:port")
        }
        host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
        self.registry = registry
        self.isReady = isReady
        self.beforeScrape = beforeScrape
        self.logger = logger
    }

    func run() async throws {
        let registry = self.registry, isReady = self.isReady, beforeScrape = self.beforeScrape
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(registry: registry, isReady: isReady, beforeScrape: beforeScrape))
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
        let beforeScrape: @Sendable () -> Void
        var path = "/"

        init(registry: PrometheusCollectorRegistry, isReady: @escaping @Sendable () -> Bool, beforeScrape: @escaping @Sendable () -> Void) {
            self.registry = registry
            self.isReady = isReady
            self.beforeScrape = beforeScrape
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = String(head.uri.prefix { $0 != "?" })
            case .body:
                break
            case .end:
                if path == "/metrics" { beforeScrape() }
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
