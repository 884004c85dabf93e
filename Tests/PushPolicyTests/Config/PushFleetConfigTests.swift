import Foundation
import Testing

@testable import PushPolicy

/// The repository root, for files shipped in `docs/`.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("PushFleetConfig loading")
struct PushFleetConfigTests {
    @Test func emptyTextGivesTheDefaults() throws {
        let config = try PushFleetConfig.load(text: "")
        #expect(config.pushNotification == PushNotificationOptions())
        #expect(config.router == RouterOptions())
        #expect(config.warnings.isEmpty)
        let kafka = config.kafka
        #expect(kafka.bootstrapServers == nil)
        #expect(kafka.groupId == "pushfleet")
        #expect([kafka.eventsTopic, kafka.registrationsTopic, kafka.stateTopic, kafka.outcomesTopic, kafka.deadLetterTopic]
            == ["pushfleet.events", "pushfleet.registrations", "pushfleet.state", "pushfleet.outcomes", "pushfleet.dead-letter"])
        #expect(kafka.rdkafka.isEmpty)
        let fleet = config.pushfleet
        #expect(fleet.appleTokenKeys.isEmpty)
        #expect(fleet.applePushURI == "https://api.push.apple.com")
        #expect(fleet.appleDevPushURI == "https://api.development.push.apple.com")
        #expect(fleet.firebaseURI == "https://fcm.googleapis.com")
        #expect(fleet.tlsCAFile == nil)
        #expect(fleet.metricsListen == "127.0.0.1:9464")
        #expect(fleet.logFormat == .text)
    }

    static let everyKey = """
        [module::PushNotification]
        enabled=1
        filter=from.uri.domain contains 'sip.linphone.org' && is_request
        timeout=-3
        message-time-to-live=1d
        max-queue-size=7
        retransmission-count=3
        retransmission-interval=4
        call-remote-push-interval=30s
        display-from-uri=true
        apple=0
        apple-certificate-dir=/certs
        no-badge=true
        firebase=false
        firebase-projects-api-keys=111:AAAAkey1, 222:AAAAkey2
        firebase-service-accounts=333:/sa/a.json
        firebase-token-expiration-anticipation-time=120
        firebase-default-refresh-interval=30
        external-push-uri=http://192.168.0.2/$type/$event?from-uri=$from-uri&callid=$call-id
        external-push-method=POST
        external-push-protocol=http
        register-wakeup-interval=1h
        register-wakeup-threshold=80

        [module::Router]
        fork-late=true
        call-fork-timeout=2min
        message-delivery-timeout=3600

        [kafka]
        bootstrap-servers=k1:9092,k2:9092
        group-id=fleet-a
        events-topic=e
        registrations-topic=r
        state-topic=s
        outcomes-topic=o
        dead-letter-topic=d
        rdkafka.security.protocol=SSL
        rdkafka.fetch.wait.max.ms=10

        [pushfleet]
        apple-token-keys=ABCDE12345:KEY1234567:/keys/a.p8 FGHIJ67890:KEY7654321:/keys/b:colon.p8
        apple-push-uri=https://127.0.0.1:8443
        apple-dev-push-uri=http://localhost:8080/apns
        firebase-uri=https://[::1]:9443
        tls-ca-file=/etc/pushfleet/ca.pem
        allow-cleartext=true
        metrics-listen=[::1]:0
        log-format=json
        """

    @Test func everyKeyIsParsed() throws {
        let config = try PushFleetConfig.load(text: Self.everyKey)
        var push = PushNotificationOptions()
        push.enabled = true
        push.filter = "from.uri.domain contains 'sip.linphone.org' && is_request"
        push.timeout = 0  // negative means "at once", as Flexisip
        push.messageTimeToLive = 86_400
        push.maxQueueSize = 7
        push.retransmissionCount = 3
        push.retransmissionInterval = 4
        push.callRemotePushInterval = 30
        push.displayFromURI = true
        push.apple = false
        push.appleCertificateDir = "/certs"
        push.noBadge = true
        push.firebase = false
        push.firebaseProjectsAPIKeys = [.init(project: "111", value: "AAAAkey1"), .init(project: "222", value: "AAAAkey2")]
        push.firebaseServiceAccounts = [.init(project: "333", value: "/sa/a.json")]
        push.firebaseTokenExpirationAnticipationTime = 120
        push.firebaseDefaultRefreshInterval = 30
        push.externalPushURI = "http://192.168.0.2/$type/$event?from-uri=$from-uri&callid=$call-id"
        push.externalPushMethod = .post
        push.externalPushProtocol = .http
        push.registerWakeupInterval = 60
        push.registerWakeupThreshold = 80
        #expect(config.pushNotification == push)
        #expect(config.router.callForkTimeout == 120)
        #expect(config.router.messageDeliveryTimeout == 3600)
        #expect(config.kafka.bootstrapServers == "k1:9092,k2:9092")
        #expect(config.kafka.groupId == "fleet-a")
        #expect([config.kafka.eventsTopic, config.kafka.registrationsTopic, config.kafka.stateTopic,
                 config.kafka.outcomesTopic, config.kafka.deadLetterTopic] == ["e", "r", "s", "o", "d"])
        #expect(config.kafka.rdkafka.map(\.0) == ["security.protocol", "fetch.wait.max.ms"])
        #expect(config.kafka.rdkafka.map(\.1) == ["SSL", "10"])
        #expect(config.pushfleet.appleTokenKeys == [
            AppleTokenKey(teamId: "ABCDE12345", keyId: "KEY1234567", path: "/keys/a.p8"),
            AppleTokenKey(teamId: "FGHIJ67890", keyId: "KEY7654321", path: "/keys/b:colon.p8"),
        ])
        #expect(config.pushfleet.applePushURI == "https://127.0.0.1:8443")
        #expect(config.pushfleet.appleDevPushURI == "http://localhost:8080/apns")
        #expect(config.pushfleet.firebaseURI == "https://[::1]:9443")
        #expect(config.pushfleet.tlsCAFile == "/etc/pushfleet/ca.pem")
        #expect(config.pushfleet.allowCleartext)
        #expect(config.pushfleet.metricsListen == "[::1]:0")
        #expect(config.pushfleet.logFormat == .json)
        #expect(config.warnings.isEmpty)
    }

    @Test(arguments: [
        ("5", 5), ("5s", 5), ("2min", 120), ("1h", 3600), ("1d", 86_400), ("1m", 2_629_746), ("1y", 31_556_952), ("0", 0),
    ])
    func durationUnits(text: String, seconds: Int) throws {
        let config = try PushFleetConfig.load(text: "[module::Router]\ncall-fork-timeout=\(text)")
        #expect(config.router.callForkTimeout == seconds)
    }

    @Test func overridesWinOverTheFile() throws {
        let config = try PushFleetConfig.load(
            text: "[module::PushNotification]\ntimeout=5\n[kafka]\nrdkafka.linger.ms=5\n",
            overrides: [
                "module::PushNotification/timeout=7",
                "Module::PushNotification/ENABLED = true",
                "kafka/rdkafka.linger.ms=1",
                "kafka/rdkafka.acks=all",
                "pushfleet/tls-ca-file=/ca=with=equals.pem",
                "module::PushNotification/external-push-uri=",
                "global/log-level=debug",
            ])
        #expect(config.pushNotification.timeout == 7)
        #expect(config.pushNotification.enabled)
        #expect(config.kafka.rdkafka.map(\.0) == ["linger.ms", "acks"])
        #expect(config.kafka.rdkafka.map(\.1) == ["1", "all"])
        #expect(config.pushfleet.tlsCAFile == "/ca=with=equals.pem")
        #expect(config.warnings == ["--set global/log-level=debug: section [global] is not read by PushFleet, ignored"])
    }

    @Test(arguments: [
        ("timeout=5", "--set timeout=5: expected section/key=value, e.g. module::PushNotification/timeout=5"),
        ("module::PushNotification/timeout", "--set module::PushNotification/timeout: expected section/key=value, e.g. module::PushNotification/timeout=5"),
        ("a/b/c=1", "--set a/b/c=1: expected section/key=value, e.g. module::PushNotification/timeout=5"),
        ("/timeout=1", "--set /timeout=1: expected section/key=value, e.g. module::PushNotification/timeout=5"),
        ("kafka/group-id=a\nb", "--set kafka/group-id=a\\nb: value contains a control character"),
        ("module::PushNotification/timeout=x",
         "--set module::PushNotification/timeout=x: [module::PushNotification] timeout = x: must be a duration: an integer number of seconds, "
            + "or an integer with a unit (ms, s, min, h, d, m, y), e.g. 30 or 2min"),
        ("module::PushNotification/timeot=1",
         "--set module::PushNotification/timeot=1: [module::PushNotification] timeot: unknown option (did you mean timeout?); see docs/configuration.md"),
    ])
    func malformedOverridesAreNamed(override: String, message: String) {
        #expect(loadError("", overrides: [override]) == message)
    }

    @Test func flexisipOnlyKeysWarnAndUnrelatedSectionsAreIgnored() throws {
        let config = try PushFleetConfig.load(
            text: """
                orphan=1
                [global]
                anything=goes
                not even a key
                [module::Registrar]
                reg-domains=example.org
                [module::Router]
                fork-late=true
                no-such-router-key=whatever
                [module::PushNotification]
                windowsphone=true
                google-projects-api-keys=1:x
                apns-server=https://apns.example
                [module::PushNotifications]
                [Kafka]
                group-id=g
                """)
        #expect(config.kafka.groupId == "g")
        #expect(config.warnings == [
            "line 1: orphan is outside any section, ignored",
            "line 11: [module::PushNotification] windowsphone: Flexisip option not implemented by PushFleet, ignored "
                + "(Windows push is not handled since Flexisip 2.3)",
            "line 12: [module::PushNotification] google-projects-api-keys: Flexisip option not implemented by PushFleet, ignored "
                + "(deprecated since Flexisip 2.0, no effect)",
            "line 13: [module::PushNotification] apns-server: Flexisip option not implemented by PushFleet, ignored "
                + "(an option of later Flexisip versions; use [pushfleet] apple-push-uri)",
            "line 14: section [module::PushNotifications] is ignored; did you mean [module::PushNotification]?",
        ])
    }

    @Test func theShippedExampleLoads() throws {
        let path = repositoryRoot.appendingPathComponent("docs/examples/flexisip.conf").path
        let config = try PushFleetConfig.load(path: path, environment: ["KAFKA_SASL_PASSWORD": "from-env"])
        try config.checkWorkerRequirements()
        #expect(config.kafka.rdkafka.first { $0.0 == "sasl.password" }?.1 == "from-env")
        #expect(config.pushNotification.enabled)
        #expect(config.pushNotification.filter == "to.uri.domain == 'sip.example.org'")
        #expect(config.pushNotification.firebaseServiceAccounts.map(\.project) == ["123456789012", "210987654321"])
        #expect(config.pushNotification.registerWakeupInterval == 30)
        #expect(config.router.callForkTimeout == 60)
        #expect(config.router.messageDeliveryTimeout == 604_800)
        #expect(config.kafka.rdkafka.count == 5)
        #expect(config.pushfleet.appleTokenKeys.map(\.keyId) == ["KEY1234567"])
        #expect(config.pushfleet.logFormat == .json)
        #expect(config.warnings.count == 1, "\(config.warnings)")
        #expect(config.warnings.first?.hasPrefix("\(path):") == true)
        #expect(config.warnings.first?.contains("windowsphone") == true)
    }

    @Test func fileErrorsNameThePath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func message(_ path: String) -> String? {
            do {
                _ = try PushFleetConfig.load(path: path)
                return nil
            } catch {
                return error.description
            }
        }
        let missing = dir.appendingPathComponent("missing.conf").path
        #expect(message(missing) == "\(missing): cannot read config file: no such file")
        #expect(message(dir.path) == "\(dir.path): cannot read config file: it is a directory")
        let latin1 = dir.appendingPathComponent("latin1.conf")
        try Data([0x5B, 0x61, 0x5D, 0x0A, 0x6B, 0x3D, 0xE9, 0x0A]).write(to: latin1)
        #expect(message(latin1.path) == "\(latin1.path): config file is not valid UTF-8")
        let bad = dir.appendingPathComponent("bad.conf")
        try Data("[pushfleet]\n\nlog-format=yaml\n".utf8).write(to: bad)
        #expect(message(bad.path) == "\(bad.path):3: [pushfleet] log-format = yaml: must be text or json")
    }
}
