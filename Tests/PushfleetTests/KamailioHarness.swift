import Foundation
import Kafka
import PushContract
import Synchronization

/// The reference router of `ops/kamailio` run for real: Kamailio on a loopback UDP port with its
/// own runtime directory (no root, no system service), publishing to the fleet's broker; SIPp
/// processes play the phones with the scenarios of `ops/kamailio/sipp`.
final class KamailioRouter: Sendable {
    static let kamailio = "/usr/sbin/kamailio"
    static let kamcmd = "/usr/sbin/kamcmd"
    static let sipp = "/usr/bin/sipp"
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let opsDirectory = packageRoot.appendingPathComponent("ops/kamailio")

    /// Whether the router's tools are installed (`make deps` installs them; CI must have them).
    static var installed: Bool {
        [kamailio, kamcmd, sipp, "/usr/bin/python3"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts an external tool with every signal unblocked. Children of the test process inherit
    /// the signal mask of the spawning thread, where nearly every signal is blocked: Kamailio's
    /// timers (tm retransmissions, fork timeouts) would never fire and SIGTERM would not stop it.
    /// Python resets the mask and execs the tool.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> ChildProcess {
        let exec = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])"
        return try ChildProcess("/usr/bin/python3", ["-c", exec, executable] + arguments, environment: environment)
    }

    let process: ChildProcess
    /// SIPp runs, killed by `stop()` if still running (a failed test leaves phones waiting).
    private let phones = Mutex<[ChildProcess]>([])
    let port: UInt16
    let directory: URL
    var controlSocket: String { directory.appendingPathComponent("ctl.sock").path }

    /// `children`: SIP worker processes (with one, every SIP message reaches the process whose
    /// producer holds the pending delivery reports). `forkTimeout`: seconds a branch may stay
    /// unanswered. `messageTimeoutMs`: librdkafka's `message.timeout.ms`. `minExpires`: the
    /// registrar's `min_expires` (Kamailio's default is 60 s).
    init(bootstrap: String, children: Int = 2, forkTimeout: Int = 20, messageTimeoutMs: Int = 10_000, minExpires: Int? = nil) async throws {
        guard Self.installed else {
            throw TestFailure("kamailio, kamcmd and sipp are required: `make deps` installs kamailio, kamailio-python3-modules, sip-tester, python3-confluent-kafka")
        }
        port = try freeUDPPort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-kamailio-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let run = directory.path
        process = try Self.spawn(Self.kamailio, [
            "-DD", "-E", "-f", Self.opsDirectory.appendingPathComponent("kamailio.cfg").path,
            "-l", "udp:127.0.0.1:\(port)", "-n", String(children),
            "-Y", run, "-P", "\(run)/kamailio.pid", "-w", run,
            "-A", "PF_SCRIPT=\"\(Self.opsDirectory.appendingPathComponent("pushfleet_router.py").path)\"",
            "-A", "PF_CTL=\"unix:\(run)/ctl.sock\"",
        ] + (minExpires.map { ["-A", "PF_MIN_EXPIRES=\($0)"] } ?? []), environment: [
            "PUSHFLEET_BOOTSTRAP": bootstrap, "PUSHFLEET_FORK_TIMEOUT": String(forkTimeout),
            "PUSHFLEET_MESSAGE_TIMEOUT_MS": String(messageTimeoutMs),
        ])
        let started = process
        let socket = controlSocket
        try await waitUntil("kamailio listening with its control socket", timeout: .seconds(20)) {
            if !started.process.isRunning { throw TestFailure("kamailio exited: \(started.errors.text.suffix(3000))") }
            return FileManager.default.fileExists(atPath: socket) && started.errors.text.contains("io_listen_loop")
        }
    }

    /// Kamailio's `script` counter group, summed over its processes (`kamcmd cnt.grp_get_all`).
    func counters() async throws -> [String: Int] {
        let (status, out, err) = try await run(Self.kamcmd, ["-s", "unix:\(controlSocket)", "cnt.grp_get_all", "script"])
        guard status == 0 else { throw TestFailure("kamcmd failed (\(status)): \(err)") }
        var values: [String: Int] = [:]
        for line in out.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let value = Int(parts[1]) { values[parts[0]] = value }
        }
        return values
    }

    /// Log lines about anything the script could not do (Python exceptions, failed publishes).
    var scriptErrors: [String] {
        process.errors.text.split(separator: "\n").filter { $0.contains("Traceback") || $0.contains("pushfleet: publish failed") }.map(String.init)
    }

    /// An out-of-dialog OPTIONS to the router itself, sent from a throwaway socket: SIP traffic
    /// that makes a Kamailio process serve its pending Kafka delivery reports.
    func ping() throws {
        let text = """
            OPTIONS sip:127.0.0.1:\(port) SIP/2.0\r
            Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-ping-\(UUID().uuidString.prefix(8))\r
            From: <sip:ping@127.0.0.1>;tag=ping\r
            To: <sip:127.0.0.1:\(port)>\r
            Call-ID: ping-\(UUID().uuidString)\r
            CSeq: 1 OPTIONS\r
            Max-Forwards: 70\r
            Content-Length: 0\r
            \r

            """
        try sendUDP(Array(text.utf8), to: port)
    }

    func stop() async {
        for phone in phones.withLock({ $0 }) where phone.process.isRunning { phone.signal(SIGKILL) }
        if process.process.isRunning {
            process.signal(SIGTERM)
            _ = try? await process.waitForExit(timeout: .seconds(10))
        }
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: SIPp phones

    /// Runs a scenario of `ops/kamailio/sipp` from `localPort`; `target` is the router for a UAC,
    /// nil for a UAS (which answers whatever reaches `localPort`). One call, then SIPp exits:
    /// 0 when the scenario completed. `outOfCall`: the scenario (`-oocsf`) that takes requests of
    /// another Call-ID than the scenario's own, e.g. the INVITE reaching a device that registered.
    func sipp(_ scenario: String, user: String? = nil, localPort: UInt16, toRouter: Bool = true, callId: String? = nil,
              keys: [String: String] = [:], pause: Int? = nil, timeout: Int = 30, outOfCall: String? = nil) throws -> ChildProcess {
        var arguments = ["-sf", Self.opsDirectory.appendingPathComponent("sipp/\(scenario).xml").path, "-m", "1",
                         "-i", "127.0.0.1", "-p", String(localPort), "-nostdin", "-timeout", "\(timeout)s", "-timeout_error",
                         "-trace_err", "-error_file", directory.appendingPathComponent("sipp-\(scenario)-\(localPort).log").path,
                         "-trace_msg", "-message_file", directory.appendingPathComponent("sipp-\(scenario)-\(localPort).messages").path]
        if let user { arguments += ["-s", user] }
        if let callId { arguments += ["-cid_str", callId] }
        if let pause { arguments += ["-d", String(pause)] }
        if let outOfCall { arguments += ["-oocsf", Self.opsDirectory.appendingPathComponent("sipp/\(outOfCall).xml").path] }
        for (key, value) in keys.sorted(by: { $0.key < $1.key }) { arguments += ["-key", key, value] }
        if toRouter { arguments.append("127.0.0.1:\(port)") }
        let phone = try Self.spawn(Self.sipp, arguments)
        phones.withLock { $0.append(phone) }
        return phone
    }

    /// Waits for a SIPp run to complete its scenario (exit 0); otherwise (another status, or
    /// still running after `timeout`) fails naming the scenario, with SIPp's error log and output
    /// and the end of Kamailio's log.
    func finish(_ child: ChildProcess, _ scenario: String, localPort: UInt16, timeout: Duration = .seconds(20)) async throws {
        var problem: String
        do {
            let status = try await child.waitForExit(timeout: timeout)
            if status == 0 { return }
            problem = "exit status \(status)"
        } catch {
            problem = "\(error)"
        }
        throw TestFailure("sipp \(scenario) from port \(localPort): \(problem)\n\(sippErrors(scenario, localPort: localPort))\n"
                          + "sipp output: \(child.output.text.suffix(1500))\nkamailio: \(process.errors.text.suffix(3000))")
    }

    /// The SIPp error log and the messages (the last 3000 characters) of a scenario run from
    /// `localPort`, for failure messages.
    func sippErrors(_ scenario: String, localPort: UInt16) -> String {
        let base = directory.appendingPathComponent("sipp-\(scenario)-\(localPort)")
        let errors = (try? String(contentsOf: base.appendingPathExtension("log"), encoding: .utf8)) ?? ""
        return "errors: \(errors)\nmessages: \(sippMessages(scenario, localPort: localPort).suffix(3000))"
    }

    /// The SIP messages a scenario run from `localPort` sent and received (SIPp's `-trace_msg`).
    func sippMessages(_ scenario: String, localPort: UInt16) -> String {
        let file = directory.appendingPathComponent("sipp-\(scenario)-\(localPort).messages")
        return (try? String(contentsOf: file, encoding: .utf8)) ?? ""
    }

    /// A device woken by its push (`device_wake`): registers a fresh contact at `localPort` with
    /// `pushParameters` and `instance`, then answers the call forked to it, picking up `pause`
    /// milliseconds after its 180. Exits 0 once it took the caller's BYE.
    func wokenDevice(_ user: String, localPort: UInt16, pushParameters: String, instance: String,
                     pause: Int = 500, timeout: Int = 20) throws -> ChildProcess {
        try sipp("device_wake", user: user, localPort: localPort, keys: ["pn": pushParameters, "instance": instance, "expires": "3600"],
                 pause: pause, timeout: timeout, outOfCall: "device_wake_answer")
    }

    /// Registers `user` from `localPort` with a contact carrying `pushParameters` and waits for
    /// the 200; the device is then silent (nothing listens on `localPort`).
    func register(_ user: String, localPort: UInt16, pushParameters: String, instance: String, expires: Int = 3600) async throws {
        let device = try sipp("register", user: user, localPort: localPort,
                              keys: ["pn": pushParameters, "instance": instance, "expires": String(expires)], timeout: 10)
        try await finish(device, "register", localPort: localPort, timeout: .seconds(15))
    }
}

