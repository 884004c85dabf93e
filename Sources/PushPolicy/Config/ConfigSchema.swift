/// Every key PushFleet reads, per section: how to parse it into `PushFleetConfig` and how to
/// print it back. One table serves loading, `dump()` and "did you mean" hints, so they cannot
/// drift apart.
struct OptionSpec: Sendable {
    enum Secret: Sendable, Equatable {
        case none
        /// `project:secret` pairs: the project stays visible, the secret becomes `***`.
        case projectPairs
        /// A URL whose user info (`user:password@`) becomes `***@`.
        case urlCredentials
    }

    let key: String
    var secret = Secret.none
    let apply: @Sendable (inout PushFleetConfig, String) throws(ConfigProblem) -> Void
    let dump: @Sendable (PushFleetConfig) -> String

    func displayed(_ value: String) -> String {
        switch secret {
        case .none: ConfigText.display(value)
        case .projectPairs: ConfigText.display(OptionSpec.maskPairs(value))
        case .urlCredentials: ConfigText.display(OutboundProxy.masked(value))
        }
    }

    static func maskPairs(_ value: String) -> String {
        ConfigValues.list(value).map { entry in
            entry.firstIndex(of: ":").map { entry[..<$0] + ":***" } ?? "***"
        }.joined(separator: " ")
    }
}

struct SectionSpec: Sendable {
    let name: String
    let options: [OptionSpec]
    /// Keys Flexisip knows but PushFleet ignores, with the reason given in the warning.
    var flexisipOnly: [(key: String, reason: String)] = []
    /// `[module::Router]` holds many routing keys irrelevant to pushes: skip them silently.
    var ignoresOtherKeys = false
    /// `[kafka]` passes `rdkafka.<property>` keys to librdkafka.
    var acceptsRdkafka = false

    func option(_ key: some StringProtocol) -> OptionSpec? {
        options.first { ConfigText.sameName($0.key, key) }
    }
}

enum ConfigSchema {
    static let pushNotification = "module::PushNotification"
    static let router = "module::Router"
    static let kafka = "kafka"
    static let pushfleet = "pushfleet"

    static let sections = [pushNotificationSection, routerSection, kafkaSection, pushFleetSection]

    static func section(_ name: some StringProtocol) -> SectionSpec? {
        sections.first { ConfigText.sameName($0.name, name) }
    }

    typealias Config = PushFleetConfig
    static let anyInt = 0...ConfigValues.intMax
    static let positiveInt = 1...ConfigValues.intMax

    // MARK: [module::PushNotification]

