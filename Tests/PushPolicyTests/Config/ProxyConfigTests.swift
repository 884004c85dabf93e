import Testing

@testable import PushPolicy

/// `[pushfleet] https-proxy`, `HTTPS_PROXY` and `NO_PROXY`.
@Suite("Outbound proxy configuration")
struct ProxyConfigTests {
    func load(_ text: String, environment: [String: String] = [:]) throws -> PushFleetConfig {
        try PushFleetConfig.load(text: text, environment: environment)
    }

    func error(_ text: String, environment: [String: String] = [:]) -> String? {
        do {
            _ = try load(text, environment: environment)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func theKeyGivesHostPortAndCredentials() throws {
        let config = try load("[pushfleet]\nhttps-proxy=http://fleet:p%40ss%3Aw0rd@proxy.corp:3128/")
        let proxy = try #require(config.pushfleet.outboundProxy)
        #expect(proxy.host == "proxy.corp")
        #expect(proxy.port == 3128)
        #expect(proxy.username == "fleet")
        #expect(proxy.password == "p@ss:w0rd")
        #expect(proxy.basicAuthorization == "Basic ZmxlZXQ6cEBzczp3MHJk")
        #expect(proxy.source == "[pushfleet] https-proxy")
        #expect("\(proxy)" == "proxy.corp:3128")
        // Neither a debug print nor a reflecting dump of the proxy shows the credentials (the raw
        // `httpsProxy` string holds them, as the config holds every secret it was given).
        var reflected = ""
        dump(proxy, to: &reflected)
        for text in [String(reflecting: proxy), reflected] {
            #expect(text.contains("proxy.corp:3128") && text.contains("***"), "\(text)")
            #expect(!text.contains("w0rd") && !text.contains("fleet:"), "\(text)")
        }
        let v6 = try #require(try load("[pushfleet]\nhttps-proxy=http://[fd00::1]:8080").pushfleet.outboundProxy)
        #expect(v6.host == "fd00::1")
        #expect("\(v6)" == "[fd00::1]:8080")
        #expect(v6.basicAuthorization == nil)
        #expect(try load("").pushfleet.outboundProxy == nil)
        #expect(try load("[pushfleet]\nhttps-proxy=").pushfleet.outboundProxy == nil)
    }

    @Test(arguments: [
        ("proxy.corp:3128", OutboundProxy.allowed),
        ("http://proxy.corp", "the port is missing: " + OutboundProxy.allowed),
        ("http://proxy.corp:0", OutboundProxy.allowed),
        ("http://proxy.corp:65536", OutboundProxy.allowed),
        ("http://proxy.corp:3128/path", OutboundProxy.allowed),
        ("http://:3128", OutboundProxy.allowed),
        ("socks5://proxy.corp:1080", "scheme socks5 is not supported: " + OutboundProxy.allowed),
        ("https://proxy.corp:3128", "a TLS connection to the proxy is not supported: use http://host:port "
            + "(the CONNECT tunnel carries TLS to the provider end to end)"),
    ])
    func aMalformedValueNamesKeyValueAndWhatIsAllowed(value: String, problem: String) {
        #expect(error("[pushfleet]\nhttps-proxy=\(value)") == "line 2: [pushfleet] https-proxy = \(value): \(problem)")
    }

    @Test func credentialsAreMaskedInErrorsAndTheDump() throws {
        let bad = error("[pushfleet]\nhttps-proxy=http://fleet:hunter2@proxy.corp")
        #expect(bad == "line 2: [pushfleet] https-proxy = http://***@proxy.corp: the port is missing: " + OutboundProxy.allowed)
        let config = try load("[pushfleet]\nhttps-proxy=http://fleet:hunter2@proxy.corp:3128", environment: ["NO_PROXY": "localhost,.corp"])
        let dump = config.dump()
        #expect(dump.contains("https-proxy=http://***@proxy.corp:3128\n"))
        #expect(dump.contains("# provider connections go through the proxy proxy.corp:3128 (from [pushfleet] https-proxy), "
            + "except to NO_PROXY localhost,.corp\n"))
        #expect(!dump.contains("hunter2"))
        #expect(!dump.contains("fleet:"))
        // The dump loads back (with the same environment) to the same proxy, minus the masked credentials.
        let reloaded = try load(dump, environment: ["NO_PROXY": "localhost,.corp"])
        #expect(reloaded.pushfleet.outboundProxy?.host == "proxy.corp")
        #expect(reloaded.pushfleet.outboundProxy?.username == "***")
    }

