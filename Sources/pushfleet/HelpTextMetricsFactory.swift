import Metrics
import PushEngine
import PushSenders
import Prometheus

/// swift-metrics → Prometheus with `# HELP` lines: `PrometheusMetricsFactory` registers every
/// handle with empty help text (swift-metrics has no place for it), so this one makes them
/// through the registry's `make…(descriptor:labels:)` with the text from our catalogs instead.
///
/// - Important: every handle of one name must be made with the same help text (the registry
///   stops the process otherwise), which holds because the text is looked up by name only, and
///   this factory is the only maker of handles. Names missing from the catalogs are exported with
///   empty help (no `# HELP` line), which `promtool check metrics` reports and the deploy test
///   rejects.
struct HelpTextMetricsFactory: MetricsFactory {
    private let base: PrometheusMetricsFactory
    private let help: [String: String]

    init(registry: PrometheusCollectorRegistry, help: [String: String] = HelpTextMetricsFactory.catalog) {
        base = PrometheusMetricsFactory(registry: registry)
        self.help = help
    }

    /// Every metric the worker exports, with its help text.
    static let catalog: [String: String] = EngineMetrics.help.merging(SenderMetrics.help) { engine, _ in engine }
        .merging(["pushfleet_build_info": "Constant 1; the labels are the release and git revision this worker was built from."]) { known, _ in known }
        .merging(ProcessMetrics.help) { known, _ in known }

    private var registry: PrometheusCollectorRegistry { base.registry }

    /// The whole label as the name (no namespace or unit parts to join), with its help text.
    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? "")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions,
                                           buckets: base.valueHistogramBuckets[label] ?? base.defaultValueHistogramBuckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions,
                                       buckets: base.durationHistogramBuckets[label] ?? base.defaultDurationHistogramBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) { base.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { base.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { base.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { base.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { base.destroyTimer(handler) }
}
