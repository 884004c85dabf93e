import Testing

@testable import PushPolicy

/// The text of the error `load` throws, or nil when it loads.
func loadError(_ text: String, overrides: [String] = []) -> String? {
    do {
        _ = try PushFleetConfig.load(text: text, overrides: overrides)
        return nil
    } catch {
        return error.description
    }
}

private let pn = "[module::PushNotification]"

@Suite("Config validation errors")
struct ConfigValidationTests {
    @Test(arguments: [
        ("enabled=yes", "line 2: [module::PushNotification] enabled = yes: must be true or false (or 1 or 0)"),
        ("no-badge=TRUE", "line 2: [module::PushNotification] no-badge = TRUE: must be true or false (or 1 or 0)"),
        ("call-remote-push-interval=45",
         "line 2: [module::PushNotification] call-remote-push-interval = 45: must be an integer in 0...30"),
        ("call-remote-push-interval=1min",
         "line 2: [module::PushNotification] call-remote-push-interval = 1min: must be an integer in 0...30"),
        ("call-remote-push-interval=-1",
         "line 2: [module::PushNotification] call-remote-push-interval = -1: must be an integer in 0...30"),
        ("max-queue-size=0",
         "line 2: [module::PushNotification] max-queue-size = 0: must be an integer ≥ 1 (at most 2147483647)"),
        ("max-queue-size=2147483648",
         "line 2: [module::PushNotification] max-queue-size = 2147483648: must be an integer ≥ 1 (at most 2147483647)"),
        ("max-queue-size=10abc",
         "line 2: [module::PushNotification] max-queue-size = 10abc: must be an integer ≥ 1 (at most 2147483647)"),
        ("retransmission-count=-1",
         "line 2: [module::PushNotification] retransmission-count = -1: must be an integer ≥ 0 (at most 2147483647)"),
        ("retransmission-interval=0",
         "line 2: [module::PushNotification] retransmission-interval = 0: must be an integer ≥ 1 (at most 2147483647)"),
        ("retransmission-interval=500ms",
         "line 2: [module::PushNotification] retransmission-interval = 500ms: unit ms is finer than this option's precision (seconds)"),
        ("register-wakeup-interval=30s",
         "line 2: [module::PushNotification] register-wakeup-interval = 30s: unit s is finer than this option's precision (minutes)"),
        ("timeout=5 # seconds",
         "line 2: [module::PushNotification] timeout = 5 # seconds: must be a duration: an integer number of seconds, "
            + "or an integer with a unit (ms, s, min, h, d, m, y), e.g. 30 or 2min"),
        ("message-time-to-live=99999999999y",
         "line 2: [module::PushNotification] message-time-to-live = 99999999999y: must be an integer ≥ 0 (at most 2147483647)"),
        ("register-wakeup-threshold=101",
         "line 2: [module::PushNotification] register-wakeup-threshold = 101: must be an integer in 0...100"),
        ("firebase-token-expiration-anticipation-time=-5",
         "line 2: [module::PushNotification] firebase-token-expiration-anticipation-time = -5: must be an integer ≥ 0 (at most 2147483647)"),
        ("firebase-default-refresh-interval=0",
         "line 2: [module::PushNotification] firebase-default-refresh-interval = 0: must be an integer ≥ 1 (at most 2147483647)"),
        ("external-push-method=get", "line 2: [module::PushNotification] external-push-method = get: must be GET or POST"),
        ("external-push-protocol=http3", "line 2: [module::PushNotification] external-push-protocol = http3: must be http2 or http"),
        ("external-push-uri=ftp://push.example.org/$type",
         "line 2: [module::PushNotification] external-push-uri = ftp://push.example.org/$type: must be an http:// or https:// URL with a host"),
        ("external-push-uri=https:///path",
         "line 2: [module::PushNotification] external-push-uri = https:///path: must be an http:// or https:// URL with a host"),
        ("firebase-projects-api-keys=123:AAAAsecret 456",
         "line 2: [module::PushNotification] firebase-projects-api-keys = 123:*** ***: each entry must be <Firebase project number>:<server key>"),
        ("firebase-projects-api-keys=abc:AAAAsecret",
         "line 2: [module::PushNotification] firebase-projects-api-keys = abc:***: each entry must be <Firebase project number>:<server key>"),
        ("firebase-service-accounts=123:",
         "line 2: [module::PushNotification] firebase-service-accounts = 123:: each entry must be <Firebase project number>:<path to service account json file>"),
        ("firebase-service-accounts=1:/a.json 1:/b.json",
         "line 2: [module::PushNotification] firebase-service-accounts = 1:/a.json 1:/b.json: project 1 is listed twice"),
        ("firebase-projects-api-keys=7:key\nfirebase-service-accounts=7:/sa.json",
         "line 3: [module::PushNotification] firebase-service-accounts = 7:/sa.json: project 7 is also in "
            + "firebase-projects-api-keys; list each project once (FCM v1 here, or legacy there)"),
        ("timout=5",
         "line 2: [module::PushNotification] timout: unknown option (did you mean timeout?); see docs/configuration.md"),
        ("completely-unrelated-thing=1",
         "line 2: [module::PushNotification] completely-unrelated-thing: unknown option; see docs/configuration.md"),
        ("retransmision-count=1",
         "line 2: [module::PushNotification] retransmision-count: unknown option (did you mean retransmission-count?); see docs/configuration.md"),
        ("windowsphone-packagesid=x",
         "line 2: [module::PushNotification] windowsphone-packagesid: unknown option (did you mean windowsphone-package-sid?); see docs/configuration.md"),
        ("timeout 5", "line 2: expected [section], key=value or a # comment"),
    ])
    func pushNotificationErrors(line: String, message: String) {
        #expect(loadError("\(pn)\n\(line)\n") == message)
    }

