import Foundation
import Kafka
import PushContract
import Testing

/// The operator-facing surface of a running worker: `/metrics` passes `promtool check metrics`,
/// every metric that ops/prometheus and ops/grafana query is exported, and `/health` and
/// `/ready` answer. A dashboard or alert on a metric the worker does not export would stay
/// silently empty, so this fails instead.
extension FleetProcesses {
@Suite("Deploy artifacts against a real worker", .serialized, .timeLimit(.minutes(2)))
struct DeployArtifactsTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("a worker's /metrics lints clean and exports every metric of the alert rules and dashboards; /health and /ready answer 200")
    func exportedMetrics() async throws {
        let promtool = try Self.tool("promtool", install: "Debian package prometheus")
        let curl = try Self.tool("curl", install: "Debian package curl")
        // Register wake-up on, so that its metrics are exported (and linted) too.
        let fleet = try await FleetHarness(partitions: 4, pushNotification: ["filter": "from.uri.domain != 'blocked.example'", "register-wakeup-interval": "1"],
                                           metricsListen: "127.0.0.1:0")
        defer { Task { await fleet.stop() } }
        let worker = try await fleet.startWorker()
        try await fleet.waitForAssignment(of: [worker])
        let base = "http://127.0.0.1:\(try Self.metricsPort(worker.errors.text))"

        // One input of each kind, so that every labelled series exists: pushes to both
        // providers, a skip, a response, an end, a registration and a dead letter.
        // The pushes first: a response or end read in the same batch as its branch would rightly
        // stop the push before it is sent (the device is already awake).
        try await fleet.publish([
            Router.unanswered("m-voip", uri: Router.iosVoip()),
            Router.unanswered("m-android", uri: Router.android()),
            .branchUnanswered(BranchUnanswered(
                header: RecordHeader(id: "m-blocked", time: Router.now()), callId: "m-blocked", branch: "b1", method: "INVITE",
                requestUri: Router.iosVoip(), from: SIPAddress(uri: "sip:spam@blocked.example"), to: SIPAddress(uri: "sip:alice@example.org"))),
        ])
        try await fleet.waitForOutcomes("pushes to APNs and FCM and the filter skip") { outcomes in
            outcomes.contains { $0.callId == "m-voip" && $0.result == .sent } && outcomes.contains { $0.callId == "m-android" && $0.result == .sent }
                && outcomes.contains { $0.callId == "m-blocked" && $0.result == .skipped }
        }
        try await fleet.publish([
            Router.response("m-voip", status: 180),
            Router.ended("m-android", .cancelled),
            .registrationUpdated(RegistrationUpdated(
                header: RecordHeader(id: "m-reg", time: Router.now()), aor: "sip:alice@example.org", contact: Router.android(),
                instanceId: "<urn:uuid:0e0e0e0e-1111-2222-3333-555555555555>", callId: "reg-1", expires: 3600, updatedAt: Router.now())),
        ])
        try await fleet.publishRaw([KafkaProducerRecord(topic: "pushfleet.events", key: Array("m-bad".utf8), value: Array("{not json".utf8))])
        _ = try await waitForValue("the dead letter") { try await fleet.deadLetters().isEmpty ? nil : true }

        // The counters are updated after the outcome is written: poll until the last ones show.
        let exposition = try await waitForValue("every queried metric in /metrics") { () -> String? in
            let (status, body) = try await Self.get(curl, base + "/metrics")
            guard status == 200 else { throw TestFailure("/metrics answered \(status)") }
            let indexed = Self.samples("pushfleet_wakeup_bindings", in: body).map(\.value).reduce(0, +)
            return try Self.missing(Self.queriedMetrics(), from: body).isEmpty && indexed == 1 ? body : nil
        }
        #expect(try Self.missing(Self.queriedMetrics(), from: exposition).isEmpty)

        // Every metric family has a `# HELP` line (HelpTextMetricsFactory): no lint finding at all.
        let (lint, lintOut, lintErr) = try await run(promtool, ["check", "metrics"], stdin: exposition)
        let findings = (lintOut + lintErr).split(separator: "\n").filter { !$0.isEmpty }
        #expect(findings.isEmpty, "promtool check metrics: \(findings)")
        #expect(lint == 0, "promtool exit \(lint)")
        let families = exposition.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { $0.split(separator: " ")[2] }
        let helped = Set(exposition.split(separator: "\n").filter { $0.hasPrefix("# HELP ") }.map { $0.split(separator: " ")[2] })
        #expect(!families.isEmpty && families.allSatisfy { helped.contains($0) }, "families without # HELP: \(families.filter { !helped.contains($0) })")

        // What the series say, not only that they exist.
        #expect(Self.sample("pushfleet_assigned_partitions", in: exposition) == 4, "one worker owns all 4 partitions")
        // The standard process metrics, read from /proc at the scrape: values that make sense.
        let resident = Self.sample("process_resident_memory_bytes", in: exposition) ?? 0
        #expect(resident > 4_000_000 && resident < 4_000_000_000, "resident memory \(resident)")
        #expect((Self.sample("process_virtual_memory_bytes", in: exposition) ?? 0) > resident)
        #expect((Self.sample("process_cpu_seconds_total", in: exposition) ?? 0) > 0)
        let fds = Self.sample("process_open_fds", in: exposition) ?? 0
        #expect(fds >= 3 && fds <= (Self.sample("process_max_fds", in: exposition) ?? 0), "open fds \(fds)")
        let started = Self.sample("process_start_time_seconds", in: exposition) ?? 0
        #expect(abs(started - Date().timeIntervalSince1970) < 300, "the worker started moments ago: \(started)")
        let (_, version, _) = try await run("pushfleet", ["--version"])
        let build = try #require(Self.samples("pushfleet_build_info", in: exposition).first, "pushfleet_build_info exported")
        #expect(build.value == 1)
        #expect(version.trimmingCharacters(in: .whitespacesAndNewlines) == "pushfleet \(Self.label("version", build.labels)) (revision \(Self.label("revision", build.labels)))",
                "the metric's labels are what --version prints: \(build.labels) vs \(version)")
        #expect(Self.sample(#"pushfleet_pushes_total{provider="apns.dev",push_type="voip",result="sent"}"#, in: exposition) == 1)
        #expect(Self.sample(#"pushfleet_skips_total{reason="filter"}"#, in: exposition) == 1)
        #expect(Self.sample("pushfleet_dead_letters_total", in: exposition) == 1)
        #expect(Self.sample("pushfleet_restore_duration_seconds_count", in: exposition) == 8, "one restore per events and registrations partition")
        #expect(Self.samples("pushfleet_wakeup_bindings", in: exposition).map(\.value).reduce(0, +) == 1, "the one binding, indexed for wake-up")
        // Healthy destinations: one closed breaker per destination pushed to.
        let breakers = Self.samples("pushfleet_breaker_state", in: exposition)
        #expect(breakers.contains { $0.labels.contains(#"provider="apns""#) && $0.value == 0 }, "\(breakers)")
        #expect(breakers.contains { $0.labels.contains(#"provider="fcm""#) && $0.value == 0 }, "\(breakers)")
        #expect(breakers.allSatisfy { $0.value == 0 })
        // The certificate lifetime counts down between scrapes (it is not a figure frozen at load).
        let certificate = #"pushfleet_apns_certificate_expiry_seconds{certificate="org.linphone.phone.voip.prod"}"#
        let first = try #require(Self.sample(certificate, in: exposition), "expiry gauge of the sandbox's VoIP certificate")
        #expect(first > 0)
        let later = try await waitForValue("the certificate lifetime to count down", timeout: .seconds(5)) { () -> Double? in
            let value = Self.sample(certificate, in: try await Self.get(curl, base + "/metrics").body)
            return value.flatMap { $0 < first ? $0 : nil }
        }
        #expect(later >= first - 5)

