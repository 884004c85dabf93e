import ArgumentParser
import Logging
import Metrics
import PushEngine
import PushPolicy
import PushSenders
import Prometheus
import ServiceLifecycle

/// `pushfleet worker`: one member of the fleet.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker of the fleet (consumer group member, schedules, senders).",
        discussion: """
            Reads the Flexisip-format config (your flexisip.conf with [kafka] and [pushfleet]), \
            joins the consumer group, restores the schedules of its partitions from the state topic \
            and sends pushes. SIGTERM or SIGINT stops it gracefully: it stops fetching, finishes or \
            persists in-flight work, commits, leaves the group and exits 0.

              pushfleet worker --config /etc/flexisip/flexisip.conf --set module::PushNotification/timeout=2
            """)

    @OptionGroup var options: ConfigOptions

    func run() async throws {
        let config = try options.load()
        try config.checkWorkerRequirements()
        bootstrapLogging(format: config.pushfleet.logFormat)
        let logger = Logger(label: "pushfleet")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(HelpTextMetricsFactory(registry: registry))

        let senders: PushSenders
        do {
            senders = try PushSenders(config: config, logger: Logger(label: "pushfleet.senders"))
        } catch {
            throw CommandError("\(error)")
        }
        let worker: PushWorker
        do {
            worker = try PushWorker(config: config, senders: senders, logger: Logger(label: "pushfleet.worker"))
        } catch {
            await senders.shutdown()
            throw CommandError("\(error)")
        }
        var services: [any Service] = []
        if !config.pushfleet.metricsListen.isEmpty {
            services.append(try ObservabilityServer(listen: config.pushfleet.metricsListen, registry: registry, logger: logger,
                                                    beforeScrape: { senders.refreshMetrics() }) {
                worker.isReady
            })
        }
        // Started in order, stopped in reverse: the worker stops first, the endpoint last.
        services.append(worker)
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            await senders.shutdown()
            throw CommandError("\(error)")
        }
        await senders.shutdown()
    }
}
