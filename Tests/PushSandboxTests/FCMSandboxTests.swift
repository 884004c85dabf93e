import AsyncHTTPClient
import Foundation
import NIOCore
import PushSandbox
import Testing

func withFCM<T>(tokenLifetime: Int = 3600, _ body: (FCMSandbox, SandboxCertificateAuthority) async throws -> T) async throws -> T {
    let ca = try SandboxCertificateAuthority.generate()
    let sandbox = try FCMSandbox(ca: ca, tokenLifetime: tokenLifetime)
    try await sandbox.start()
    return try await using(sandbox, shutdown: { try await $0.shutdown() }) { try await body($0, ca) }
}

/// A service account of the sandbox, parsed.
struct ServiceAccount {
    var json: [String: String]
    var email: String { json["client_email"]! }
    var key: String { json["private_key"]! }
    var tokenURI: String { json["token_uri"]! }

    init(_ sandbox: FCMSandbox, project: String) throws {
        json = try JSONSerialization.jsonObject(with: Data(sandbox.makeServiceAccount(projectId: project).utf8)) as! [String: String]
    }
}

let fcmToken = "dXk3:APA91bH-sandbox_token-0123456789"

extension SandboxSuites {
    @Suite("FCM sandbox")
    struct FCMSandboxTests {
        static func requestToken(_ client: TestClient, _ url: String, assertion: String, grant: String = "urn:ietf:params:oauth:grant-type:jwt-bearer") async throws -> Exchange {
            let form = "grant_type=" + grant.addingPercentEncoding(withAllowedCharacters: .alphanumerics)! + "&assertion=" + assertion
            return try await client.send(url, headers: [("content-type", "application/x-www-form-urlencoded")], body: form)
        }

        static func sendMessage(_ client: TestClient, _ sandbox: FCMSandbox, project: String, bearer: String, token: String = fcmToken, timeout: TimeAmount = .seconds(20)) async throws -> Exchange {
            try await client.send(
                sandbox.baseURL + "/v1/projects/\(project)/messages:send",
                headers: [("authorization", "Bearer " + bearer), ("content-type", "application/json")],
                body: #"{"message":{"token":"\#(token)","data":{"k":"v"}}}"#, timeout: timeout
            )
        }

        /// A valid access token for `project`.
        static func accessToken(_ client: TestClient, _ sandbox: FCMSandbox, project: String) async throws -> String {
            let account = try ServiceAccount(sandbox, project: project)
            let exchange = try await requestToken(
                client, account.tokenURI, assertion: TestJWT.assertion(privateKeyPEM: account.key, email: account.email, audience: account.tokenURI)
            )
            #expect(exchange.status == 200, "\(exchange.body)")
            return try #require(exchange.json["access_token"] as? String)
        }

        @Test func serviceAccountNamesTheSandbox() async throws {
            try await withFCM { sandbox, _ in
                let account = try ServiceAccount(sandbox, project: "proj-1")
                #expect(account.json["project_id"] == "proj-1")
                #expect(account.json["type"] == "service_account")
                #expect(account.tokenURI == sandbox.baseURL + "/token")
                #expect(account.key.hasPrefix("-----BEGIN PRIVATE KEY-----"))
                let other = try ServiceAccount(sandbox, project: "proj-2")
                #expect(other.key == account.key, "one RSA key per sandbox")
            }
        }

