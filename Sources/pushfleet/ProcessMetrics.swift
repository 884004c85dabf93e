import Foundation
import Metrics
import Synchronization

/// The Prometheus client libraries' standard `process_*` metrics, read from `/proc/self` at each
/// scrape (no maintained Swift package here provides them): memory, CPU time, file descriptors
/// and start time, so a leak, a CPU-bound worker or a descriptor exhaustion shows on the
/// dashboard before it takes the worker down.
final class ProcessMetrics: Sendable {
    static let help: [String: String] = [
        "process_resident_memory_bytes": "Resident memory size in bytes.",
        "process_virtual_memory_bytes": "Virtual memory size in bytes.",
        "process_cpu_seconds_total": "Total user and system CPU time spent in seconds.",
        "process_open_fds": "Number of open file descriptors.",
        "process_max_fds": "Maximum number of open file descriptors.",
        "process_start_time_seconds": "Start time of the process since unix epoch in seconds.",
    ]

    private let resident = Gauge(label: "process_resident_memory_bytes")
    private let virtual = Gauge(label: "process_virtual_memory_bytes")
    private let cpu = FloatingPointCounter(label: "process_cpu_seconds_total")
    private let openFDs = Gauge(label: "process_open_fds")
    private let maxFDs = Gauge(label: "process_max_fds")
    private let startTime = Gauge(label: "process_start_time_seconds")
    /// CPU seconds already counted (the counter only goes up by increments).
    private let counted = Mutex<Double>(0)

    init() { refresh() }

    /// What `/proc/self/stat` says, or nil where the kernel does not provide it (not Linux).
    struct Reading: Equatable {
        var cpuSeconds: Double
        var startSecondsAfterBoot: Double
        var virtualBytes: Double
        var residentBytes: Double

        /// Parses `/proc/self/stat`; the command name (field 2) may hold spaces and parentheses,
        /// so fields are counted after its last `)`.
        init?(stat: String, ticksPerSecond: Double, pageSize: Double) {
            guard let close = stat.lastIndex(of: ")") else { return nil }
            // Field 3 (state) is the first after the name: utime is 14, stime 15, starttime 22,
            // vsize 23, rss 24.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            func field(_ number: Int) -> Double? { fields.count > number - 3 ? Double(fields[number - 3]) : nil }
            guard let utime = field(14), let stime = field(15), let start = field(22), let vsize = field(23), let rss = field(24) else { return nil }
            cpuSeconds = (utime + stime) / ticksPerSecond
            startSecondsAfterBoot = start / ticksPerSecond
            virtualBytes = vsize
            residentBytes = rss * pageSize
        }
    }

    func refresh() {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let reading = Reading(stat: stat, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))), pageSize: Double(sysconf(Int32(_SC_PAGESIZE))))
        else { return }
        resident.record(reading.residentBytes)
        virtual.record(reading.virtualBytes)
        let delta = counted.withLock { counted -> Double in
            let delta = max(0, reading.cpuSeconds - counted)
            counted += delta
            return delta
        }
        if delta > 0 { cpu.increment(by: delta) }
        if let boot = Self.bootTime() { startTime.record(boot + reading.startSecondsAfterBoot) }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFDs.record(entries.count)
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.record(Double(limit.rlim_cur)) }
    }

    /// `btime` of `/proc/stat`: the boot time in seconds since the epoch.
    private static func bootTime() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6)) }
    }
}
