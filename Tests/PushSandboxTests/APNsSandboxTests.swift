import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import PushSandbox
import Testing

/// Starts an APNs sandbox with a fresh CA and runs `body`, shutting the sandbox down after.
func withAPNs<T>(
    tokenKeys: [String: (teamId: String, key: P256.Signing.PublicKey)] = [:],
    _ body: (APNsSandbox, SandboxCertificateAuthority) async throws -> T
) async throws -> T {
    let ca = try SandboxCertificateAuthority.generate()
    let sandbox = try APNsSandbox(ca: ca, tokenKeys: tokenKeys)
    try await sandbox.start()
    return try await using(sandbox, shutdown: { try await $0.shutdown() }) { try await body($0, ca) }
}

let alertBody = #"{"aps":{"alert":"hi"}}"#
let topic = "org.linphone.phone"

extension SandboxSuites {
    @Suite("APNs sandbox")
    struct APNsSandboxTests {
        @Test func answersOverHTTP2AndRecordsTheClientCertificateTopic() async throws {
            try await withAPNs { sandbox, ca in
                let credential = try ca.issueClientCredential(topic: topic)
                try await withClient(ca: ca, credential: credential) { client in
                    let id = UUID().uuidString
                    for n in 0..<3 {
                        let exchange = try await client.send(
                            sandbox.baseURL + "/3/device/" + deviceToken(n),
                            headers: [("apns-topic", topic), ("apns-push-type", "alert"), ("apns-id", id)], body: alertBody
                        )
                        #expect(exchange.status == 200)
                        #expect(exchange.version == .http2)
                        #expect(exchange.headers.first(name: "apns-id") == id)
                    }
                }
                let requests = try await sandbox.waitForRequests(count: 3, timeout: .seconds(5))
                #expect(requests.map(\.path) == (0..<3).map { "/3/device/" + deviceToken($0) })
                #expect(requests.allSatisfy { $0.clientCertificateTopic == topic && $0.httpVersion == "2" })
                #expect(requests[0].header("APNS-TOPIC") == topic)
                #expect(requests[0].bodyText == alertBody)
                #expect(requests[0].headers.allSatisfy { !$0.name.hasPrefix(":") })
                #expect(sandbox.connectionCount == 1)
            }
        }

