import Foundation
import PushSandbox

/// The fault scheduler: draws from the seed what to break, for how long and when, and lets
/// faults overlap (each runs as a task of its own). At most `count - 1` workers are disrupted at
/// once, so some owner can always make progress; everything is undone by `calm()`.
struct FaultScheduler: Sendable {
    /// Kinds and their weights; the report counts faults by these names.
    static let kinds: [(name: String, weight: Int)] = [
        ("sigkill", 3), ("sigstop", 2), ("sigterm-restart", 2), ("rolling-restart", 1),
        ("broker-outage", 2), ("broker-latency", 2),
        ("apns-503", 1), ("apns-429", 1), ("apns-slow", 1), ("apns-hang", 1), ("apns-rst-stream", 1), ("apns-goaway", 1),
        ("apns-black-hole", 1), ("fcm-503", 1), ("fcm-429", 1), ("fcm-slow", 1), ("fcm-hang", 1), ("fcm-goaway", 1),
        ("oauth-503", 1), ("broker-partition", 2),
    ]
    static let workerFaults: Set<String> = ["sigkill", "sigstop", "sigterm-restart", "rolling-restart", "unexpected-exit", "broker-partition"]
    static let brokerFaults: Set<String> = ["broker-outage", "broker-latency"]

    let fleet: WorkerFleet
    let broker: BrokerProcess
    let apns: APNsSandbox
    let fcm: FCMSandbox
    let relay: SandboxTCPRelay
    /// Nil: no network namespaces, no broker partitions.
    let networks: WorkerNetworks?
    let timeline: Timeline
    /// Seconds between two fault starts (drawn uniformly).
    let gap: ClosedRange<Double>
    /// SIGTERM bound of `pushfleet worker` plus slack.
    let stopBound: Double

    /// Runs until cancelled; returns when every fault it started has ended.
    func run(seed: UInt64) async {
        var random = SeededGenerator(seed: seed)
        var rolling = 0
        await withTaskGroup(of: Void.self) { group in
            while !Task.isCancelled {
                let wait = Double.random(in: gap, using: &random)
                do { try await Task.sleep(for: .seconds(wait)) } catch { break }
                var kind = Self.draw(&random)
                // Without namespaces, a partition is drawn but played as a SIGSTOP (same seed, same schedule).
                if kind == "broker-partition" && networks == nil { kind = "sigstop" }
                let length = Double.random(in: 0...1, using: &random)
                let pick = Int.random(in: 0..<1000, using: &random)
                if kind == "rolling-restart" { rolling += 1 }
                let round = rolling
                group.addTask { await inject(kind, length: length, pick: pick, round: round) }
            }
            // Cancelled: every running fault finishes its own window (the longest is ~20 s).
            await group.waitForAll()
        }
    }

    static func draw(_ random: inout SeededGenerator) -> String {
        let total = kinds.map(\.weight).reduce(0, +)
        var n = Int.random(in: 0..<total, using: &random)
        for kind in kinds {
            if n < kind.weight { return kind.name }
            n -= kind.weight
        }
        return kinds[0].name
    }

    /// A worker that may be disrupted now: healthy, and not the last healthy one.
    private func victim(_ pick: Int) -> Int? {
        let healthy = fleet.healthySlots
        guard healthy.count >= 2 else { return nil }
        return healthy[pick % healthy.count]
    }

    private func sleep(_ seconds: Double) async {
        // Not cancellable: a fault window always ends by undoing itself.
        let until = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < until { try? await Task.sleep(for: .milliseconds(100)) }
    }

    /// One fault; `length` in 0...1 scales its duration, `pick` chooses the worker.
    func inject(_ kind: String, length: Double, pick: Int, round: Int) async {
        switch kind {
        case "sigkill":
            guard let slot = victim(pick) else { return }
            let entry = timeline.begin(kind, "worker \(slot)")
            fleet.kill9(slot)
            await sleep(1 + 4 * length)
            try? await fleet.start(slot)
            timeline.finish(entry)
        case "sigstop":
            guard let slot = victim(pick) else { return }
            let seconds = 8 + 12 * length  // past the session timeout (6 s): the group evicts it
            let entry = timeline.begin(kind, String(format: "worker %d frozen %.0f s", slot, seconds))
            fleet.freeze(slot)
            await sleep(seconds)
            fleet.thaw(slot)
            timeline.finish(entry)
        case "sigterm-restart":
            guard let slot = victim(pick) else { return }
            let entry = timeline.begin(kind, "worker \(slot)")
            let took = await fleet.terminate(slot, bound: stopBound)
            try? await fleet.start(slot)
            timeline.finish(entry)
            if let took { timeline.instant("stopped", String(format: "worker %d stopped in %.1f s", slot, took)) }
        case "rolling-restart":
            guard fleet.healthySlots.count == fleet.count else { return }
            // One push option changes on every worker, one after the other, as a deployment would.
            let option = "module::PushNotification/no-badge=\(round % 2 == 1 ? "true" : "false")"
            let entry = timeline.begin(kind, option)
            for slot in 0..<fleet.count {
                await fleet.terminate(slot, bound: stopBound)
                try? await fleet.start(slot, extra: ["--set", option])
            }
            timeline.finish(entry)
        case "broker-partition":
            guard let networks, let slot = victim(pick) else { return }
            fleet.setCutOff(slot, true)
            await networks.cut(slot, seconds: 15 + 10 * length)
            fleet.setCutOff(slot, false)
        case "broker-outage":
            let seconds = 5 + 15 * length
            let entry = timeline.begin(kind, String(format: "%.0f s", seconds))
            fleet.setBrokerOutage(true)
            try? await broker.control("down all")
            await sleep(seconds)
            try? await broker.control("up all")
            fleet.setBrokerOutage(false)
            timeline.finish(entry)
        case "broker-latency":
            let ms = 200 + Int(1300 * length)
            let entry = timeline.begin(kind, "+\(ms) ms for 10 s")
            try? await broker.control("rtt \(ms)")
            await sleep(10)
            try? await broker.control("rtt 0")
            timeline.finish(entry)
        case "apns-black-hole":
            // Connections open now go silent; the worker must notice (PING) and reconnect.
            timeline.instant(kind, "established APNs connections stop forwarding")
            relay.blackHoleEstablished()
        default:
            let seconds = 3 + 7 * length
            let reply: SandboxReply = switch kind.split(separator: "-").dropFirst().joined(separator: "-") {
            case "503": .unavailable(retryAfter: 1 + Int(2 * length))
            case "429": .tooManyRequests(retryAfter: 1 + Int(2 * length))
            case "slow": .slow(milliseconds: 1500 + Int(3000 * length), then: .ok)
            case "hang": .hang
            case "rst-stream": .reset
            default: .goAway
            }
            let entry = timeline.begin(kind, String(format: "%.0f s", seconds))
            let provider = kind.prefix(while: { $0 != "-" })
            switch provider {
            case "apns": apns.setFault(reply)
            case "fcm": fcm.setFault(reply)
            default: fcm.setTokenEndpointFault(reply)
            }
            await sleep(seconds)
            switch provider {
            case "apns": apns.setFault(nil)
            case "fcm": fcm.setFault(nil)
            default: fcm.setTokenEndpointFault(nil)
            }
            timeline.finish(entry)
        }
    }
}