        // Every exported pushfleet metric is documented for operators.
        let operations = try String(contentsOf: Self.packageRoot.appendingPathComponent("docs/operations.md"), encoding: .utf8)
        let undocumented = Self.exportedNames(exposition).filter { !operations.contains("`\($0)`") }
        #expect(undocumented.isEmpty, "exported but not in docs/operations.md: \(undocumented)")

        // A destination that keeps failing opens its breaker, and only its own: five calls to the
        // non-VoIP app whose tokens APNs answers 503, and the gauge of that app reads 2 (open)
        // while the VoIP app's stays 0.
        let sick = (0..<5).map { String(format: "%064x", 0xb0_0000 + $0) }
        for token in sick { fleet.apns.script(token: token, Array(repeating: .unavailable(retryAfter: nil), count: 10)) }
        try await fleet.publish(sick.enumerated().map { Router.unanswered("m-sick-\($0.offset)", uri: Router.iosRemote(token: $0.element)) })
        let open = try await waitForValue("the breaker of the failing app to open") { () -> [(labels: String, value: Double)]? in
            let breakers = Self.samples("pushfleet_breaker_state", in: try await Self.get(curl, base + "/metrics").body)
            return breakers.contains { $0.labels == #"{provider="apns",destination="org.linphone.phone.dev"}"# && $0.value == 2 } ? breakers : nil
        }
        #expect(open.first { $0.labels == #"{provider="apns",destination="org.linphone.phone.voip.dev"}"# }?.value == 0, "\(open)")

        #expect(try await Self.get(curl, base + "/health").status == 200)
        #expect(try await Self.get(curl, base + "/ready").status == 200, "ready once every assigned partition is restored")
        #expect(try await Self.get(curl, base + "/nothing").status == 404)
    }

