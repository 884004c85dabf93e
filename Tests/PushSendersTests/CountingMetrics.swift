import CoreMetrics
import Synchronization

/// A metrics backend that keeps counter totals by label and dimensions, for the tests that
/// check a metric (passed to the code under test as its factory: no global bootstrap).
final class CountingMetrics: MetricsFactory {
    private let totals = Mutex<[String: Int64]>([:])

    static func key(_ label: String, _ dimensions: [(String, String)]) -> String {
        ([label] + dimensions.map { "\($0.0)=\($0.1)" }).joined(separator: ",")
    }

    func total(_ label: String, _ dimensions: [(String, String)]) -> Int64 {
        totals.withLock { $0[Self.key(label, dimensions)] ?? 0 }
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        Handler(owner: self, key: Self.key(label, dimensions))
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler { NOOPMetricsHandler.instance }
    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler { NOOPMetricsHandler.instance }
    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}

    final class Handler: CounterHandler {
        let owner: CountingMetrics
        let key: String
        init(owner: CountingMetrics, key: String) {
            self.owner = owner
            self.key = key
        }
        func increment(by amount: Int64) { owner.totals.withLock { $0[key, default: 0] += amount } }
        func reset() { owner.totals.withLock { $0[key] = 0 } }
    }
}
