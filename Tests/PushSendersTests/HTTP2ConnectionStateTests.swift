import Testing
@testable import PushSenders

/// Every transition of a connection's bookkeeping, with stepped time and no sockets.
@Suite struct HTTP2ConnectionStateTests {
    func ready(at ms: Int64 = 1_000) -> HTTP2ConnectionState {
        var s = HTTP2ConnectionState(nowMs: 0, idlePingMs: 30_000, pingTimeoutMs: 5_000)
        let becameReady = s.settingsReceived(nowMs: ms)
        #expect(becameReady)
        return s
    }

    let goAway = TransportError(.goAway, "server sent GOAWAY", unprocessed: true)

    @Test func startsWaitingForSettingsWithNoTimer() {
        var s = HTTP2ConnectionState(nowMs: 0, idlePingMs: 30_000, pingTimeoutMs: 5_000)
        #expect(s.phase == .starting)
        #expect(!s.isReady && !s.isStarted)
        #expect(s.nextCheckMs == nil)
        #expect(s.tick(nowMs: 100_000) == .none)
        #expect(s.streamTimedOut(nowMs: 100_000) == .none)
    }

    @Test func firstSettingsMakesReadyOnce() {
        var s = ready(at: 1_000)
        #expect(s.isReady && s.isStarted)
        #expect(s.lastActivityMs == 1_000)
        let readyAgain = s.settingsReceived(nowMs: 2_000)
        #expect(!readyAgain)
        #expect(s.lastActivityMs == 2_000)
        #expect(s.nextCheckMs == 32_000)
    }

    @Test func idleConnectionIsPingedAfterTheIdlePeriod() {
        var s = ready()
        #expect(s.tick(nowMs: 30_999) == .none)
        #expect(s.tick(nowMs: 31_000) == .sendPing)
        #expect(s.pingSentAtMs == 31_000)
        #expect(s.nextCheckMs == 36_000)
        // One PING at a time.
        #expect(s.tick(nowMs: 32_000) == .none)
        #expect(s.streamTimedOut(nowMs: 32_000) == .none)
    }

    @Test func trafficPostponesThePing() {
        var s = ready()
        s.bytesReceived(nowMs: 20_000)
        #expect(s.tick(nowMs: 31_000) == .none)
        #expect(s.nextCheckMs == 50_000)
        // Time read late on another path never moves activity backwards.
        s.bytesReceived(nowMs: 10_000)
        #expect(s.lastActivityMs == 20_000)
        #expect(s.tick(nowMs: 50_000) == .sendPing)
    }

    @Test func acknowledgedPingKeepsTheConnection() {
        var s = ready()
        #expect(s.tick(nowMs: 31_000) == .sendPing)
        s.pingAcknowledged(nowMs: 31_010)
        #expect(s.pingSentAtMs == nil)
        #expect(s.tick(nowMs: 36_000) == .none)
        #expect(s.isReady)
        #expect(s.nextCheckMs == 61_010)
    }

    @Test func missedAcknowledgementClosesAtTheTimeout() {
        var s = ready()
        #expect(s.tick(nowMs: 31_000) == .sendPing)
        #expect(s.tick(nowMs: 35_999) == .none)
        guard case .close(let e) = s.tick(nowMs: 36_000) else {
            Issue.record("expected close")
            return
        }
        #expect(e.kind == .closed)
        #expect(e.unprocessed == false) // streams in flight may have been processed
        #expect(e.message.contains("PING"))
        #expect(s.isClosed && !s.isReady)
        #expect(s.closingError == e)
        #expect(s.nextCheckMs == nil)
        #expect(s.tick(nowMs: 100_000) == .none)
    }

    @Test func streamTimeoutPingsAtOnceEvenWithRecentTraffic() {
        var s = ready()
        s.bytesReceived(nowMs: 5_000)
        #expect(s.streamTimedOut(nowMs: 6_000) == .sendPing)
        #expect(s.nextCheckMs == 11_000)
        #expect(s.streamTimedOut(nowMs: 7_000) == .none)
        // Bytes that are not the acknowledgement do not clear the suspicion.
        s.bytesReceived(nowMs: 8_000)
        #expect(s.pingSentAtMs == 6_000)
        if case .close = s.tick(nowMs: 11_000) {} else { Issue.record("expected close") }
    }

    @Test func drainingKeepsTheFirstReasonAndStillChecksLiveness() {
        var s = ready()
        s.drain(goAway)
        s.drain(TransportError(.closed, "connection retired", unprocessed: true))
        #expect(s.phase == .draining(goAway))
        #expect(!s.isReady && s.isStarted)
        #expect(s.closingError == goAway)
        // Streams still open on a draining connection must not hang on a dead socket.
        #expect(s.streamTimedOut(nowMs: 2_000) == .sendPing)
        if case .close = s.tick(nowMs: 7_000) {} else { Issue.record("expected close") }
    }

    @Test func drainBeforeSettingsFailsReadiness() {
        var s = HTTP2ConnectionState(nowMs: 0, idlePingMs: 30_000, pingTimeoutMs: 5_000)
        let failedReadiness = s.drain(goAway)
        #expect(failedReadiness)
        #expect(s.phase == .closed(goAway))
        let readyAfterwards = s.settingsReceived(nowMs: 10)
        #expect(!readyAfterwards)
        let failsAgain = s.close(TransportError(.closed, "closed"))
        #expect(!failsAgain)
        #expect(s.nextCheckMs == nil)
    }

    @Test func drainWhenReadyDoesNotTouchReadiness() {
        var s = ready()
        let failedReadiness = s.drain(goAway)
        #expect(!failedReadiness)
        #expect(s.phase == .draining(goAway))
    }

    @Test func closeKeepsTheDrainReason() {
        var s = ready()
        s.drain(goAway)
        let wasStarting = s.close(TransportError(.closed, "connection closed by the server"))
        #expect(!wasStarting)
        #expect(s.phase == .closed(goAway))
        let wasStartingLater = s.close(TransportError(.protocolViolation, "later"))
        #expect(!wasStartingLater)
        #expect(s.phase == .closed(goAway))
    }

    @Test func closeBeforeSettingsFailsReadiness() {
        var s = HTTP2ConnectionState(nowMs: 0, idlePingMs: 30_000, pingTimeoutMs: 5_000)
        let eof = TransportError(.tls, "EOF during handshake")
        let failedReadiness = s.close(eof)
        #expect(failedReadiness)
        #expect(s.isStarted && s.isClosed)
        let readyAfterClose = s.settingsReceived(nowMs: 10)
        #expect(!readyAfterClose)
        #expect(s.phase == .closed(eof))
        s.drain(goAway)
        #expect(s.phase == .closed(eof))
    }

    @Test func closeClearsAnOutstandingPing() {
        var s = ready()
        #expect(s.streamTimedOut(nowMs: 2_000) == .sendPing)
        s.close(TransportError(.closed, "closed"))
        #expect(s.pingSentAtMs == nil)
        #expect(s.streamTimedOut(nowMs: 3_000) == .none)
    }
}
