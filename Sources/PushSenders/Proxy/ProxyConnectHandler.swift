import NIOCore
import PushPolicy

/// Opens a `CONNECT` tunnel on a fresh TCP connection to the proxy, then hands the channel over:
/// `established` adds TLS and HTTP/2 after this handler, which forwards any early bytes and
/// leaves the pipeline. The connection's handshake timer (started once TCP is up) bounds the
/// CONNECT exchange as it bounds TLS and SETTINGS; the answer's size is bounded by
/// `ProxyConnectHandshake.maxHeadBytes`.
final class ProxyConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var handshake = ProxyConnectHandshake()
    private let request: [UInt8]
    /// Every failure names both ends (`proxy 10.0.0.1:3128 … CONNECT host:443`), never credentials.
    private let proxy: OutboundProxy
    private let target: String
    private let established: (ChannelHandlerContext) throws -> Void
    private let failed: (TransportError) -> Void
    private var sent = false
    private var done = false

    /// - Parameters:
    ///   - established: runs on the event loop once the proxy answered 2xx, before this handler
    ///     leaves: adds the TLS and HTTP/2 handlers (after this one).
    ///   - failed: the tunnel could not be opened; the channel is being closed.
    init(proxy: OutboundProxy, targetHost: String, targetPort: Int,
         established: @escaping (ChannelHandlerContext) throws -> Void, failed: @escaping (TransportError) -> Void) {
        request = ProxyConnectHandshake.request(host: targetHost, port: targetPort, authorization: proxy.basicAuthorization)
        target = ProxyConnectHandshake.authority(host: targetHost, port: targetPort)
        self.proxy = proxy
        self.established = established
        self.failed = failed
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { sendConnect(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendConnect(context)
        context.fireChannelActive()
    }

    private func sendConnect(_ context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(bytes: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        let bytes = unwrapInboundIn(data)
        switch handshake.receive(bytes.readableBytesView) {
        case .needMore:
            return
        case .established(let leftover):
            done = true
            do {
                try established(context)
            } catch {
                fail(TransportError(.connect, "tunnel through proxy \(proxy) to \(target) opened, "
                                    + "but TLS could not be set up: \(error)"), context)
                return
            }
            if !leftover.isEmpty { context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(bytes: leftover))) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        case .refused(let status, let reason):
            let why = proxy.refusal(target: target, answer: "\(status)" + (reason.isEmpty ? "" : " \(reason)"), status: status)
            fail(TransportError(.connect, why, unprocessed: true), context)
        case .malformed(let problem):
            fail(TransportError(.connect, "proxy \(proxy) gave no valid answer to CONNECT \(target): \(problem)",
                                unprocessed: true), context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            fail(TransportError(.connect, "proxy \(proxy) closed the connection before answering CONNECT \(target)",
                                unprocessed: true), context)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !done else { return context.fireErrorCaught(error) }
        fail(TransportError(.connect, "proxy \(proxy) during CONNECT \(target): \(error)", unprocessed: true), context)
    }

    private func fail(_ error: TransportError, _ context: ChannelHandlerContext) {
        done = true
        failed(error)
        context.close(promise: nil)
    }
}
