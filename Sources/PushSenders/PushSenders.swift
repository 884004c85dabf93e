public import Logging
public import NIOCore
import AsyncHTTPClient
import Metrics
import NIOPosix
import NIOSSL
public import PushContract
public import PushPolicy

/// All senders built from the config; routes by provider (`external-push-uri` replaces all,
/// as Flexisip).
public final class PushSenders: PushSending {
    private let options: PushNotificationOptions
    private let apns: APNsSender?
    private let firebase: FirebaseSender?
    private let generic: GenericSender?
    private let oauthHTTP: ProxiedHTTPClients
    private let http1: ProxiedHTTPClients
    package let pools: PoolRegistry
    package let lanes: LaneRegistry
    private let clock: any PushClock
    private let logger: Logger
    private let watcher: Task<Void, Never>?

    public convenience init(config: PushFleetConfig, clock: any PushClock = SystemClock(),
                            logger: Logger = Logger(label: "pushfleet.senders")) throws(SenderConfigError) {
        try self.init(config: config, clock: clock, logger: logger, tuning: SenderTuning())
    }

    /// - Parameters:
    ///   - tuning: limits and timings beyond Flexisip's options (tests and benchmarks shrink them).
    ///   - group: event loops for connections; NIO's shared singleton by default.
    public init(config: PushFleetConfig, clock: any PushClock, logger: Logger, tuning: SenderTuning,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, jitterSeed: UInt64? = nil) throws(SenderConfigError) {
        let push = config.pushNotification
        let fleet = config.pushfleet
        if let cleartext = config.cleartextEndpoint {
            throw SenderConfigError(key: cleartext.key, value: cleartext.value, problem: CleartextEndpoint.problem)
        }
        options = push
        self.clock = clock
        self.logger = logger
        let serverTLS = try TLSSetup.context(caFile: fleet.tlsCAFile)
        var ahcConfig = HTTPClient.Configuration()
        var ahcTLS = TLSConfiguration.makeClientConfiguration()
        ahcTLS.certificateVerification = .fullVerification
        if let ca = fleet.tlsCAFile, !ca.isEmpty {
            ahcTLS.additionalTrustRoots = [.file(ca)]
        }
        ahcConfig.tlsConfiguration = ahcTLS
        // A redirect could carry a push or an OAuth assertion to cleartext or another host: a 3xx is an answer, not a hop.
        ahcConfig.redirectConfiguration = .disallow
        // HTTPS_PROXY was resolved into the config when it was loaded: nothing here reads the environment.
        let proxy = fleet.outboundProxy
        oauthHTTP = ProxiedHTTPClients(configuration: ahcConfig, proxy: proxy, group: group)
        var http1Config = ahcConfig
        http1Config.httpVersion = .http1Only
        http1 = ProxiedHTTPClients(configuration: http1Config, proxy: proxy, group: group)
        pools = PoolRegistry(group: group, clock: clock, tuning: tuning, logger: logger, proxy: proxy)
        if let proxy {
            var metadata: Logger.Metadata = ["proxy": "\(proxy)", "source": "\(proxy.source)"]
            if !proxy.noProxy.isEmpty { metadata["no_proxy"] = "\(proxy.noProxy)" }
            logger.info("provider connections go through an HTTP proxy (CONNECT)", metadata: metadata)
        }
        lanes = LaneRegistry(maxQueue: push.maxQueueSize, tuning: tuning, clock: clock)
        let delivery = Delivery(clock: clock, tuning: tuning, seed: jitterSeed)
        do throws(SenderConfigError) {
            if !push.externalPushURI.isEmpty {
                generic = try GenericSender(options: push, tls: serverTLS, http1: http1, pools: pools, lanes: lanes, delivery: delivery)
                apns = nil
                firebase = nil
                watcher = nil
                return
            }
            generic = nil
            if push.apple {
                let store = APNsCertificateStore(directory: push.appleCertificateDir, caFile: fleet.tlsCAFile, clock: clock,
                                                 logger: logger, warningDays: tuning.certificateExpiryWarningDays)
                store.reload()  // logs each skipped file itself
                var signers: [APNsTokenSigner] = []
                for key in fleet.appleTokenKeys { signers.append(try APNsTokenSigner(key: key, clock: clock)) }
                let sender = try APNsSender(options: push, fleet: fleet, certificates: store, signers: signers, tokenTLS: serverTLS,
                                            pools: pools, lanes: lanes, delivery: delivery)
                apns = sender
                let poll = tuning.certificatePollMs
                // Reload without restart; changed certificates get new connections, old ones drain.
                watcher = Task {
                    while !Task.isCancelled {
                        do { try await clock.sleep(for: poll) } catch { return }
                        sender.reloadCertificates()
                    }
                }
            } else {
                apns = nil
                watcher = nil
            }
            if push.firebase {
                if let both = push.firebaseProjectInBothLists {
                    throw SenderConfigError(key: "firebase-service-accounts", value: both,
                                            problem: "project \(both) is also in firebase-projects-api-keys; list each project once")
                }
                var accounts: [String: FirebaseAccessTokens] = [:]
                for entry in push.firebaseServiceAccounts {
                    let account = try FirebaseServiceAccount.load(path: entry.value)
                    if !fleet.allowCleartext, CleartextEndpoint.isCleartext(account.tokenURI) {
                        throw SenderConfigError(key: "firebase-service-accounts", value: "\(entry.value) token_uri=\(account.tokenURI)",
                                                problem: CleartextEndpoint.problem)
                    }
                    accounts[entry.project] = try FirebaseAccessTokens(
                        account: account, http: oauthHTTP, clock: clock,
                        anticipationSeconds: push.firebaseTokenExpirationAnticipationTime,
                        retryIntervalSeconds: push.firebaseDefaultRefreshInterval, timeoutMs: tuning.attemptTimeoutMs, logger: logger)
                }
                let legacy = Dictionary(push.firebaseProjectsAPIKeys.map { ($0.project, $0.value) }) { first, _ in first }
                firebase = try FirebaseSender(fleet: fleet, accounts: accounts, legacyKeys: legacy, tls: serverTLS, pools: pools,
                                              lanes: lanes, delivery: delivery)
            } else {
                firebase = nil
            }
        } catch {
            oauthHTTP.syncShutdown()
            http1.syncShutdown()
            throw error
        }
    }

