import ArgumentParser
import BuildInfo
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
        usage: """
            pushfleet worker (--config <file> | -b <host:port>) [--set <k=v> ...]
              [-X <property=value> ...]
            """,
        discussion: """
            Reads the Flexisip-format config (your flexisip.conf with [kafka] and [pushfleet]), \
            joins the consumer group, restores the schedules of its partitions from the state topic \
            and sends pushes. SIGTERM or SIGINT stops it gracefully: it stops fetching, finishes or \
            persists in-flight work (at most 10 s), commits, leaves the group and exits 0; past \
            30 s, or at a second signal, it exits 1 at once. A fatal Kafka error exits 1.

              pushfleet worker --config /etc/flexisip/flexisip.conf \\
                --set module::PushNotification/timeout=2
            """)

    @OptionGroup var options: ConfigOptions

    /// SIGTERM ends the process within this bound, whatever Kafka and the providers do: 10 s
    /// draining, then commit, leaving the group and a 5 s flush, with room to spare. Below the
    /// Kubernetes manifest's `terminationGracePeriodSeconds` (45 s).
    static let shutdownBound: Duration = .seconds(30)

    func run() async throws {
        let config = try options.load()
        try config.checkWorkerRequirements()
        bootstrapLogging(format: config.pushfleet.logFormat, level: Logger.Level(rawValue: config.pushfleet.logLevel.rawValue) ?? .info)
        let logger = Logger(label: "pushfleet")
        // Signals are handled from here on: a stop during start-up (a slow broker) is bounded too.
        let stopRequested = StopRequest()
        let signals = Task {
            let name = await TerminationSignal.wait { again in
                logger.warning("\(again) again: exiting now")
                ShutdownWatchdog.exitNow(1)
            }
            logger.info("\(name): stopping", metadata: ["bound": "\(Self.shutdownBound)"])
            ShutdownWatchdog.arm(bound: Self.shutdownBound, reason: name, logger: logger)
            await stopRequested.trigger()
        }
        defer { signals.cancel() }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(HelpTextMetricsFactory(registry: registry))
        // Which build each worker runs, as `version`/`revision` labels on a constant 1: a rollout
        // shows as two series, and `* on(instance) group_left(version)` joins it to any metric.
        Gauge(label: "pushfleet_build_info", dimensions: [("version", BuildInfo.version), ("revision", BuildInfo.revision)]).record(1)
        let processMetrics = ProcessMetrics()

        let senders: PushSenders
        do {
            senders = try PushSenders(config: config, logger: Logger(label: "pushfleet.senders"))
        } catch {
            throw CommandError(error)
        }
        let worker: PushWorker
        do {
            worker = try PushWorker(config: config, senders: senders, logger: Logger(label: "pushfleet.worker")) { error in
                // Stopping after a fatal error waits on Kafka too: bounded the same way.
                ShutdownWatchdog.arm(bound: Self.shutdownBound, reason: "\(error)", logger: logger)
            }
        } catch {
            await senders.shutdown()
            throw CommandError(error)
        }
        var services: [any Service] = []
        if !config.pushfleet.metricsListen.isEmpty {
            services.append(try ObservabilityServer(listen: config.pushfleet.metricsListen, registry: registry, logger: logger,
                                                    beforeScrape: { senders.refreshMetrics(); processMetrics.refresh() }) {
                let status = worker.status()
                return EndpointStatus(live: status.live, ready: status.ready, problems: status.problems)
            })
        }
        // Started in order, stopped in reverse: the worker stops first, the endpoint last. A
        // service that fails cancels the others (the endpoint closes on cancellation too), so
        // the worker's error reaches the exit status instead of a process that answers /health.
        services.append(worker)
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup) },
            gracefulShutdownSignals: [], logger: logger))
        await stopRequested.attach { await group.triggerGracefulShutdown() }
        do {
            try await group.run()
        } catch {
            await senders.shutdown()
            throw CommandError(error)
        }
        await senders.shutdown()
    }
}

/// A stop asked for (by a signal) before or after the service group exists.
actor StopRequest {
    private var requested = false
    private var action: (@Sendable () async -> Void)?

    func trigger() async {
        requested = true
        await action?()
    }

    /// Runs `action` on trigger, or at once if a stop was already asked for.
    func attach(_ action: @escaping @Sendable () async -> Void) async {
        self.action = action
        if requested { await action() }
    }
}
