import Foundation
import Logging
import PushContract
import PushPolicy

/// Text (swift-log's stream handler) or one JSON object per line (`[pushfleet] log-format=json`).
/// Secrets never reach a log line: nothing logs credentials, and config dumps redact them.
/// `level` is the least severe level shown (interactive commands such as `replay` keep their
/// terminal for their own output and show warnings only).
func bootstrapLogging(format: PushFleetOptions.LogFormat, level: Logger.Level = .info) {
    switch format {
    case .json:
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    case .text:
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// One JSON object per line on stderr: time, level, label, message, metadata (call-id etc.).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let level = event.level, message = event.message, extra = event.metadata
        var out: [UInt8] = []
        out.reserveCapacity(256)
        func field(_ name: String, _ value: String) {
            out.append(out.count == 1 ? UInt8(ascii: " ") : UInt8(ascii: ","))
            JSONEscaping.appendQuoted(name, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONEscaping.appendQuoted(value, to: &out)
        }
        out.append(UInt8(ascii: "{"))
        field("time", SystemClock().now().rfc3339)
        field("level", level.rawValue)
        field("label", label)
        field("message", message.description)
        let merged = metadata.merging(extra ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { field(key, "\(value)") }
        out.append(contentsOf: Array("}\n".utf8))
        FileHandle.standardError.write(Data(out))
    }
}
