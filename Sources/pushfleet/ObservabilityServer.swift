import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus
import ServiceLifecycle

/// What `/health` and `/ready` report.
struct EndpointStatus: Sendable {
    /// The process is not wedged (liveness: an orchestrator restarts it otherwise).
    var live: Bool
    /// It processes every partition it was assigned (readiness).
    var ready: Bool
    var problems: [String]
}

/// The worker's HTTP endpoint on `metrics-listen`: `/metrics` (Prometheus text format),
/// `/health` (not wedged: no fatal Kafka error, the poll thread and every lane make progress)
/// and `/ready` (every assigned partition restored and processed). Their 503 bodies say why.
final class ObservabilityServer: Service {
    let host: String
    let port: Int
    private let registry: PrometheusCollectorRegistry
    private let status: @Sendable () -> EndpointStatus
    private let beforeScrape: @Sendable () -> Void
    private let logger: Logger

    /// `beforeScrape` recomputes the gauges that depend on the time of reading (certificate
    /// lifetimes, breaker states) just before `/metrics` renders them.
    init(listen: String, registry: PrometheusCollectorRegistry, logger: Logger, beforeScrape: @escaping @Sendable () -> Void = {},
         status: @escaping @Sendable () -> EndpointStatus) throws {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
            throw CommandError("[pushfleet] metrics-listen = \(listen): expected host:port", status: ExitStatus.config)
        }
        host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = port
        self.registry = registry
        self.status = status
        self.beforeScrape = beforeScrape
        self.logger = logger
    }

    func run() async throws {
        let registry = self.registry, status = self.status, beforeScrape = self.beforeScrape
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(registry: registry, status: status, beforeScrape: beforeScrape))
                }
            }
            .bind(host: host, port: port).get()
        logger.info("metrics endpoint listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        // Closed on cancellation too: when the worker fails, the group cancels this service,
        // and a server that waited only for graceful shutdown kept the process alive, answering
        // /health 200, with the worker's error never printed.
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            channel.close(promise: nil)
        }
    }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: used only on its channel's event loop.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let registry: PrometheusCollectorRegistry
        let status: @Sendable () -> EndpointStatus
        let beforeScrape: @Sendable () -> Void
        var path = "/"

        init(registry: PrometheusCollectorRegistry, status: @escaping @Sendable () -> EndpointStatus, beforeScrape: @escaping @Sendable () -> Void) {
            self.registry = registry
            self.status = status
            self.beforeScrape = beforeScrape
        }

        private static func answer(_ ok: Bool, _ word: String, _ problems: [String]) -> (HTTPResponseStatus, String, [UInt8]) {
            if ok { return (.ok, "text/plain", Array("\(word)\n".utf8)) }
            return (.serviceUnavailable, "text/plain", Array((["not \(word)"] + problems).joined(separator: "\n").utf8 + [10]))
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = String(head.uri.prefix { $0 != "?" })
            case .body:
                break
            case .end:
                if path == "/metrics" {
                    beforeScrape()
                    _ = self.status()  // refreshes the live/ready gauges
                }
                let (status, type, body): (HTTPResponseStatus, String, [UInt8]) = switch path {
                case "/metrics": (.ok, "text/plain; version=0.0.4; charset=utf-8", registry.emitToBuffer())
                case "/health": { let s = self.status(); return Self.answer(s.live, "ok", s.problems) }()
                case "/ready": { let s = self.status(); return Self.answer(s.ready, "ready", s.problems) }()
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