        @Test func issuesTokensOnlyForValidAssertions() async throws {
            try await withFCM(tokenLifetime: 1800) { sandbox, ca in
                let account = try ServiceAccount(sandbox, project: "proj")
                let foreignKey = ForeignRSAKey.pem
                try await withClient(ca: ca) { client in
                    func assertion(key: String? = nil, email: String? = nil, audience: String? = nil, scope: String = "https://www.googleapis.com/auth/firebase.messaging", issuedAt: Date = Date(), lifetime: TimeInterval = 3600) throws -> String {
                        try TestJWT.assertion(
                            privateKeyPEM: key ?? account.key, email: email ?? account.email, audience: audience ?? account.tokenURI,
                            scope: scope, issuedAt: issuedAt, lifetime: lifetime
                        )
                    }
                    let good = try await Self.requestToken(client, account.tokenURI, assertion: try assertion())
                    #expect(good.status == 200)
                    #expect(good.version == .http2)
                    #expect(good.json["token_type"] as? String == "Bearer")
                    #expect((good.json["expires_in"] as? NSNumber)?.intValue == 1800)
                    let refused: [(String, String, String)] = [
                        ("foreign key", try assertion(key: foreignKey), "invalid_grant"),
                        ("unknown account", try assertion(email: "x@y.iam.gserviceaccount.com"), "invalid_grant"),
                        ("wrong audience", try assertion(audience: "https://oauth2.googleapis.com/token"), "invalid_grant"),
                        ("wrong scope", try assertion(scope: "https://www.googleapis.com/auth/cloud-platform"), "invalid_scope"),
                        ("expired", try assertion(issuedAt: Date() - 7200), "invalid_grant"),
                        ("too long-lived", try assertion(lifetime: 7200), "invalid_grant"),
                        ("garbage", "abc", "invalid_request"),
                    ]
                    for (what, jwt, error) in refused {
                        let exchange = try await Self.requestToken(client, account.tokenURI, assertion: jwt)
                        #expect(exchange.status == 400, "\(what)")
                        #expect(exchange.json["error"] as? String == error, "\(what)")
                    }
                    let wrongGrant = try await Self.requestToken(client, account.tokenURI, assertion: try assertion(), grant: "client_credentials")
                    #expect(wrongGrant.json["error"] as? String == "unsupported_grant_type")
                }
                #expect(sandbox.tokenRequests.count == 9)
                #expect(sandbox.requests.isEmpty, "token requests are not messages")
            }
        }

        @Test func sendsMessagesWithAnIssuedToken() async throws {
            try await withFCM { sandbox, ca in
                try await withClient(ca: ca) { client in
                    let bearer = try await Self.accessToken(client, sandbox, project: "proj")
                    let ok = try await Self.sendMessage(client, sandbox, project: "proj", bearer: bearer)
                    #expect(ok.status == 200)
                    #expect(ok.version == .http2)
                    #expect((ok.json["name"] as? String)?.hasPrefix("projects/proj/messages/") == true)
                    let unauthenticated = try await Self.sendMessage(client, sandbox, project: "proj", bearer: "ya29.forged")
                    #expect(unauthenticated.status == 401)
                    #expect((unauthenticated.json["error"] as? [String: Any])?["status"] as? String == "UNAUTHENTICATED")
                    let otherProject = try await Self.sendMessage(client, sandbox, project: "other", bearer: bearer)
                    #expect(otherProject.status == 403)
                    let badToken = try await Self.sendMessage(client, sandbox, project: "proj", bearer: bearer, token: "not a token!")
                    #expect(badToken.status == 400)
                    #expect(badToken.body.contains("message.token"))
                    let big = try await client.send(
                        sandbox.baseURL + "/v1/projects/proj/messages:send", headers: [("authorization", "Bearer " + bearer)],
                        body: #"{"message":{"token":"\#(fcmToken)","data":{"k":"\#(String(repeating: "x", count: 4100))"}}}"#
                    )
                    #expect(big.status == 400)
                    let notJSON = try await client.send(
                        sandbox.baseURL + "/v1/projects/proj/messages:send", headers: [("authorization", "Bearer " + bearer)], body: "{"
                    )
                    #expect(notJSON.status == 400)
                }
                let requests = try await sandbox.waitForRequests(count: 6, timeout: .seconds(5))
                #expect(requests[0].bodyText.contains(fcmToken))
                #expect(requests[0].httpVersion == "2")
            }
        }

        @Test func expiredAccessTokensAreRefused() async throws {
            try await withFCM(tokenLifetime: 0) { sandbox, ca in
                try await withClient(ca: ca) { client in
                    let bearer = try await Self.accessToken(client, sandbox, project: "proj")
                    #expect(try await Self.sendMessage(client, sandbox, project: "proj", bearer: bearer).status == 401)
                }
            }
        }