    static let pushNotificationSection = SectionSpec(
        name: pushNotification,
        options: [
            OptionSpec(key: "enabled", apply: { c, v throws(ConfigProblem) in c.pushNotification.enabled = try ConfigValues.bool(v) },
                       dump: { String($0.pushNotification.enabled) }),
            OptionSpec(key: "filter", apply: { c, v in c.pushNotification.filter = v }, dump: { $0.pushNotification.filter }),
            OptionSpec(key: "timeout", apply: { c, v throws(ConfigProblem) in
                // Flexisip sends at once for any value ≤ 0; store the effective value.
                c.pushNotification.timeout = max(0, try ConfigValues.duration(v, unit: .seconds, in: anyInt, allowNegative: true))
            }, dump: { String($0.pushNotification.timeout) }),
            OptionSpec(key: "message-time-to-live", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.messageTimeToLive = try ConfigValues.duration(v, unit: .seconds, in: anyInt)
            }, dump: { String($0.pushNotification.messageTimeToLive) }),
            OptionSpec(key: "max-queue-size", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.maxQueueSize = try ConfigValues.int(v, in: positiveInt)
            }, dump: { String($0.pushNotification.maxQueueSize) }),
            OptionSpec(key: "retransmission-count", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.retransmissionCount = try ConfigValues.int(v, in: anyInt)
            }, dump: { String($0.pushNotification.retransmissionCount) }),
            OptionSpec(key: "retransmission-interval", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.retransmissionInterval = try ConfigValues.duration(v, unit: .seconds, in: positiveInt)
            }, dump: { String($0.pushNotification.retransmissionInterval) }),
            OptionSpec(key: "call-remote-push-interval", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.callRemotePushInterval = try ConfigValues.duration(v, unit: .seconds, in: 0...30)
            }, dump: { String($0.pushNotification.callRemotePushInterval) }),
            OptionSpec(key: "display-from-uri", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.displayFromURI = try ConfigValues.bool(v)
            }, dump: { String($0.pushNotification.displayFromURI) }),
            OptionSpec(key: "apple", apply: { c, v throws(ConfigProblem) in c.pushNotification.apple = try ConfigValues.bool(v) },
                       dump: { String($0.pushNotification.apple) }),
            OptionSpec(key: "apple-certificate-dir", apply: { c, v in c.pushNotification.appleCertificateDir = v },
                       dump: { $0.pushNotification.appleCertificateDir }),
            OptionSpec(key: "no-badge", apply: { c, v throws(ConfigProblem) in c.pushNotification.noBadge = try ConfigValues.bool(v) },
                       dump: { String($0.pushNotification.noBadge) }),
            OptionSpec(key: "firebase", apply: { c, v throws(ConfigProblem) in c.pushNotification.firebase = try ConfigValues.bool(v) },
                       dump: { String($0.pushNotification.firebase) }),
            OptionSpec(key: "firebase-projects-api-keys", secret: .projectPairs, apply: { c, v throws(ConfigProblem) in
                c.pushNotification.firebaseProjectsAPIKeys = try projectPairs(v, what: "server key")
            }, dump: { pairs($0.pushNotification.firebaseProjectsAPIKeys) }),
            OptionSpec(key: "firebase-service-accounts", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.firebaseServiceAccounts = try projectPairs(v, what: "path to service account json file")
            }, dump: { pairs($0.pushNotification.firebaseServiceAccounts) }),
            OptionSpec(key: "firebase-token-expiration-anticipation-time", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.firebaseTokenExpirationAnticipationTime = try ConfigValues.int(v, in: anyInt)
            }, dump: { String($0.pushNotification.firebaseTokenExpirationAnticipationTime) }),
            OptionSpec(key: "firebase-default-refresh-interval", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.firebaseDefaultRefreshInterval = try ConfigValues.int(v, in: positiveInt)
            }, dump: { String($0.pushNotification.firebaseDefaultRefreshInterval) }),
            OptionSpec(key: "external-push-uri", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.externalPushURI = v.isEmpty ? "" : try ConfigValues.httpURL(v)
            }, dump: { $0.pushNotification.externalPushURI }),
            OptionSpec(key: "external-push-method", apply: { c, v throws(ConfigProblem) in
                guard let method = PushNotificationOptions.HTTPMethod(rawValue: v) else { throw ConfigProblem("must be GET or POST") }
                c.pushNotification.externalPushMethod = method
            }, dump: { $0.pushNotification.externalPushMethod.rawValue }),
            OptionSpec(key: "external-push-protocol", apply: { c, v throws(ConfigProblem) in
                guard let proto = PushNotificationOptions.ExternalPushProtocol(rawValue: v) else {
                    throw ConfigProblem("must be http2 or http")
                }
                c.pushNotification.externalPushProtocol = proto
            }, dump: { $0.pushNotification.externalPushProtocol.rawValue }),
            OptionSpec(key: "register-wakeup-interval", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.registerWakeupInterval = try ConfigValues.duration(v, unit: .minutes, in: anyInt)
            }, dump: { String($0.pushNotification.registerWakeupInterval) }),
            OptionSpec(key: "register-wakeup-threshold", apply: { c, v throws(ConfigProblem) in
                c.pushNotification.registerWakeupThreshold = try ConfigValues.int(v, in: 0...100)
            }, dump: { String($0.pushNotification.registerWakeupThreshold) }),
        ],
        flexisipOnly: [
            ("add-to-tag-filter", "provisional responses belong to the SIP router, not to the push workers"),
            ("google", "deprecated since Flexisip 2.0, no effect"),
            ("google-projects-api-keys", "deprecated since Flexisip 2.0, no effect"),
            ("time-to-live", "deprecated since Flexisip 2.0, no effect; message-time-to-live applies"),
            ("windowsphone", "Windows push is not handled since Flexisip 2.3"),
            ("windowsphone-package-sid", "Windows push is not handled since Flexisip 2.3"),
            ("windowsphone-application-secret", "Windows push is not handled since Flexisip 2.3"),
            ("apns-server", "an option of later Flexisip versions; use [pushfleet] apple-push-uri"),
            ("apns-dev-server", "an option of later Flexisip versions; use [pushfleet] apple-dev-push-uri"),
            ("external-push-flexiapi", "an option of later Flexisip versions (FlexiAPI pusher), not supported"),
            ("enable-message-summaries-pn", "an option of later Flexisip versions (NOTIFY pushes), not supported"),
        ])

    // MARK: [module::Router]

    static let routerSection = SectionSpec(
        name: router,
        options: [
            OptionSpec(key: "call-fork-timeout", apply: { c, v throws(ConfigProblem) in
                c.router.callForkTimeout = try ConfigValues.duration(v, unit: .seconds, in: anyInt)
            }, dump: { String($0.router.callForkTimeout) }),
            OptionSpec(key: "message-delivery-timeout", apply: { c, v throws(ConfigProblem) in
                c.router.messageDeliveryTimeout = try ConfigValues.duration(v, unit: .seconds, in: anyInt)
            }, dump: { String($0.router.messageDeliveryTimeout) }),
        ],
        ignoresOtherKeys: true)

    // MARK: [kafka]

    static let kafkaSection = SectionSpec(
        name: kafka,
        options: [
            OptionSpec(key: "bootstrap-servers", apply: { c, v throws(ConfigProblem) in
                c.kafka.bootstrapServers = v.isEmpty ? nil : try bootstrapServers(v)
            }, dump: { $0.kafka.bootstrapServers ?? "" }),
            OptionSpec(key: "group-id", apply: { c, v throws(ConfigProblem) in c.kafka.groupId = try ConfigValues.nonEmpty(v) },
                       dump: { $0.kafka.groupId }),
            OptionSpec(key: "events-topic", apply: { c, v throws(ConfigProblem) in c.kafka.eventsTopic = try ConfigValues.topic(v) },
                       dump: { $0.kafka.eventsTopic }),
            OptionSpec(key: "registrations-topic", apply: { c, v throws(ConfigProblem) in
                c.kafka.registrationsTopic = try ConfigValues.topic(v)
            }, dump: { $0.kafka.registrationsTopic }),
            OptionSpec(key: "state-topic", apply: { c, v throws(ConfigProblem) in c.kafka.stateTopic = try ConfigValues.topic(v) },
                       dump: { $0.kafka.stateTopic }),
            OptionSpec(key: "outcomes-topic", apply: { c, v throws(ConfigProblem) in c.kafka.outcomesTopic = try ConfigValues.topic(v) },
                       dump: { $0.kafka.outcomesTopic }),
            OptionSpec(key: "dead-letter-topic", apply: { c, v throws(ConfigProblem) in
                c.kafka.deadLetterTopic = try ConfigValues.topic(v)
            }, dump: { $0.kafka.deadLetterTopic }),
        ],
        acceptsRdkafka: true)

    /// librdkafka properties PushFleet sets from its own keys; a passthrough would contradict them.
    static let reservedRdkafka = [
        "bootstrap.servers": "bootstrap-servers", "metadata.broker.list": "bootstrap-servers", "group.id": "group-id",
    ]

    /// librdkafka property names whose values are secrets (`dump()` prints `***`): any name
    /// containing one of these fragments.
    static let secretRdkafkaFragments = ["password", "secret", "sasl.oauthbearer.config", "ssl.key.pem", "ssl_key"]

    static func isSecretRdkafka(_ property: String) -> Bool {
        let lower = property.lowercased()
        return secretRdkafkaFragments.contains { lower.contains($0) }
    }

    // MARK: [pushfleet]

    static let pushFleetSection = SectionSpec(
        name: pushfleet,
        options: [
            OptionSpec(key: "apple-token-keys", apply: { c, v throws(ConfigProblem) in
                c.pushfleet.appleTokenKeys = try appleTokenKeys(v)
            }, dump: { $0.pushfleet.appleTokenKeys.map { "\($0.teamId):\($0.keyId):\($0.path)" }.joined(separator: " ") }),
            OptionSpec(key: "apple-push-uri", apply: { c, v throws(ConfigProblem) in c.pushfleet.applePushURI = try ConfigValues.httpURL(v) },
                       dump: { $0.pushfleet.applePushURI }),
            OptionSpec(key: "apple-dev-push-uri", apply: { c, v throws(ConfigProblem) in
                c.pushfleet.appleDevPushURI = try ConfigValues.httpURL(v)
            }, dump: { $0.pushfleet.appleDevPushURI }),
            OptionSpec(key: "firebase-uri", apply: { c, v throws(ConfigProblem) in c.pushfleet.firebaseURI = try ConfigValues.httpURL(v) },
                       dump: { $0.pushfleet.firebaseURI }),
            OptionSpec(key: "tls-ca-file", apply: { c, v in c.pushfleet.tlsCAFile = v.isEmpty ? nil : v },
                       dump: { $0.pushfleet.tlsCAFile ?? "" }),
            OptionSpec(key: "allow-cleartext", apply: { c, v throws(ConfigProblem) in
                c.pushfleet.allowCleartext = try ConfigValues.bool(v)
            }, dump: { String($0.pushfleet.allowCleartext) }),
            OptionSpec(key: "https-proxy", secret: .urlCredentials, apply: { c, v throws(ConfigProblem) in
                if v.isEmpty || v == OutboundProxy.none {
                    c.pushfleet.httpsProxy = v
                    c.pushfleet.outboundProxy = nil
                    return
                }
                do throws(ProxyParseError) {
                    c.pushfleet.outboundProxy = try OutboundProxy.parse(v, source: "[pushfleet] https-proxy")
                } catch {
                    throw ConfigProblem(error.message)
                }
                c.pushfleet.httpsProxy = v
            }, dump: { $0.pushfleet.httpsProxy }),
            OptionSpec(key: "metrics-listen", apply: { c, v throws(ConfigProblem) in
                c.pushfleet.metricsListen = try ConfigValues.listenAddress(v)
            }, dump: { $0.pushfleet.metricsListen }),
            OptionSpec(key: "log-format", apply: { c, v throws(ConfigProblem) in
                guard let format = PushFleetOptions.LogFormat(rawValue: v) else { throw ConfigProblem("must be text or json") }
                c.pushfleet.logFormat = format
            }, dump: { $0.pushfleet.logFormat.rawValue }),
            OptionSpec(key: "log-level", apply: { c, v throws(ConfigProblem) in
                guard let level = PushFleetOptions.LogLevel(rawValue: v) else {
                    throw ConfigProblem("must be one of \(PushFleetOptions.LogLevel.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                c.pushfleet.logLevel = level
            }, dump: { $0.pushfleet.logLevel.rawValue }),
        ])

    // MARK: list values

    static func projectPairs(_ value: String, what: String) throws(ConfigProblem) -> [ProjectCredential] {
        var result: [ProjectCredential] = []
        for entry in ConfigValues.list(value) {
            guard let colon = entry.firstIndex(of: ":"), colon != entry.startIndex,
                entry[..<colon].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                entry.index(after: colon) != entry.endIndex
            else { throw ConfigProblem("each entry must be <Firebase project number>:<\(what)>") }
            let project = String(entry[..<colon])
            guard !result.contains(where: { $0.project == project }) else {
                throw ConfigProblem("project \(project) is listed twice")
            }
            result.append(ProjectCredential(project: project, value: String(entry[entry.index(after: colon)...])))
        }
        return result
    }

    static func pairs(_ credentials: [ProjectCredential]) -> String {
        credentials.map { "\($0.project):\($0.value)" }.joined(separator: " ")
    }

    static func appleTokenKeys(_ value: String) throws(ConfigProblem) -> [AppleTokenKey] {
        var keys: [AppleTokenKey] = []
        for entry in ConfigValues.list(value) {
            let parts = entry.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            func isId(_ s: Substring) -> Bool {
                s.utf8.count == 10 && s.utf8.allSatisfy { $0.isASCIIAlphanumeric }
            }
            guard parts.count == 3, isId(parts[0]), isId(parts[1]), !parts[2].isEmpty else {
                throw ConfigProblem("each entry must be TEAMID:KEYID:/path/AuthKey.p8 with 10-character team and key ids")
            }
            let key = AppleTokenKey(teamId: String(parts[0]), keyId: String(parts[1]), path: String(parts[2]))
            guard !keys.contains(where: { $0.keyId == key.keyId }) else {
                throw ConfigProblem("key id \(key.keyId) is listed twice")
            }
            keys.append(key)
        }
        return keys
    }

    static func bootstrapServers(_ value: String) throws(ConfigProblem) -> String {
        let entries = value.split(separator: ",", omittingEmptySubsequences: false)
        guard entries.allSatisfy({ !$0.isEmpty && !$0.contains(" ") && !$0.contains("\t") }) else {
            throw ConfigProblem("must be a comma-separated list of host:port, without spaces or empty entries")
        }
        return value
    }
}
