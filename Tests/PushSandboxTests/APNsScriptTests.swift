import AsyncHTTPClient
import Foundation
import NIOCore
import PushSandbox
import Testing

extension SandboxSuites {
    @Suite("APNs sandbox scripting")
    struct APNsScriptTests {
        /// Sends one valid alert for `token` with a certificate-authenticated client.
        static func send(_ client: TestClient, _ sandbox: APNsSandbox, token: String, timeout: TimeAmount = .seconds(20)) async throws -> Exchange {
            try await client.send(
                sandbox.baseURL + "/3/device/" + token, headers: [("apns-topic", topic)], body: alertBody, timeout: timeout
            )
        }

        @Test(arguments: [
            (SandboxReply.ok, 200, nil, nil),
            (.status(400, reason: "DeviceTokenNotForTopic"), 400, "DeviceTokenNotForTopic", nil),
            (.badDeviceToken, 400, "BadDeviceToken", nil),
            (.tooManyRequests(retryAfter: 7), 429, "TooManyRequests", "7"),
            (.internalError, 500, "InternalServerError", nil),
            (.unavailable(retryAfter: 30), 503, "ServiceUnavailable", "30"),
            (.unavailable(retryAfter: nil), 503, "ServiceUnavailable", nil),
        ] as [(SandboxReply, Int, String?, String?)])
        func answersAsScripted(_ example: (SandboxReply, Int, String?, String?)) async throws {
            let (reply, status, reason, retryAfter) = example
            try await withAPNs { sandbox, ca in
                let token = deviceToken(9)
                sandbox.script(token: token, [reply])
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    let first = try await Self.send(client, sandbox, token: token)
                    #expect(first.status == status)
                    #expect(first.json["reason"] as? String == reason)
                    #expect(first.headers.first(name: "retry-after") == retryAfter)
                    #expect(try await Self.send(client, sandbox, token: token).status == 200, "a used-up script answers .ok")
                }
            }
        }