        @Test(arguments: [
            (SandboxReply.ok, 200, nil, nil),
            (.unregistered(timestamp: 0), 404, "UNREGISTERED", nil),
            (.badDeviceToken, 400, "INVALID_ARGUMENT", nil),
            (.tooManyRequests(retryAfter: 60), 429, "QUOTA_EXCEEDED", "60"),
            (.internalError, 500, "INTERNAL", nil),
            (.unavailable(retryAfter: 5), 503, "UNAVAILABLE", "5"),
            (.status(403, reason: "SENDER_ID_MISMATCH"), 403, "SENDER_ID_MISMATCH", nil),
            (.slow(milliseconds: 50, then: .internalError), 500, "INTERNAL", nil),
        ] as [(SandboxReply, Int, String?, String?)])
        func answersMessagesAsScripted(_ example: (SandboxReply, Int, String?, String?)) async throws {
            let (reply, status, errorCode, retryAfter) = example
            try await withFCM { sandbox, ca in
                sandbox.script(token: fcmToken, [reply])
                try await withClient(ca: ca) { client in
                    let bearer = try await Self.accessToken(client, sandbox, project: "proj")
                    let exchange = try await Self.sendMessage(client, sandbox, project: "proj", bearer: bearer)
                    #expect(exchange.status == status)
                    let details = ((exchange.json["error"] as? [String: Any])?["details"] as? [[String: Any]]) ?? []
                    #expect(details.first?["errorCode"] as? String == errorCode)
                    #expect(exchange.headers.first(name: "retry-after") == retryAfter)
                }
            }
        }

        @Test func scriptedTokenEndpointFailsThenHangs() async throws {
            try await withFCM { sandbox, ca in
                sandbox.scriptTokenEndpoint([.unavailable(retryAfter: 2), .hang])
                let account = try ServiceAccount(sandbox, project: "proj")
                try await withClient(ca: ca) { client in
                    let jwt = try TestJWT.assertion(privateKeyPEM: account.key, email: account.email, audience: account.tokenURI)
                    let failed = try await Self.requestToken(client, account.tokenURI, assertion: jwt)
                    #expect(failed.status == 503)
                    #expect(failed.headers.first(name: "retry-after") == "2")
                    await #expect(throws: HTTPClientError.deadlineExceeded) {
                        let form = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=" + jwt
                        _ = try await client.send(account.tokenURI, body: form, timeout: .milliseconds(300))
                    }
                    let again = try await Self.requestToken(client, account.tokenURI, assertion: jwt)
                    #expect(again.status == 200)
                }
            }
        }

        @Test func legacyEndpointChecksTheServerKey() async throws {
            try await withFCM { sandbox, ca in
                sandbox.addLegacyKey("AAAA-legacy")
                sandbox.script(token: "legacy-token", [.unregistered(timestamp: 0), .badDeviceToken])
                try await withClient(ca: ca) { client in
                    func send(key: String, body: String = #"{"to":"legacy-token","data":{}}"#) async throws -> Exchange {
                        try await client.send(sandbox.baseURL + "/fcm/send", headers: [("authorization", "key=" + key)], body: body)
                    }
                    #expect(try await send(key: "wrong").status == 401)
                    let unregistered = try await send(key: "AAAA-legacy")
                    #expect(unregistered.status == 200)
                    #expect(unregistered.body.contains("NotRegistered"))
                    #expect(try await send(key: "AAAA-legacy").body.contains("InvalidRegistration"))
                    let ok = try await send(key: "AAAA-legacy")
                    #expect((ok.json["success"] as? NSNumber)?.intValue == 1)
                    #expect(try await send(key: "AAAA-legacy", body: "{}").status == 400)
                }
                #expect(try await sandbox.waitForRequests(count: 5, timeout: .seconds(5)).allSatisfy { $0.path == "/fcm/send" })
            }
        }
    }
}
