import Foundation
import NIOPosix
import PushContract
import PushSandbox
import Testing
@testable import PushSenders

/// The nghttp2 transport itself (connection and pool, below the senders) against the loopback
/// sandbox over real TLS and HTTP/2: every way a stream can end, and the protocol limits.
@Suite(.serialized) struct HTTP2TransportTests {
    final class Env: Sendable {
        let sandbox: GenericPushSandbox
        let pool: HTTP2ConnectionPool
        let dir: String

        init(maxConcurrentStreams: Int = 1000) async throws {
            let ca = try SandboxCertificateAuthority.generate()
            sandbox = try GenericPushSandbox(version: .http2, tls: .tls(try ca.issueServerCredential()), maxConcurrentStreams: maxConcurrentStreams)
            try await sandbox.start()
            dir = try temporaryDirectory()
            try ca.writeCertificate(to: dir + "/ca.pem")
            let endpoint = HTTP2Endpoint(url: sandbox.baseURL)!
            pool = HTTP2ConnectionPool(endpoint: endpoint, tls: try TLSSetup.context(caFile: dir + "/ca.pem"),
                                       group: MultiThreadedEventLoopGroup.singleton, clock: SystemClock(), tuning: quickTuning(),
                                       logger: .init(label: "test"))
        }

        func connection() async throws -> HTTP2Connection {
            try await pool.connection().get()
        }

        func close() async {
            await pool.shutdown()
            try? await sandbox.shutdown()
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    func deadline(_ milliseconds: Int64 = 30_000) -> EventTime { SystemClock().now().adding(milliseconds: milliseconds) }

    func post(_ path: String, _ body: [UInt8] = Array("{}".utf8), headers: [(name: String, value: String)] = []) -> HTTP2Request {
        HTTP2Request(method: "POST", path: path, headers: [(name: "Content-Type", value: "application/json")] + headers, body: body)
    }

    /// Sends all requests at once on one connection; results in request order.
    func concurrently(_ connection: HTTP2Connection, _ requests: [HTTP2Request], deadline: EventTime) async -> [Result<HTTP2Response, TransportError>] {
        await withTaskGroup(of: (Int, Result<HTTP2Response, TransportError>).self) { group in
            for (i, request) in requests.enumerated() {
                group.addTask { (i, await connection.execute(request, deadline: deadline)) }
            }
            var results = [Result<HTTP2Response, TransportError>?](repeating: nil, count: requests.count)
            for await (i, r) in group { results[i] = r }
            return results.map { $0! }
        }
    }

    func status(_ r: Result<HTTP2Response, TransportError>) -> Int? {
        if case .success(let response) = r { return response.status }
        return nil
    }

    func error(_ r: Result<HTTP2Response, TransportError>) -> TransportError? {
        if case .failure(let e) = r { return e }
        return nil
    }

    @Test func manyConcurrentStreamsShareOneConnection() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        let connection = try await env.connection()
        let n = 600
        let results = await concurrently(connection, (0..<n).map { post("/s/\($0)", Array("{\"n\":\($0)}".utf8)) }, deadline: deadline())
        #expect(results.allSatisfy { status($0) == 200 })
        if case .success(let first) = results[0] { #expect(first.body == Array("OK".utf8)) }
        let recorded = try await env.sandbox.waitForRequests(count: n, timeout: .seconds(10))
        #expect(Set(recorded.map(\.path)) == Set((0..<n).map { "/s/\($0)" }))
        #expect(recorded.allSatisfy { $0.body == Array("{\"n\":\($0.path.dropFirst(3))}".utf8) })
        #expect(recorded.allSatisfy { $0.header("content-type") == "application/json" && $0.header("content-length") != nil })
        #expect(env.sandbox.connectionCount == 1)
    }

    @Test func serverStreamLimitQueuesInsteadOfOverrunning() async throws {
        let env = try await Env(maxConcurrentStreams: 3)
        defer { Task { await env.close() } }
        let n = 45
        for i in 0..<n { env.sandbox.script(path: "/q/\(i)", [.slow(milliseconds: 25, then: .ok)]) }
        let connection = try await env.connection()
        let start = ContinuousClock.now
        let results = await concurrently(connection, (0..<n).map { post("/q/\($0)") }, deadline: deadline())
        let elapsed = ContinuousClock.now - start
        #expect(results.allSatisfy { status($0) == 200 }, "\(results.compactMap(error).first.map(\.message) ?? "")")
        // Three at a time, 25 ms each: at least 15 rounds. Overrunning the limit would be refused or far faster.
        #expect(elapsed >= .milliseconds(15 * 25))
        #expect(env.sandbox.connectionCount == 1)
    }

    @Test func resetFailsOnlyThatStream() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        env.sandbox.script(path: "/r", [.reset])
        let connection = try await env.connection()
        let reset = await connection.execute(post("/r"), deadline: deadline())
        #expect(error(reset)?.kind == .reset)
        #expect(error(reset)?.unprocessed == false) // INTERNAL_ERROR: the server may have acted
        #expect(connection.isUsable)
        #expect(status(await connection.execute(post("/after"), deadline: deadline())) == 200)
        #expect(env.sandbox.connectionCount == 1)
    }

