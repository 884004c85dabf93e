import Logging
import PushFleetTesting
import PushContract
import PushPolicy
import PushSenders
import Synchronization
import Testing
@testable import PushEngine

/// Never called: the worker is only built, not run.
private struct NoSenders: PushSending {
    func send(_ request: PushRequest, deadline: EventTime) async -> SendOutcome {
        SendOutcome(result: .failed, provider: request.destination.provider.rawValue)
    }
}

@Suite("Worker start-up: enabled=false")
struct WorkerStartupNoticeTests {
    /// Lines a worker built from `pushNotification` logs while it is constructed.
    static func startupLines(enabled: Bool) throws -> [(Logger.Level, String)] {
        let config = try PushFleetConfig.load(text: """
            [module::PushNotification]
            enabled=\(enabled)
            [kafka]
            bootstrap-servers=127.0.0.1:1
            """)
        let lines = LogCapture()
        _ = try PushWorker(config: config, senders: NoSenders(), logger: lines.logger)
        return lines.all.map { ($0.level, $0.message) }
    }

    @Test("a worker that reads enabled=false says once, at start-up, that the key does not apply to it")
    func noticeOnce() throws {
        let notices = try Self.startupLines(enabled: false).filter { $0.1.contains("enabled=false") }
        #expect(notices.count == 1)
        #expect(notices.first?.0 == .notice)
        #expect(notices.first?.1.contains("pushes anyway") == true)
        #expect(try Self.startupLines(enabled: true).allSatisfy { !$0.1.contains("enabled=") })
    }
}