/// The contract records Kamailio wrote to a topic, decoded, with their key and partition.
struct PublishedRecord: Sendable {
    var key: String
    var partition: Int32
    var event: RouterEvent?
    var callId: String? {
        switch event {
        case .branchUnanswered(let e): e.callId
        case .branchResponse(let e): e.callId
        case .callEnded(let e): e.callId
        default: nil
        }
    }
    var responseStatus: Int? { if case .branchResponse(let r) = event { r.status } else { nil } }
    var endReason: CallEndReason? { if case .callEnded(let e) = event { e.reason } else { nil } }
}

extension FleetHarness {
    func published(_ topic: String) async throws -> [PublishedRecord] {
        try await read(topic).map { message in
            let event = try message.value.map { try RouterEventDecoder.decode($0) }
            return PublishedRecord(key: String(decoding: message.key ?? [], as: UTF8.self), partition: message.partition, event: event)
        }
    }

    /// Whether a schedule of `callId` still has pushes to send: its latest state (per key) is
    /// `pending` or `final`, not `awake`, `done` or a tombstone.
    func hasPendingSchedule(_ callId: String) async throws -> Bool {
        var pending: [String: Bool] = [:]
        for message in try await read("pushfleet.state") {
            let key = String(decoding: message.key ?? [], as: UTF8.self)
            guard key.hasPrefix(callId + ":") else { continue }
            let phase = try message.value.map { try RecordDecoder.decodeSchedule($0).phase }
            pending[key] = phase == .pending || phase == .final
        }
        return pending.values.contains(true)
    }
}

/// Runs `body` with a new UDP socket and the IPv4 loopback address at `port`; closes the socket.
private func withLoopbackUDPSocket<T>(port: UInt16, _ body: (Int32, UnsafeMutablePointer<sockaddr>) throws -> T) throws -> T {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket(): errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    return try withUnsafeMutablePointer(to: &address) {
        try $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { try body(fd, $0) }
    }
}

/// A UDP port free on 127.0.0.1 right now (the kernel's pick, released for the caller to bind).
func freeUDPPort() throws -> UInt16 {
    try withLoopbackUDPSocket(port: 0) { fd, address in
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard bind(fd, address, length) == 0, getsockname(fd, address, &length) == 0 else {
            throw TestFailure("bind(127.0.0.1:0): errno \(errno)")
        }
        return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
    }
}

/// Sends one datagram to 127.0.0.1:`port` from an ephemeral port.
func sendUDP(_ bytes: [UInt8], to port: UInt16) throws {
    try withLoopbackUDPSocket(port: port) { fd, address in
        let sent = bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        guard sent == bytes.count else { throw TestFailure("sendto(127.0.0.1:\(port)): errno \(errno)") }
    }
}