        @Test func aFaultWindowAnswersEveryTokenWithoutAScriptUntilCleared() async throws {
            try await withAPNs { sandbox, ca in
                sandbox.script(token: deviceToken(3), [.internalError])
                sandbox.setFault(.unavailable(retryAfter: 2))
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    let storm = try await Self.send(client, sandbox, token: deviceToken(4))
                    #expect(storm.status == 503 && storm.headers.first(name: "retry-after") == "2")
                    #expect(try await Self.send(client, sandbox, token: deviceToken(3)).status == 500, "a script still comes first")
                    sandbox.setFault(nil)
                    #expect(try await Self.send(client, sandbox, token: deviceToken(4)).status == 200)
                }
                // The answer log says what each valid request got: a checker tells deliveries from faults.
                let answers = sandbox.answers
                #expect(answers.map(\.key) == [deviceToken(4), deviceToken(3), deviceToken(4)])
                #expect(answers.map(\.delivered) == [false, false, true])
                #expect(answers.allSatisfy { $0.request.path.hasSuffix($0.key) })
                #expect(SandboxAnswer(key: "k", reply: .slow(milliseconds: 5, then: .ok), request: answers[0].request).delivered)
            }
        }

        @Test func unregisteredCarriesTheTimestamp() async throws {
            try await withAPNs { sandbox, ca in
                let token = deviceToken(10)
                sandbox.script(token: token, [.unregistered(timestamp: 1_700_000_000_123)])
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    let exchange = try await Self.send(client, sandbox, token: token)
                    #expect(exchange.status == 410)
                    #expect(exchange.json["reason"] as? String == "Unregistered")
                    #expect((exchange.json["timestamp"] as? NSNumber)?.int64Value == 1_700_000_000_123)
                }
            }
        }

        @Test func scriptsAreConsumedInOrderPerToken() async throws {
            try await withAPNs { sandbox, ca in
                sandbox.script(token: deviceToken(1), [.internalError, .badDeviceToken])
                sandbox.script(token: deviceToken(2), [.tooManyRequests(retryAfter: nil)])
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    var statuses: [Int] = []
                    for n in [1, 2, 1, 2, 1] { statuses.append(try await Self.send(client, sandbox, token: deviceToken(n)).status) }
                    #expect(statuses == [500, 429, 400, 200, 200])
                }
            }
        }

        @Test func slowAnswersAfterTheDelay() async throws {
            try await withAPNs { sandbox, ca in
                sandbox.script(token: deviceToken(4), [.slow(milliseconds: 300, then: .unavailable(retryAfter: 1))])
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    // Warm the connection so the handshake does not count.
                    _ = try await Self.send(client, sandbox, token: deviceToken(5))
                    let (exchange, took) = try await elapsed { try await Self.send(client, sandbox, token: deviceToken(4)) }
                    #expect(exchange.status == 503)
                    #expect(took >= .milliseconds(300))
                    // Other streams are not held up by the slow one.
                    async let slow = try elapsed {
                        sandbox.script(token: deviceToken(6), [.slow(milliseconds: 400, then: .ok)])
                        return try await Self.send(client, sandbox, token: deviceToken(6))
                    }
                    let (fast, fastTook) = try await elapsed { try await Self.send(client, sandbox, token: deviceToken(7)) }
                    #expect(fast.status == 200)
                    #expect(try await slow.0.status == 200)
                    #expect(fastTook < .milliseconds(400))
                }
            }
        }

        @Test func hangNeverAnswers() async throws {
            try await withAPNs { sandbox, ca in
                sandbox.script(token: deviceToken(8), [.hang])
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    await #expect(throws: HTTPClientError.deadlineExceeded) {
                        _ = try await Self.send(client, sandbox, token: deviceToken(8), timeout: .milliseconds(300))
                    }
                    let again = try await Self.send(client, sandbox, token: deviceToken(8))
                    #expect(again.status == 200)
                }
                #expect(sandbox.connectionCount == 1, "a hung stream does not cost the connection")
            }
        }

        @Test func resetFailsTheStreamButKeepsTheConnection() async throws {
            try await withAPNs { sandbox, ca in
                sandbox.script(token: deviceToken(11), [.reset])
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    _ = try await Self.send(client, sandbox, token: deviceToken(12))
                    await #expect(throws: (any Error).self) { _ = try await Self.send(client, sandbox, token: deviceToken(11)) }
                    let again = try await Self.send(client, sandbox, token: deviceToken(11))
                    #expect(again.status == 200)
                }
                #expect(sandbox.connectionCount == 1)
            }
        }

        @Test func goAwayClosesTheConnection() async throws {
            try await withAPNs { sandbox, ca in
                sandbox.script(token: deviceToken(13), [.goAway])
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    _ = try await Self.send(client, sandbox, token: deviceToken(12))
                    // AsyncHTTPClient either fails the unprocessed stream or retries it on a new connection.
                    let retried = try? await Self.send(client, sandbox, token: deviceToken(13))
                    #expect(retried == nil || retried?.status == 200)
                    #expect(try await Self.send(client, sandbox, token: deviceToken(13)).status == 200)
                }
                #expect(sandbox.connectionCount == 2, "the client had to open a new connection")
            }
        }
    }

    /// Apart from the other suites: it loads the (shared, two-core) machine on purpose.
    @Suite("APNs sandbox throughput", .serialized)
    struct APNsThroughputTests {
        @Test func servesManyConcurrentStreamsOnOneConnection() async throws {
            try await withAPNs { sandbox, ca in
                let count = 500
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    _ = try await APNsScriptTests.send(client, sandbox, token: deviceToken(0))
                    let (statuses, took) = try await elapsed {
                        try await withThrowingTaskGroup(of: Int.self) { group in
                            for n in 0..<count { group.addTask { try await APNsScriptTests.send(client, sandbox, token: deviceToken(n), timeout: .seconds(30)).status } }
                            return try await group.reduce(into: [Int]()) { $0.append($1) }
                        }
                    }
                    #expect(statuses.allSatisfy { $0 == 200 })
                    let rate = Double(count) / (Double(took.components.seconds) + Double(took.components.attoseconds) / 1e18)
                    print("APNs sandbox: \(count) requests over one HTTP/2 connection in \(took), \(Int(rate))/s")
                }
                #expect(try await sandbox.waitForRequests(count: count + 1, timeout: .seconds(5)).count == count + 1)
                #expect(sandbox.connectionCount == 1)
            }
        }
    }
}
