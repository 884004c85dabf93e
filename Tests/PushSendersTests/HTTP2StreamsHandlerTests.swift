import NIOCore
import NIOEmbedded
import PushContract
import Testing
@testable import PushSenders

/// The nghttp2 handler itself, through `HTTP2Connection`, on a `NIOAsyncTestingChannel` whose
/// peer is an nghttp2 server session: deadlines and PING liveness run on the loop's virtual
/// time, stepped by the test, so "exactly at the deadline" is checked to the millisecond and no
/// test waits for real time.
@Suite(.timeLimit(.minutes(1))) struct HTTP2StreamsHandlerTests {
    /// One client connection in cleartext (prior knowledge) and its server, bytes carried by hand.
    final class Wire {
        let loop: NIOAsyncTestingEventLoop
        let channel: NIOAsyncTestingChannel
        let server: NGHTTP2ServerPeer
        let connection: HTTP2Connection
        /// The push clock stands still: it only says how much time a request has when written.
        let clock: ManualClock

        init(idlePingMs: Int64 = 30_000, pingTimeoutMs: Int64 = 5_000) async throws {
            let (loop, clock) = (NIOAsyncTestingEventLoop(), ManualClock(now: EventTime(millisecondsSince1970: 1_700_000_000_000)))
            let channel = NIOAsyncTestingChannel(loop: loop)
            let ready = loop.makePromise(of: Void.self)
            (self.loop, self.clock, self.channel) = (loop, clock, channel)
            server = try NGHTTP2ServerPeer()
            connection = try await loop.executeInContext {
                try HTTP2Connection.attach(to: channel, endpoint: HTTP2Endpoint(useTLS: false, host: "127.0.0.1", port: 443),
                                           expectsTLS: false, clock: clock, ready: ready,
                                           liveness: (idlePingMs, pingTimeoutMs), logger: .init(label: "test"))
            }
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).get()
            try await exchange()
            try await ready.futureResult.get()
            try await exchange()
            _ = server.takeFrames()
        }

        /// Moves every byte the client wrote into the server.
        @discardableResult
        func toServer() async throws -> [NGHTTP2ServerPeer.Frame] {
            while let bytes = try await channel.readOutbound(as: ByteBuffer.self) { try server.receive(bytes) }
            return server.takeFrames()
        }

        /// Moves what the server has to say into the client.
        func toClient() async throws {
            if let bytes = try server.output() { try await channel.writeInbound(bytes) }
        }

        /// Both ways until neither side has anything to send.
        func exchange() async throws {
            while true {
                var moved = false
                while let bytes = try await channel.readOutbound(as: ByteBuffer.self) {
                    try server.receive(bytes)
                    moved = true
                }
                if let bytes = try server.output() {
                    try await channel.writeInbound(bytes)
                    moved = true
                }
                if !moved { return }
            }
        }

        /// Starts a request and returns once the server has it whole (its stream id known).
        func send(_ path: String, timeoutMs: Int64 = 3_600_000) async throws -> (id: Int32, answer: Task<Result<HTTP2Response, TransportError>, Never>) {
            let before = server.requests.count
            let (connection, deadline) = (connection, clock.now().adding(milliseconds: timeoutMs))
            let answer = Task { await connection.execute(HTTP2Request(method: "POST", path: path, headers: [], body: []), deadline: deadline) }
            while server.requests.count == before {
                try server.receive(try await channel.waitForOutboundWrite(as: ByteBuffer.self))
            }
            _ = server.takeFrames()
            return (server.requests[before], answer)
        }

        func advance(ms: Int64) async {
            await loop.advanceTime(by: .milliseconds(ms))
        }

        /// Closes the channel, which fails whatever is still open: tests read their answers after
        /// it, so a stream the handler wrongly left pending fails the test instead of hanging it.
        func finish() async {
            _ = try? await channel.finish(acceptAlreadyClosed: true)
        }
    }

    func error(_ r: Result<HTTP2Response, TransportError>) -> TransportError? {
        if case .failure(let e) = r { return e }
        return nil
    }

    @Test func requestAnswered200Completes() async throws {
        let wire = try await Wire()
        let (id, answer) = try await wire.send("/ok")
        try wire.server.respond(stream: id, status: 200)
        try await wire.toClient()
        #expect(wire.connection.hasAnswered && wire.connection.isUsable)
        await wire.finish()
        guard case .success(let response) = await answer.value else { Issue.record("no answer"); return }
        #expect(response.status == 200)
    }

    @Test func streamTimesOutAtItsDeadlineThenPings() async throws {
        let wire = try await Wire()
        let (id, answer) = try await wire.send("/slow", timeoutMs: 5_000)
        await wire.advance(ms: 4_999)
        #expect(try await wire.toServer() == [], "nothing may happen before the deadline")
        await wire.advance(ms: 1)
        // The reset and the PING that asks whether the connection is alive leave together.
        #expect(Set(try await wire.toServer()) == [.rstStream(stream: id, code: NGHTTP2ServerPeer.cancel), .ping(ack: false)])
        // The server acknowledges: the connection stays in use.
        try await wire.exchange()
        #expect(wire.connection.pingsAcknowledged == 1 && wire.connection.isUsable)
        await wire.finish()
        #expect(error(await answer.value)?.kind == .timeout)
    }

    @Test func unacknowledgedPingClosesAndFailsOpenStreams() async throws {
        let wire = try await Wire(idlePingMs: 30_000, pingTimeoutMs: 5_000)
        let (_, answer) = try await wire.send("/open")
        await wire.advance(ms: 30_000)
        #expect(try await wire.toServer() == [.ping(ack: false)])
        // The acknowledgement is never delivered: the path to the server is black-holed.
        _ = try wire.server.output()
        await wire.advance(ms: 4_999)
        #expect(wire.channel.isActive && wire.connection.isUsable)
        await wire.advance(ms: 1)
        #expect(!wire.channel.isActive)
        #expect(wire.connection.unusableReason?.kind == .closed)
        await wire.finish()
        let failure = error(await answer.value)
        #expect(failure?.kind == .closed)  // retried by the exchange, on a new connection
        #expect(failure?.message.contains("no HTTP/2 PING acknowledgement within 5000 ms") == true)
    }

    @Test func idleConnectionIsPingedAndStaysOpenWhenAcknowledged() async throws {
        let wire = try await Wire(idlePingMs: 30_000, pingTimeoutMs: 5_000)
        await wire.advance(ms: 29_999)
        #expect(try await wire.toServer() == [])
        await wire.advance(ms: 1)
        #expect(try await wire.toServer() == [.ping(ack: false)])
        try await wire.toClient()
        #expect(wire.connection.pingsAcknowledged == 1)
        await wire.advance(ms: 10_000)  // well past the acknowledgement timeout
        #expect(wire.channel.isActive && wire.connection.isUsable)
        // The acknowledgement restarted the idle period: the next PING is 30 s after it.
        await wire.advance(ms: 19_999)
        #expect(try await wire.toServer() == [])
        await wire.advance(ms: 1)
        #expect(try await wire.toServer() == [.ping(ack: false)])
        await wire.finish()
    }

    @Test func goAwayFailsLaterStreamsAsUnprocessedAndAnswersEarlierOnes() async throws {
        let wire = try await Wire()
        let first = try await wire.send("/1")
        let second = try await wire.send("/2")
        let third = try await wire.send("/3")
        try wire.server.goAway(lastStream: first.id)
        try await wire.toClient()
        #expect(wire.connection.unusableReason?.kind == .goAway)
        let refused = error(await wire.connection.execute(HTTP2Request(method: "POST", path: "/4", headers: [], body: []),
                                                          deadline: wire.clock.now().adding(seconds: 30)))
        #expect(refused?.kind == .goAway && refused?.unprocessed == true)
        // The stream the server kept is still answered, then the connection closes.
        try wire.server.respond(stream: first.id, status: 200)
        try await wire.toClient()
        #expect(!wire.channel.isActive)
        await wire.finish()
        for later in [second.answer, third.answer] {
            let e = error(await later.value)
            #expect(e?.kind == .goAway && e?.unprocessed == true)
        }
        guard case .success(let response) = await first.answer.value else { Issue.record("stream 1 not answered"); return }
        #expect(response.status == 200)
    }
}