    @Test func goAwayFailsStreamsAboveTheLastAndThePoolReconnects() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        env.sandbox.script(path: "/slow", [.slow(milliseconds: 500, then: .ok)])
        env.sandbox.script(path: "/bye", [.goAway])
        let connection = try await env.connection()
        async let slow = connection.execute(post("/slow"), deadline: deadline())
        _ = try await env.sandbox.waitForRequests(count: 1, timeout: .seconds(5))
        let bye = await connection.execute(post("/bye"), deadline: deadline())
        #expect(error(bye)?.kind == .goAway)
        #expect(error(bye)?.unprocessed == true)
        #expect(!connection.isUsable)
        // The sandbox closes right after GOAWAY: the earlier stream was accepted, so it is not "unprocessed".
        let earlier = await slow
        #expect(error(earlier)?.kind == .closed)
        #expect(error(earlier)?.unprocessed == false)
        #expect(status(await env.pool.execute(post("/after"), deadline: deadline())) == 200)
        #expect(env.pool.connectionsOpened == 2)
    }

    @Test func hangEndsAtTheDeadlineAndTheConnectionLivesOn() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        env.sandbox.script(path: "/h", [.hang])
        let connection = try await env.connection()
        let start = ContinuousClock.now
        let hung = await connection.execute(post("/h"), deadline: deadline(300))
        let elapsed = ContinuousClock.now - start
        #expect(error(hung)?.kind == .timeout)
        #expect(elapsed >= .milliseconds(290) && elapsed < .seconds(5))
        #expect(connection.isUsable)
        #expect(status(await connection.execute(post("/after"), deadline: deadline())) == 200)
        #expect(env.sandbox.connectionCount == 1)
    }

    @Test func staggeredDeadlinesEachFireOnTime() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        for i in 0..<3 { env.sandbox.script(path: "/h/\(i)", [.hang]) }
        let connection = try await env.connection()
        let start = ContinuousClock.now
        // Submitted latest-deadline first, so the connection's one timer must be pulled earlier twice.
        let results = await withTaskGroup(of: (Int, Result<HTTP2Response, TransportError>, Duration).self) { group in
            for i in [2, 1, 0] {
                group.addTask {
                    let r = await connection.execute(self.post("/h/\(i)"), deadline: self.deadline(Int64(150 * (i + 1))))
                    return (i, r, ContinuousClock.now - start)
                }
            }
            group.addTask { (3, await connection.execute(self.post("/ok"), deadline: self.deadline()), ContinuousClock.now - start) }
            var out: [Int: (Result<HTTP2Response, TransportError>, Duration)] = [:]
            for await (i, r, d) in group { out[i] = (r, d) }
            return out
        }
        #expect(status(results[3]!.0) == 200)
        for i in 0..<3 {
            let (r, elapsed) = results[i]!
            #expect(error(r)?.kind == .timeout, "\(i)")
            #expect(elapsed >= .milliseconds(150 * (i + 1) - 10) && elapsed < .milliseconds(150 * (i + 1) + 2_000), "\(i): \(elapsed)")
        }
        #expect(status(await connection.execute(post("/after"), deadline: deadline())) == 200)
    }

    @Test func passedDeadlineIsNeverSent() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        let connection = try await env.connection()
        let late = await connection.execute(post("/late"), deadline: deadline(-1))
        #expect(error(late)?.kind == .timeout)
        #expect(error(late)?.unprocessed == true)
        #expect(status(await connection.execute(post("/on-time"), deadline: deadline())) == 200)
        #expect(env.sandbox.requests.map(\.path) == ["/on-time"])
    }

    @Test func cancellationAnswersAtOnce() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        env.sandbox.script(path: "/h", [.hang])
        let connection = try await env.connection()
        let task = Task { await connection.execute(post("/h"), deadline: deadline()) }
        _ = try await env.sandbox.waitForRequests(count: 1, timeout: .seconds(5))
        task.cancel()
        #expect(error(await task.value)?.kind == .cancelled)
        #expect(status(await connection.execute(post("/after"), deadline: deadline())) == 200)
    }

    @Test func largeBodiesBothWays() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        // Requests far beyond the 64 KiB initial windows: nghttp2 waits for the server's WINDOW_UPDATEs.
        let bodies = (0..<4).map { i in (0..<900_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ i) } }
        let big = String(repeating: "b", count: 60_000)
        env.sandbox.script(path: "/big-answer", [.status(200, reason: big)])
        env.sandbox.script(path: "/huge-answer", [.status(200, reason: String(repeating: "h", count: maxResponseBodyBytes + 1))])
        let connection = try await env.connection()
        let uploads = await concurrently(connection, bodies.indices.map { post("/up/\($0)", bodies[$0]) }, deadline: deadline())
        #expect(uploads.allSatisfy { status($0) == 200 })
        let recorded = try await env.sandbox.waitForRequests(count: 4, timeout: .seconds(10))
        for r in recorded {
            let i = Int(r.path.dropFirst(4))!
            #expect(r.body == bodies[i])
        }
        let answer = await connection.execute(post("/big-answer"), deadline: deadline())
        if case .success(let response) = answer { #expect(response.body == Array(big.utf8)) } else { Issue.record("\(answer)") }
        let huge = await connection.execute(post("/huge-answer"), deadline: deadline())
        #expect(error(huge)?.kind == .protocolViolation)
        #expect(error(huge)?.message.contains("larger than") == true)
        #expect(status(await connection.execute(post("/after"), deadline: deadline())) == 200)
        #expect(env.sandbox.connectionCount == 1)
    }

    @Test(arguments: [
        ("x-evil", "a\r\nb"), ("x-nul", "a\u{0}b"), ("bad name", "v"), ("", "v"),
    ])
    func hostileHeaderFieldsAreNotSent(name: String, value: String) async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        let connection = try await env.connection()
        let refused = await connection.execute(post("/evil", headers: [(name: name, value: value)]), deadline: deadline())
        #expect(error(refused)?.kind == .protocolViolation)
        #expect(error(refused)?.unprocessed == true)
        let badPath = await connection.execute(post("/a b\r\n"), deadline: deadline())
        #expect(error(badPath)?.kind == .protocolViolation)
        #expect(status(await connection.execute(post("/fine", headers: [(name: "X-Upper", value: "kept")]), deadline: deadline())) == 200)
        let recorded = env.sandbox.requests
        #expect(recorded.map(\.path) == ["/fine"])
        #expect(recorded.first?.header("x-upper") == "kept")
    }

    @Test func checkedFieldIsSentAfterTheOthersAndInvalidOnesAreRefused() async throws {
        #expect(HTTP2CheckedField(name: "authorization", value: "bearer a\r\nb") == nil)
        #expect(HTTP2CheckedField(name: "bad name", value: "v") == nil)
        let env = try await Env()
        defer { Task { await env.close() } }
        let connection = try await env.connection()
        var request = post("/checked", headers: [(name: "X-First", value: "1")])
        let field: HTTP2CheckedField = try #require(HTTP2CheckedField(name: "Authorization", value: "bearer abc.def"))
        request.checkedField = field
        #expect(status(await connection.execute(request, deadline: deadline())) == 200)
        let recorded = try #require(env.sandbox.requests.first)
        #expect(recorded.header("authorization") == "bearer abc.def")
        let names = recorded.headers.map(\.name).filter { !$0.hasPrefix(":") }
        #expect(names.firstIndex(of: "x-first")! < names.firstIndex(of: "authorization")!)
    }

    @Test func responseHeadersAndStatusReachTheCaller() async throws {
        let env = try await Env()
        defer { Task { await env.close() } }
        env.sandbox.script(path: "/busy", [.tooManyRequests(retryAfter: 7)])
        let connection = try await env.connection()
        let r = await connection.execute(HTTP2Request(method: "GET", path: "/busy"), deadline: deadline())
        guard case .success(let response) = r else { Issue.record("\(r)"); return }
        #expect(response.status == 429)
        #expect(response.header("retry-after") == "7")
        #expect(!response.headers.contains { $0.name.hasPrefix(":") })
        #expect(env.sandbox.requests.first?.method == "GET")
    }
}