        @Test(arguments: [
            // (what, method, path, headers, body, status, reason)
            ("wrong method", "GET", "/3/device/" + deviceToken(1), [("apns-topic", topic)], alertBody, 405, "MethodNotAllowed"),
            ("wrong path", "POST", "/2/device/" + deviceToken(1), [("apns-topic", topic)], alertBody, 404, "BadPath"),
            ("short token", "POST", "/3/device/abcdef", [("apns-topic", topic)], alertBody, 400, "BadDeviceToken"),
            ("non-hex token", "POST", "/3/device/" + String(repeating: "zz", count: 32), [("apns-topic", topic)], alertBody, 400, "BadDeviceToken"),
            ("foreign topic", "POST", "/3/device/" + deviceToken(1), [("apns-topic", "com.example.other")], alertBody, 400, "TopicDisallowed"),
            ("bad push type", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic), ("apns-push-type", "fax")], alertBody, 400, "InvalidPushType"),
            ("voip without .voip topic", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic), ("apns-push-type", "voip")], alertBody, 400, "InvalidPushType"),
            ("background at priority 10", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic), ("apns-push-type", "background"), ("apns-priority", "10")], alertBody, 400, "BadPriority"),
            ("priority 7", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic), ("apns-priority", "7")], alertBody, 400, "BadPriority"),
            ("bad expiration", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic), ("apns-expiration", "soon")], alertBody, 400, "BadExpirationDate"),
            ("bad apns-id", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic), ("apns-id", "not-a-uuid")], alertBody, 400, "BadMessageId"),
            ("long collapse id", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic), ("apns-collapse-id", String(repeating: "c", count: 65))], alertBody, 400, "BadCollapseId"),
            ("empty payload", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic)], "", 400, "PayloadEmpty"),
            ("payload not JSON", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic)], "{aps", 400, "BadPayload"),
            ("alert over 4 KiB", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic)], #"{"a":""# + String(repeating: "x", count: 4090) + #""}"#, 413, "PayloadTooLarge"),
            ("voip over 5 KiB", "POST", "/3/device/" + deviceToken(1), [("apns-topic", topic + ".voip"), ("apns-push-type", "voip")], #"{"a":""# + String(repeating: "x", count: 5114) + #""}"#, 413, "PayloadTooLarge"),
        ] as [(String, String, String, [(String, String)], String, Int, String)])
        func rejectsLikeAPNs(_ example: (String, String, String, [(String, String)], String, Int, String)) async throws {
            let (what, method, path, headers, body, status, reason) = example
            try await withAPNs { sandbox, ca in
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    let exchange = try await client.send(
                        sandbox.baseURL + path, method: .init(rawValue: method), headers: headers, body: body.isEmpty ? nil : body
                    )
                    #expect(exchange.status == status, "\(what)")
                    #expect(exchange.json["reason"] as? String == reason, "\(what)")
                    #expect(exchange.headers.first(name: "apns-id") != nil)
                }
                #expect(sandbox.requests.count == 1, "rejected requests are recorded too")
            }
        }

        @Test func acceptsVoIPUpTo5KiBAndTheVoIPTopic() async throws {
            try await withAPNs { sandbox, ca in
                try await withClient(ca: ca, credential: try ca.issueClientCredential(topic: topic)) { client in
                    let body = #"{"a":""# + String(repeating: "x", count: 5112) + #""}"#
                    #expect(body.utf8.count == 5120)
                    let exchange = try await client.send(
                        sandbox.baseURL + "/3/device/" + deviceToken(2),
                        headers: [("apns-topic", topic + ".voip"), ("apns-push-type", "voip"), ("apns-priority", "10")], body: body
                    )
                    #expect(exchange.status == 200)
                }
            }
        }

        @Test func refusesAClientWithoutCertificateOrToken() async throws {
            try await withAPNs { sandbox, ca in
                try await withClient(ca: ca) { client in
                    let exchange = try await client.send(
                        sandbox.baseURL + "/3/device/" + deviceToken(1), headers: [("apns-topic", topic)], body: alertBody
                    )
                    #expect(exchange.status == 403)
                    #expect(exchange.json["reason"] as? String == "MissingProviderToken")
                }
            }
        }

        @Test(arguments: ["foreign CA", "expired"])
        func refusesTheHandshakeForAnUntrustedClientCertificate(kind: String) async throws {
            try await withAPNs { sandbox, ca in
                let credential = kind == "expired"
                    ? try ca.issueClientCredential(topic: topic, notBefore: Date() - 7200, notAfter: Date() - 3600)
                    : try SandboxCertificateAuthority.generate(commonName: "Other").issueClientCredential(topic: topic)
                await #expect(throws: (any Error).self) {
                    try await withClient(ca: ca, credential: credential) { client in
                        _ = try await client.send(
                            sandbox.baseURL + "/3/device/" + deviceToken(1), headers: [("apns-topic", topic)], body: alertBody,
                            timeout: .seconds(2)
                        )
                    }
                }
                #expect(sandbox.requests.isEmpty)
            }
        }

        @Test func checksProviderTokens() async throws {
            let key = P256.Signing.PrivateKey()
            let stranger = P256.Signing.PrivateKey()
            try await withAPNs(tokenKeys: ["KEY1": ("TEAM1", key.publicKey)]) { sandbox, ca in
                try await withClient(ca: ca) { client in
                    func send(_ token: String, topicHeader: String? = topic) async throws -> (Int, String?) {
                        var headers = [("authorization", "bearer " + token)]
                        if let topicHeader { headers.append(("apns-topic", topicHeader)) }
                        let exchange = try await client.send(sandbox.baseURL + "/3/device/" + deviceToken(3), headers: headers, body: alertBody)
                        return (exchange.status, exchange.json["reason"] as? String)
                    }
                    let valid = try TestJWT.apns(key: key, kid: "KEY1", team: "TEAM1")
                    #expect(try await send(TestJWT.apns(key: key, kid: "KEY1", team: "TEAM1", issuedAt: Date() - 7200)) == (403, "ExpiredProviderToken"))
                    #expect(try await send(TestJWT.apns(key: stranger, kid: "KEY1", team: "TEAM1")) == (403, "InvalidProviderToken"))
                    #expect(try await send(TestJWT.apns(key: key, kid: "KEY2", team: "TEAM1")) == (403, "InvalidProviderToken"))
                    #expect(try await send(TestJWT.apns(key: key, kid: "KEY1", team: "TEAM2")) == (403, "InvalidProviderToken"))
                    #expect(try await send("not.a.jwt") == (403, "InvalidProviderToken"))
                    #expect(try await send(valid) == (200, nil))
                    #expect(try await send(valid) == (200, nil), "the same token again is no update")
                    #expect(try await send(valid, topicHeader: nil) == (400, "MissingTopic"))
                    let newer = try TestJWT.apns(key: key, kid: "KEY1", team: "TEAM1", issuedAt: Date() + 1)
                    #expect(newer != valid)
                    #expect(try await send(newer) == (429, "TooManyProviderTokenUpdates"))
                    #expect(try await send(valid) == (200, nil), "the refused update leaves the old token valid")
                    sandbox.providerTokenUpdateInterval = 0
                    #expect(try await send(newer) == (200, nil))
                }
            }
        }
    }
}
