import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import PushSandbox
import Testing

func withGeneric<T>(
    _ version: GenericPushSandbox.HTTPVersion, tls: Bool, _ body: (GenericPushSandbox, SandboxCertificateAuthority) async throws -> T
) async throws -> T {
    let ca = try SandboxCertificateAuthority.generate()
    let sandbox = try GenericPushSandbox(version: version, tls: tls ? .tls(try ca.issueServerCredential()) : .none)
    try await sandbox.start()
    return try await using(sandbox, shutdown: { try await $0.shutdown() }) { try await body($0, ca) }
}

extension SandboxSuites {
    @Suite("Generic push sandbox")
    struct GenericPushSandboxTests {
        @Test(arguments: [
            (GenericPushSandbox.HTTPVersion.http1, false, HTTPVersion.http1_1, "1.1"),
            (.http1, true, .http1_1, "1.1"),
            (.http2, true, .http2, "2"),
        ] as [(GenericPushSandbox.HTTPVersion, Bool, HTTPVersion, String)])
        func answersRecordsAndScripts(_ example: (GenericPushSandbox.HTTPVersion, Bool, HTTPVersion, String)) async throws {
            let (version, tls, expected, recorded) = example
            try await withGeneric(version, tls: tls) { sandbox, ca in
                #expect(sandbox.baseURL.hasPrefix(tls ? "https://127.0.0.1:" : "http://127.0.0.1:"))
                let path = "/push?token=abc&type=voip"
                sandbox.script(path: path, [
                    .status(202, reason: "accepted later"), .unregistered(timestamp: 0), .badDeviceToken,
                    .tooManyRequests(retryAfter: 3), .internalError, .unavailable(retryAfter: 9),
                    .slow(milliseconds: 200, then: .ok),
                ])
                try await withClient(ca: ca) { client in
                    var seen: [(Int, String?, String)] = []
                    for _ in 0..<8 {
                        let exchange = try await client.send(sandbox.baseURL + path, headers: [("x-sip", "INVITE")], body: "payload")
                        #expect(exchange.version == expected)
                        seen.append((exchange.status, exchange.headers.first(name: "retry-after"), exchange.body))
                    }
                    #expect(seen.map(\.0) == [202, 410, 400, 429, 500, 503, 200, 200])
                    #expect(seen.map(\.1) == [nil, nil, nil, "3", nil, "9", nil, nil])
                    #expect(seen[0].2 == "accepted later")
                }
                let requests = try await sandbox.waitForRequests(count: 8, timeout: .seconds(5))
                #expect(requests.allSatisfy { $0.path == path && $0.method == "POST" && $0.bodyText == "payload" })
                #expect(requests.allSatisfy { $0.httpVersion == recorded && $0.header("X-SIP") == "INVITE" })
            }
        }

        @Test(arguments: [false, true])
        func http1ResetAndGoAwayCloseTheConnection(tls: Bool) async throws {
            try await withGeneric(.http1, tls: tls) { sandbox, ca in
                sandbox.script(path: "/a", [.reset, .goAway, .hang])
                try await withClient(ca: ca) { client in
                    for _ in 0..<2 {
                        await #expect(throws: (any Error).self) { _ = try await client.send(sandbox.baseURL + "/a", timeout: .seconds(2)) }
                    }
                    await #expect(throws: HTTPClientError.deadlineExceeded) {
                        _ = try await client.send(sandbox.baseURL + "/a", timeout: .milliseconds(200))
                    }
                    let again = try await client.send(sandbox.baseURL + "/a")
                    #expect(again.status == 200)
                }
                #expect(sandbox.connectionCount >= 3)
            }
        }

        @Test(.disabled("h2c (prior knowledge, no TLS): since the libnghttp2 merge the sandbox never answers the raw swift-nio-http2 client's first stream; under investigation (see the issue note). TLS HTTP/2 paths are covered by the other suites."))
        func plainHTTP2SpeaksPriorKnowledgeAndSendsRealFrames() async throws {
            try await withGeneric(.http2, tls: false) { sandbox, _ in
                sandbox.script(path: "/r", [.reset])
                sandbox.script(path: "/g", [.goAway])
                let client = try await RawHTTP2Client.connect(port: sandbox.port)
                #expect(try await client.post("/ok", body: "x") == .response(status: "200", body: "OK"))   // stream 1
                #expect(try await client.post("/r") == .reset(.internalError))                        // stream 3
                #expect(try await client.post("/ok") == .response(status: "200", body: "OK"))          // stream 5
                // Stream 7: the server answers with GOAWAY and closes. Whether the client's stream
                // object learns of it depends on the client library; the frames are what count.
                let refused = Task { try? await client.post("/g") }                                   // stream 7
                #expect(try await client.goAway.get(within: 10) == HTTP2StreamID(5), "GOAWAY names the last stream before the scripted one")
                try await client.channel.closeFuture.get(within: 10)
                #expect(await refused.value != .response(status: "200", body: "OK"))
                let requests = try await sandbox.waitForRequests(count: 4, timeout: .seconds(5))
                #expect(requests.map(\.path) == ["/ok", "/r", "/ok", "/g"])
                #expect(requests.allSatisfy { $0.httpVersion == "2" })
            }
        }

        @Test func waitForRequestsTimesOut() async throws {
            try await withGeneric(.http1, tls: false) { sandbox, _ in
                let error = await #expect(throws: SandboxTimeoutError.self) {
                    _ = try await sandbox.waitForRequests(count: 1, timeout: .milliseconds(50))
                }
                #expect(error?.expected == 1 && error?.received == 0)
            }
        }
    }
}