    @Test func theEnvironmentIsUsedWhenTheKeyIsEmpty() throws {
        let fromEnv = try #require(try load("", environment: ["HTTPS_PROXY": "http://10.0.0.1:3128", "https_proxy": "http://other:1"])
            .pushfleet.outboundProxy)
        #expect("\(fromEnv)" == "10.0.0.1:3128")
        #expect(fromEnv.source == "HTTPS_PROXY")
        let lower = try #require(try load("", environment: ["HTTPS_PROXY": "", "https_proxy": "squid:3128"]).pushfleet.outboundProxy)
        #expect("\(lower)" == "squid:3128")
        #expect(lower.source == "https_proxy")
        // The key wins over the environment.
        let key = try load("[pushfleet]\nhttps-proxy=http://proxy.corp:8080", environment: ["HTTPS_PROXY": "http://10.0.0.1:3128"])
        #expect(key.pushfleet.outboundProxy?.port == 8080)
        // none: direct whatever the environment, and it stays so through the dump.
        let direct = try load("[pushfleet]\nhttps-proxy=none", environment: ["HTTPS_PROXY": "http://10.0.0.1:3128"])
        #expect(direct.pushfleet.outboundProxy == nil)
        #expect(direct.dump().contains("https-proxy=none\n"))
        #expect(try load(direct.dump(), environment: ["HTTPS_PROXY": "http://10.0.0.1:3128"]).pushfleet.outboundProxy == nil)
        // HTTP_PROXY is for http:// destinations, which are never proxied.
        #expect(try load("", environment: ["HTTP_PROXY": "http://10.0.0.1:3128"]).pushfleet.outboundProxy == nil)
        let dump = try load("", environment: ["HTTPS_PROXY": "http://u:pa55word@10.0.0.1:3128"]).dump()
        #expect(dump.contains("https-proxy=\n# provider connections go through the proxy 10.0.0.1:3128 (from HTTPS_PROXY)\n"))
        #expect(!dump.contains("pa55word"))
    }

    @Test func aBadEnvironmentValueIsAnErrorNamingTheVariable() {
        #expect(error("", environment: ["HTTPS_PROXY": "socks5://u:secret@10.0.0.1:1080"])
            == "[pushfleet] https-proxy: environment variable HTTPS_PROXY = socks5://***@10.0.0.1:1080: scheme socks5 is not supported: "
            + OutboundProxy.allowed)
    }

    @Test(arguments: [
        ("", "api.push.apple.com", 443, false),
        ("*", "api.push.apple.com", 443, true),
        ("apple.com", "api.push.apple.com", 443, true),
        ("apple.com", "apple.com", 443, true),
        (".apple.com", "api.push.apple.com", 443, true),
        ("*.apple.com", "API.Push.Apple.COM.", 443, true),
        ("apple.com", "notapple.com", 443, false),
        ("googleapis.com, 10.0.0.0/8", "oauth2.googleapis.com", 443, true),
        ("10.0.0.0/8", "10.1.2.3", 443, false),
        ("127.0.0.1", "127.0.0.1", 8443, true),
        ("127.0.0.1:8443", "127.0.0.1", 8443, true),
        ("127.0.0.1:8443", "127.0.0.1", 443, false),
        ("::1", "::1", 443, true),
        ("[::1]:443", "::1", 443, true),
        ("localhost", "127.0.0.1", 443, false),
    ])
    func noProxyMatchesAsCurlAndGo(list: String, host: String, port: Int, bypass: Bool) {
        #expect(NoProxyList(list).matches(host: host, port: port) == bypass)
    }

    @Test func noProxyComesFromTheEnvironmentForEitherSource() throws {
        let env = ["HTTPS_PROXY": "http://10.0.0.1:3128", "no_proxy": "internal.example"]
        #expect(try load("", environment: env).pushfleet.outboundProxy?.applies(toHost: "gw.internal.example", port: 443) == false)
        let keyed = try load("[pushfleet]\nhttps-proxy=http://10.0.0.2:3128", environment: ["NO_PROXY": "*"])
        #expect(keyed.pushfleet.outboundProxy?.applies(toHost: "fcm.googleapis.com", port: 443) == false)
        #expect(keyed.pushfleet.outboundProxy?.noProxy.description == "*")
    }
}
