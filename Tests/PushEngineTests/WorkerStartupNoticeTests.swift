import Logging
import PushContract
import PushPolicy
import PushSenders
import Synchronization
import Testing
@testable import PushEngine

/// Keeps what a logger is given, for asserting on start-up lines.
private final class LogLines: Sendable {
    private let lines = Mutex<[(Logger.Level, String)]>([])
    var all: [(Logger.Level, String)] { lines.withLock { $0 } }
    var logger: Logger { Logger(label: "test.worker") { _ in Handler(sink: self) } }

    private struct Handler: LogHandler {
        let sink: LogLines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            sink.lines.withLock { $0.append((event.level, event.message.description)) }
        }
    }
}

/// Never called: the worker is only built, not run.
private struct NoSenders: PushSending {
    func send(_ request: PushRequest, deadline: EventTime) async -> SendOutcome {
        SendOutcome(result: .failed, provider: request.destination.provider)
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
        let lines = LogLines()
        _ = try PushWorker(config: config, senders: NoSenders(), logger: lines.logger)
        return lines.all
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
