import Foundation

/// Waits for SIGINT or SIGTERM without installing a process-killing default handler.
enum TerminationSignal {
    /// Returns the name of the first termination signal received; `onRepeat` is called (on a
    /// private queue) for each later one.
    static func wait(onRepeat: @escaping @Sendable (String) -> Void = { _ in }) async -> String {
        await withCheckedContinuation { continuation in
            let queue = DispatchQueue(label: "pushfleet.signals")
            let once = Once()
            var sources: [DispatchSourceSignal] = []
            for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    if once.first() { continuation.resume(returning: name) } else { onRepeat(name) }
                }
                source.resume()
                sources.append(source)
            }
            // Keep the sources alive for the life of the process.
            Retainer.keep(sources)
        }
    }

    private final class Once: @unchecked Sendable {
        // @unchecked: only touched on the serial `pushfleet.signals` queue.
        private var fired = false
        func first() -> Bool {
            defer { fired = true }
            return !fired
        }
    }

    private enum Retainer {
        // Written once per `wait()` from its caller; never read, only kept.
        nonisolated(unsafe) static var kept: [any DispatchSourceSignal] = []
        static func keep(_ objects: [any DispatchSourceSignal]) { kept.append(contentsOf: objects) }
    }
}
