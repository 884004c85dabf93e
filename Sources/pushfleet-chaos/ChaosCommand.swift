import ArgumentParser
import Foundation

/// `pushfleet-chaos`: the whole fleet on this machine under seeded faults, then an invariant
/// check; writes bench/chaos.json. See docs/chaos.md.
@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pushfleet-chaos",
        abstract: "Run the fleet under seeded faults (processes, broker, providers) and check its invariants.",
        discussion: """
            Starts `pushfleet dev-broker --control`, three `pushfleet worker` processes, sandbox \
            APNs/FCM/OAuth/generic servers with a TCP relay in front of APNs, a router simulator \
            and a fault scheduler drawing from --seed; then reads the outcome, dead-letter and \
            state topics and the sandboxes' logs and checks the invariants of docs/chaos.md. \
            Exits 1 on a violation, printing the seed and the fault timeline around the first one.

              pushfleet-chaos --seed 42 --duration 1200
              pushfleet-chaos --short --output .build/chaos-short.json
            """)

    @Option(help: "Seed of the fault schedule and the traffic mix (default: random, printed).") var seed: UInt64?
    @Option(help: "Seconds of traffic and faults (default 1200; 90 with --short).") var duration: Int?
    @Flag(help: "Short mode for CI: 90 s of traffic, faults every 3–8 s; about 3½ minutes in all.") var short = false
    @Option(help: "New calls, messages and records per second.") var rate: Double = 2
    @Option(help: "Where to write the JSON report.") var output: String = "bench/chaos.json"
    @Option(help: "Path of the pushfleet binary (default: next to this one).") var pushfleet: String?
    @Option(help: "Directory for worker logs and the fleet's files (default: a temporary one).") var logs: String?
    @Option(help: "Each worker in a network namespace, and broker partitions: on, off, or auto (on as root with iproute2, except in --short).")
    var netns: String = "auto"
    @Option(help: .hidden) var relay: [String] = []

    func validate() throws {
        if let duration, !(10...86_400).contains(duration) { throw ValidationError("--duration must be in 10...86400, got \(duration)") }
        guard ["on", "off", "auto"].contains(netns) else { throw ValidationError("--netns must be on, off or auto, got \(netns)") }
        guard rate > 0 && rate <= 50 else { throw ValidationError("--rate must be in (0, 50], got \(rate)") }
    }

    func run() async throws {
        if !relay.isEmpty { return try await WorkerNetworks.relay(relay) }
        let seed = self.seed ?? UInt64.random(in: 1...0xFFFF_FFFF)
        let here = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let run = ChaosRun(
            seed: seed, duration: duration ?? (short ? 90 : 1200), short: short, rate: rate,
            netns: netns == "on" || (netns == "auto" && !short),
            pushfleet: pushfleet.map { URL(fileURLWithPath: $0) } ?? here.appendingPathComponent("pushfleet"),
            logDirectory: logs.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("pushfleet-chaos-\(seed)-\(UUID().uuidString.prefix(6))"))
        let report = try await run.execute()
        let directory = URL(fileURLWithPath: output).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try report.json().write(to: URL(fileURLWithPath: output))
        log(report.summary())
        log("report written to \(output)")
        if !report.passed { throw ExitCode(1) }
    }
}