    public func send(_ request: PushRequest, deadline: EventTime) async -> SendOutcome {
        await send(request, deadline: deadline, trace: nil)
    }

    /// `send`, recording into `trace` the credential chosen, each request as sent (secrets
    /// redacted) and each answer: `pushfleet push` prints them.
    package func send(_ request: PushRequest, deadline: EventTime, trace: ExchangeTrace?) async -> SendOutcome {
        let provider = request.destination.provider
        if let generic { return await generic.send(request, deadline: deadline, trace: trace) }
        switch provider {
        case .apns, .apnsDev: if let apns { return await apns.send(request, deadline: deadline, trace: trace) }
        case .fcm: if let firebase { return await firebase.send(request, deadline: deadline, trace: trace) }
        case .other: break
        }
        // Only a push the strategy would have skipped gets here; it is refused in its words,
        // decided in one place and off the path of every other push.
        let reason = PushStrategy.senderUnavailable(provider, options: options)?.text ?? "no sender was built for provider \(provider.rawValue)"
        return SendOutcome(result: .failed, reason: reason, provider: provider.rawValue)
    }

    /// The credential `send` would use for `request` now; nil when none is configured for it
    /// (`send` then fails naming what is missing).
    package func credential(for request: PushRequest) -> SenderCredential? {
        if generic != nil { return .generic }
        switch request.destination.provider {
        case .apns, .apnsDev: return apns?.credential(for: request)
        case .fcm: return firebase?.credential(for: request)
        case .other: return nil
        }
    }

    /// One connection per credential and destination, and a Firebase access token per service
    /// account, as pushes would open them (`pushfleet config check --connect`). The generic
    /// gateway is not probed: its URL is a template filled per push.
    package func probe(deadline: EventTime) async -> [SenderProbe] {
        var probes: [SenderProbe] = []
        if let apns { probes += await apns.probe(deadline: deadline) }
        if let firebase { probes += await firebase.probe(deadline: deadline) }
        return probes
    }

    /// Re-reads `apple-certificate-dir` now (the watcher also does it every few seconds).
    public func reloadCertificates() {
        apns?.reloadCertificates()
    }

    /// Recomputes the gauges whose value depends on when they are read: each destination's
    /// breaker state and each APNs certificate's remaining lifetime. The metrics endpoint calls
    /// it before every scrape, so neither is a figure frozen at some past event.
    public func refreshMetrics() {
        // Scrapes are also the idle sweep: forgotten destinations leave the scrape they would stale.
        lanes.evictIdle()
        pools.evictIdle()
        let now = clock.now()
        for lane in lanes.all {
            Gauge(label: SenderMetrics.breakerState, dimensions: SenderMetrics.labels(lane: lane.name))
                .record(SenderMetrics.level(lane.breakerState, now: now))
        }
        apns?.certificates?.refreshExpiryGauges()
    }

    /// Names of the APNs certificates currently loaded.
    public var apnsCertificates: [String] { apns?.certificates?.names ?? [] }

    /// Each loaded APNs certificate's end of validity (`config check` reports them).
    package var apnsCertificateExpiries: [String: EventTime] { apns?.certificates?.expiries() ?? [:] }

    /// Files of `apple-certificate-dir` the last load skipped, with the reason.
    package var skippedCertificateFiles: [String: String] { apns?.certificates?.skipped ?? [:] }

    public func shutdown() async {
        watcher?.cancel()
        await pools.shutdown()
        await oauthHTTP.shutdown()
        await http1.shutdown()
    }
}