    @Test("metric names are read out of PromQL, with histogram suffixes folded")
    func metricNameParsing() {
        let names = Self.metricNames(in: #"""
            histogram_quantile(0.99, sum by (le) (rate(pushfleet_send_latency_seconds_bucket{job=~"$job"}[5m])))
            / rate(pushfleet_restore_duration_seconds_sum[15m]) + pushfleet:consumer_lag:max_by_partition
            "legendFormat": "pushfleet_x"
            """#)
        #expect(names == ["pushfleet_restore_duration_seconds", "pushfleet_send_latency_seconds", "pushfleet_x"])
        // A name absent from an exposition, a histogram present only through its series.
        let exposition = """
            # TYPE pushfleet_send_latency_seconds histogram
            pushfleet_send_latency_seconds_bucket{le="0.1"} 1
            pushfleet_events_total{type="branch.unanswered"} 3
            """
        #expect(Self.missing(["pushfleet_send_latency_seconds", "pushfleet_events_total", "pushfleet_gone_total"], from: exposition)
                == ["pushfleet_gone_total"])
    }

    // MARK: - Helpers

    /// Names queried by the alert rules and dashboards (recording rules' `pushfleet:` names excluded).
    static func queriedMetrics() throws -> Set<String> {
        var names = Set<String>()
        for folder in ["ops/prometheus", "ops/grafana"] {
            let url = packageRoot.appendingPathComponent(folder)
            for file in try FileManager.default.contentsOfDirectory(atPath: url.path) where file.hasSuffix(".yml") || file.hasSuffix(".json") {
                names.formUnion(metricNames(in: try String(contentsOf: url.appendingPathComponent(file), encoding: .utf8)))
            }
        }
        guard names.count >= 10 else { throw TestFailure("only \(names.count) metric names found in ops/: \(names.sorted())") }
        return names
    }

    /// `pushfleet_[a-z_]+` tokens, with `_bucket`, `_sum` and `_count` removed (histogram series).
    static func metricNames(in text: String) -> Set<String> {
        let regex = /pushfleet_[a-z_]+/
        return Set(text.matches(of: regex).map { match in
            var name = String(match.output)
            for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) {
                name.removeLast(suffix.count)
            }
            return name
        })
    }

    /// Metric family names of an exposition (the `# TYPE` lines and the sample lines).
    static func exportedNames(_ exposition: String) -> Set<String> {
        var names = Set<String>()
        for line in exposition.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if fields.first == "#", fields.count >= 3, fields[1] == "TYPE" {
                names.insert(String(fields[2]))
            } else if let first = fields.first, !first.hasPrefix("#") {
                names.insert(String(first.prefix { $0 != "{" }))
            }
        }
        return Set(names.filter { $0.hasPrefix("pushfleet_") }.map { name in
            ["_bucket", "_sum", "_count"].first { name.hasSuffix($0) }.map { String(name.dropLast($0.count)) } ?? name
        })
    }

    static func missing(_ wanted: Set<String>, from exposition: String) -> [String] {
        let exported = exportedNames(exposition)
        return wanted.subtracting(exported).sorted()
    }

    /// The value of the sample whose name and labels are exactly `series`.
    static func sample(_ series: String, in exposition: String) -> Double? {
        for line in exposition.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1).split(separator: " ").first ?? "")
        }
        return nil
    }

    /// Every sample of a family: its labels (the `{…}` text) and value.
    static func samples(_ name: String, in exposition: String) -> [(labels: String, value: Double)] {
        exposition.split(separator: "\n").compactMap { line in
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "), let space = line.lastIndex(of: " ") else { return nil }
            guard let value = Double(line[line.index(after: space)...]) else { return nil }
            return (String(line[line.index(line.startIndex, offsetBy: name.count)..<space]), value)
        }
    }

    /// The value of `name` in a sample's `{a="x",b="y"}` label set ("" when absent).
    static func label(_ name: String, _ labels: String) -> String {
        guard let start = labels.range(of: name + "=\"") else { return "" }
        return String(labels[start.upperBound...].prefix { $0 != "\"" })
    }

    /// The port the worker bound for `metrics-listen=127.0.0.1:0`, from its log line
    /// `metrics endpoint listening address=[IPv4]127.0.0.1/127.0.0.1:PORT`.
    static func metricsPort(_ log: String) throws -> Int {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("metrics endpoint listening") }),
              let address = line.split(separator: " ").first(where: { $0.hasPrefix("address=") }),
              let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...].prefix { $0.isNumber }) else {
            throw TestFailure("no metrics endpoint in the worker's log:\n\(log)")
        }
        return port
    }

    static func get(_ curl: String, _ url: String) async throws -> (status: Int, body: String) {
        let (exit, out, err) = try await run(curl, ["-sS", "--max-time", "5", "-w", "\n%{http_code}", url])
        guard exit == 0, let newline = out.lastIndex(of: "\n"), let status = Int(out[out.index(after: newline)...]) else {
            throw TestFailure("curl \(url) failed (\(exit)): \(err)")
        }
        return (status, String(out[..<newline]))
    }

    /// An external tool on the PATH; `make test` installs it (scripts/check-deploy.sh).
    static func tool(_ name: String, install: String) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else { throw TestFailure("\(name) not found (\(install)): run scripts/check-deploy.sh or `make test`") }
        return path
    }
}
}  // extension FleetProcesses
