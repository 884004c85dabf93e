import Foundation
import PushSandbox
import Synchronization

/// Each worker in a network namespace of its own (Linux, root, iproute2), so that one worker can
/// be cut off from the broker while it still reaches the providers.
///
/// The broker and the sandboxes listen on 127.0.0.1 of the runner's namespace, and the broker
/// advertises that address, so a worker's namespace relays 127.0.0.1:<port> (a `pushfleet-chaos
/// --relay` process inside it) over a veth pair to relays on the host side of the pair, which
/// forward to 127.0.0.1:<port>. Cutting a worker off black-holes its established broker
/// connections and refuses new ones, on its host-side broker relay only; its provider relays
/// count its requests (writes over 150 bytes), so the runner sees when it stopped sending.
final class WorkerNetworks: Sendable {
    struct Slot: Sendable {
        var namespace: String
        var hostInterface: String
        var hostAddress: String
        var broker: SandboxTCPRelay
        var providers: [SandboxTCPRelay]
        var inside: Process
    }

    struct Cut: Sendable {
        var slot: Int
        var start: Double
        var end: Double
        /// Seconds from the cut to the worker's last request to a provider during it.
        var lastRequestAfter: Double?
    }

    /// A cut-off worker must stop sending within its session timeout (6 s) plus this slack.
    static let stopBound = 10.0

    private let slots: [Slot]
    private let timeline: Timeline
    private let cuts = Mutex<[Cut]>([])

    /// Nil when namespaces can be used here, else why not.
    static func unavailable() -> String? {
        guard getuid() == 0 else { return "not root" }
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") else { return "no /usr/sbin/ip (iproute2)" }
        return nil
    }

    /// Creates a namespace per worker slot relaying `ports` (broker, APNs, FCM) of 127.0.0.1.
    init(count: Int, brokerPort: Int, providerPorts: [Int], chaos: URL, timeline: Timeline) async throws {
        self.timeline = timeline
        let tag = Int(getpid()) % 10_000
        var made: [Slot] = []
        for slot in 0..<count {
            let namespace = "pfchaos\(tag)-\(slot)", host = "pfc\(tag)\(slot)h", inner = "pfc\(tag)\(slot)n"
            let subnet = "10.213.\(tag % 50 * 5 + slot)"
            try Self.ip(["netns", "add", namespace])
            try Self.ip(["link", "add", host, "type", "veth", "peer", "name", inner])
            try Self.ip(["link", "set", inner, "netns", namespace])
            try Self.ip(["addr", "add", "\(subnet).1/24", "dev", host])
            try Self.ip(["link", "set", host, "up"])
            for args in [["addr", "add", "\(subnet).2/24", "dev", inner], ["link", "set", inner, "up"], ["link", "set", "lo", "up"]] {
                try Self.ip(["netns", "exec", namespace, "/usr/sbin/ip"] + args)
            }
            let broker = SandboxTCPRelay(to: "127.0.0.1", port: brokerPort, listenHost: "\(subnet).1", listenPort: brokerPort)
            try await broker.start()
            var providers: [SandboxTCPRelay] = []
            for port in providerPorts {
                let relay = SandboxTCPRelay(to: "127.0.0.1", port: port, listenHost: "\(subnet).1", listenPort: port)
                try await relay.start()
                providers.append(relay)
            }
            let inside = Process()
            inside.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
            inside.arguments = ["netns", "exec", namespace, chaos.path] + ([brokerPort] + providerPorts).flatMap {
                ["--relay", "127.0.0.1:\($0)=\(subnet).1:\($0)"]
            }
            let out = Pipe()
            inside.standardOutput = out
            inside.standardError = FileHandle.nullDevice
            try inside.run()
            let text = PipeText(out.fileHandleForReading)
            guard await waitFor(.seconds(20), { text.text.contains("relaying") }) else {
                throw ChaosError("the relay in namespace \(namespace) did not start")
            }
            made.append(Slot(namespace: namespace, hostInterface: host, hostAddress: "\(subnet).1", broker: broker,
                             providers: providers, inside: inside))
        }
        slots = made
    }

    @discardableResult
    static func ip(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        process.standardError = err
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let why = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw ChaosError("ip \(arguments.joined(separator: " ")): \(why)")
        }
        return process.terminationStatus
    }

    /// The command prefix that runs a program in the slot's namespace.
    func launcher(_ slot: Int) -> (URL, [String]) {
        (URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "exec", slots[slot].namespace])
    }

    /// Cuts the slot's worker off the broker for `seconds`, then measures when it stopped sending.
    func cut(_ slot: Int, seconds: Double) async {
        let s = slots[slot]
        let entry = timeline.begin("broker-partition", String(format: "worker %d cut off the broker for %.0f s (providers still reachable)", slot, seconds))
        let start = ContinuousClock.now, startAt = timeline.seconds()
        s.broker.refuseConnections()
        s.broker.blackHoleEstablished()
        let until = start + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < until { try? await Task.sleep(for: .milliseconds(100)) }
        // Measured before the broker is back: after that the worker may own partitions again.
        let last = s.providers.flatMap(\.largeClientWrites).filter { $0 >= start && $0 <= until }.max()
        s.broker.acceptConnections()
        timeline.finish(entry)
        let after = last.map { instant -> Double in
            let d = instant - start
            return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }
        cuts.withLock { $0.append(Cut(slot: slot, start: startAt, end: timeline.seconds(), lastRequestAfter: after)) }
    }

    var allCuts: [Cut] { cuts.withLock { $0 } }

    func tearDown() {
        for slot in slots {
            if slot.inside.isRunning { kill(slot.inside.processIdentifier, SIGKILL) }
            _ = try? Self.ip(["netns", "del", slot.namespace])
            _ = try? Self.ip(["link", "del", slot.hostInterface])
        }
    }

    /// `--relay LISTEN=TARGET` mode: the relays inside a worker's namespace, until killed.
    static func relay(_ specs: [String]) async throws {
        var relays: [SandboxTCPRelay] = []
        for spec in specs {
            let sides = spec.split(separator: "=").map { $0.split(separator: ":") }
            guard sides.count == 2, sides.allSatisfy({ $0.count == 2 }), let lp = Int(sides[0][1]), let tp = Int(sides[1][1]) else {
                throw ChaosError("--relay wants HOST:PORT=HOST:PORT, got \(spec)")
            }
            let relay = SandboxTCPRelay(to: String(sides[1][0]), port: tp, listenHost: String(sides[0][0]), listenPort: lp)
            try await relay.start()
            relays.append(relay)
        }
        log("relaying \(specs.joined(separator: ", "))")
        while true { try await Task.sleep(for: .seconds(3600)) }
    }
}