    @Test(arguments: [
        ("[module::Router]\ncall-fork-timeout=soon",
         "line 2: [module::Router] call-fork-timeout = soon: must be a duration: an integer number of seconds, "
            + "or an integer with a unit (ms, s, min, h, d, m, y), e.g. 30 or 2min"),
        ("[kafka]\nbootstrap-servers=a:9092,,b:9092",
         "line 2: [kafka] bootstrap-servers = a:9092,,b:9092: must be a comma-separated list of host:port, without spaces or empty entries"),
        ("[kafka]\ngroup-id=", "line 2: [kafka] group-id = : must not be empty"),
        ("[kafka]\nstate-topic=my state",
         "line 2: [kafka] state-topic = my state: must be a Kafka topic name: 1 to 249 of A-Z a-z 0-9 . _ - (not . or ..)"),
        ("[kafka]\noutcomes-topic=pushfleet.events",
         "line 2: [kafka] outcomes-topic = pushfleet.events: same topic as events-topic; the five topics must be distinct"),
        ("[kafka]\nrdkafka.bootstrap.servers=x:1",
         "line 2: [kafka] rdkafka.bootstrap.servers: set by [kafka] bootstrap-servers, not by a passthrough property"),
        ("[kafka]\nrdkafka.group.id=x", "line 2: [kafka] rdkafka.group.id: set by [kafka] group-id, not by a passthrough property"),
        ("[kafka]\nrdkafka.a b=x", "line 2: [kafka] rdkafka.a b: not a librdkafka property name (letters, digits, . and _)"),
        ("[kafka]\ntopics=x", "line 2: [kafka] topics: unknown option; see docs/configuration.md"),
        ("[pushfleet]\napple-token-keys=ABCDE12345:KEY12:/k.p8",
         "line 2: [pushfleet] apple-token-keys = ABCDE12345:KEY12:/k.p8: each entry must be TEAMID:KEYID:/path/AuthKey.p8 with 10-character team and key ids"),
        ("[pushfleet]\napple-token-keys=ABCDE12345:KEY1234567:",
         "line 2: [pushfleet] apple-token-keys = ABCDE12345:KEY1234567:: each entry must be TEAMID:KEYID:/path/AuthKey.p8 with 10-character team and key ids"),
        ("[pushfleet]\napple-token-keys=ABCDE12345:KEY1234567:/a.p8 FGHIJ12345:KEY1234567:/b.p8",
         "line 2: [pushfleet] apple-token-keys = ABCDE12345:KEY1234567:/a.p8 FGHIJ12345:KEY1234567:/b.p8: key id KEY1234567 is listed twice"),
        ("[pushfleet]\nmetrics-listen=9464",
         "line 2: [pushfleet] metrics-listen = 9464: must be host:port (IPv6 as [address]:port), port 0...65535, or empty to disable"),
        ("[pushfleet]\nmetrics-listen=::1:9464",
         "line 2: [pushfleet] metrics-listen = ::1:9464: must be host:port (IPv6 as [address]:port), port 0...65535, or empty to disable"),
        ("[pushfleet]\nmetrics-listen=localhost:70000",
         "line 2: [pushfleet] metrics-listen = localhost:70000: must be host:port (IPv6 as [address]:port), port 0...65535, or empty to disable"),
        ("[pushfleet]\nlog-format=xml", "line 2: [pushfleet] log-format = xml: must be text or json"),
        ("[pushfleet]\nfirebase-uri=fcm.googleapis.com",
         "line 2: [pushfleet] firebase-uri = fcm.googleapis.com: must be an http:// or https:// URL with a host"),
        ("[pushfleet]\napple-push-uri=https://host:0",
         "line 2: [pushfleet] apple-push-uri = https://host:0: must be an http:// or https:// URL with a host"),
        ("[pushfleet]\nlog-formt=json",
         "line 2: [pushfleet] log-formt: unknown option (did you mean log-format?); see docs/configuration.md"),
        ("stray line\n[kafka]", "line 1: expected [section], key=value or a # comment"),
    ])
    func otherSectionErrors(text: String, message: String) {
        #expect(loadError(text) == message)
    }

    @Test func hostileValuesAreEscapedAndShortened() throws {
        let value = String(repeating: "é\t", count: 100)
        let message = try #require(loadError("[pushfleet]\nlog-format=\(value)"))
        let shown = String(repeating: "é\\t", count: 40) + "…"
        #expect(message == "line 2: [pushfleet] log-format = \(shown): must be text or json")
    }

    @Test func bootstrapServersIsReportedWhenMissing() throws {
        let config = try PushFleetConfig.load(text: "")
        #expect(throws: ConfigError.self) { try config.checkWorkerRequirements() }
        do {
            try config.checkWorkerRequirements()
        } catch {
            #expect(error.description == "[kafka] bootstrap-servers: required by the worker: set it to the Kafka brokers, "
                + "e.g. bootstrap-servers=kafka1:9092,kafka2:9092")
        }
        let ready = try PushFleetConfig.load(text: "[kafka]\nbootstrap-servers=k:9092")
        try ready.checkWorkerRequirements()
    }
}
