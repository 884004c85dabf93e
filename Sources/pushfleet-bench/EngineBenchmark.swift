import Foundation
import Kafka
import PushContract
import PushEngine
import PushPolicy
import PushSenders

/// Scale figures of the worker engine: restore rate against kcat, memory per pending schedule,
/// and timer lateness with many pending ringing repetitions.
enum EngineBenchmark {
    static let policy: BranchPolicy = {
        var options = PushNotificationOptions()
        options.enabled = true
        options.callRemotePushInterval = 5
        var router = RouterOptions()
        router.callForkTimeout = 3600
        return try! BranchPolicy(options: options, router: router)
    }()

    /// A pending ringing schedule, encoded as the state topic holds it.
    static func stateRecord(_ i: Int, now: EventTime) -> (key: String, value: [UInt8]) {
        let token = String(format: "%064x", i)
        let event = BranchUnanswered(
            header: RecordHeader(id: "bench-\(i)", time: now), callId: "bench-call-\(i)@example.org", branch: "b1", method: "INVITE",
            requestUri: "sip:alice@192.0.2.1;pn-provider=apns;pn-param=ABCD1234.org.linphone.phone;pn-prid=\(token)",
            from: SIPAddress(uri: "sip:bob@example.org", displayName: "Bob"), to: SIPAddress(uri: "sip:alice@example.org"))
        let bytes = RecordEncoder.encode(RouterEvent.branchUnanswered(event))
        guard case .push(let requests) = policy.decide(event) else { fatalError("bench event must push") }
        let key = requests[0].dedupKey
        let record = ScheduleRecord(
            header: RecordHeader(id: event.header.id, time: now), key: key, callId: event.callId, branch: "b1",
            eventTime: now, requestIndex: 0, provider: "apns", pushType: .ringing, phase: .pending, attempt: 1,
            nextAt: now.adding(milliseconds: Int64(i % 5000)), retransmissionsLeft: 0,
            ringingUntil: now.adding(seconds: 3600), finalReason: nil, event: bytes)
        return (key, RecordEncoder.encode(record))
    }

    /// Produces `count` schedules into one partition, then restores them like a worker (partition
    /// reader + latest value per key + core) and times kcat reading the same partition.
    static func restore(count: Int, broker: EmbeddedKafkaBroker, kcat: String) async throws -> (ours: Double, kcat: Double, bytes: Int) {
        let topic = "bench.state"
        try broker.createTopic(KafkaTopicSpec(name: topic, partitions: 1, configs: ["cleanup.policy": "compact"]))
        let config = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, clientId: "bench-restore")
        let producer = try KafkaProducer(configuration: config)
        let now = SystemClock().now()
        var total = 0
        for chunk in stride(from: 0, to: count, by: 5000) {
            let records = (chunk..<min(count, chunk + 5000)).map { i -> KafkaProducerRecord in
                let (key, value) = stateRecord(i, now: now)
                total += value.count
                return KafkaProducerRecord(topic: topic, partition: 0, key: Array(key.utf8), value: value)
            }
            for result in await producer.sendBatch(records) { _ = try result.get() }
        }
        let started = ContinuousClock.now
        let latest = LatestValues()
        try await KafkaPartitionReader(configuration: config).read(KafkaTopicPartition(topic: topic, partition: 0)) { latest.apply($0) }
        var core = PartitionCore(partition: 0, policy: policy)
        for (key, value) in latest.values { try core.restore(key: key, value: value) }
        let ours = Double(count) / (ContinuousClock.now - started).seconds
        guard core.pendingCount == count else { throw BenchError("restored \(core.pendingCount) of \(count)") }
        let kcatRun = try streamProcess(kcat, ["-b", broker.bootstrapServers, "-C", "-t", topic, "-p", "0", "-o", "beginning", "-e", "-q", "-f", "%k %s\n"])
        return (ours, Double(count) / kcatRun.wall, total / count)
    }

    /// Resident memory added by `count` restored schedules, per schedule.
    static func memoryPerSchedule(count: Int) throws -> Double {
        let now = SystemClock().now()
        let encoded = (0..<count).map { stateRecord($0, now: now) }
        let before = residentBytes()
        var core = PartitionCore(partition: 0, policy: policy)
        for (key, value) in encoded { try core.restore(key: key, value: value) }
        let after = residentBytes()
        withExtendedLifetime(core) {}
        return Double(after - before) / Double(count)
    }

    /// Fires `count` pending ringing schedules (5 s interval, spread over the first 5 s) with the
    /// core's timer heap and the system clock for `seconds`, answering each push at once;
    /// returns the lateness (fire time − due time) of every push, in milliseconds.
    /// Also returns the process CPU time per firing (fire, derive the request, apply the
    /// answer), which says whether lateness comes from the engine or from a busy machine.
    static func timerLateness(count: Int, seconds: Int) async throws -> (lateness: [Double], cpuMicrosPerFiring: Double) {
        let clock = SystemClock()
        // Deadlines start 15 s ahead: restoring 100k schedules takes seconds, and lateness must
        // measure the timer loop, not the restore.
        let start = clock.now().adding(seconds: 15)
        var core = PartitionCore(partition: 0, policy: policy)
        for i in 0..<count {
            let (key, value) = stateRecord(i, now: start)
            try core.restore(key: key, value: value)
        }
        var lateness: [Double] = []
        lateness.reserveCapacity(count * (seconds / 5 + 1))
        let end = start.adding(seconds: seconds)
        var cpu = 0.0
        while clock.now() < end {
            guard let next = core.nextDeadline else { break }
            try await clock.sleep(until: next)
            let now = clock.now()
            let cpuStart = processCPUSeconds()
            for action in core.fireDue(now: now) {
                guard case .send(let order) = action else { continue }
                lateness.append(Double(now.millisecondsSince1970 - order.dueAt.millisecondsSince1970))
                _ = core.completed(order, outcome: SendOutcome(result: .sent, status: 200, provider: "apns"), now: now)
            }
            cpu += processCPUSeconds() - cpuStart
        }
        return (lateness, cpu * 1e6 / Double(max(lateness.count, 1)))
    }

    /// CPU time of one register wake-up tick with `total` bindings of which `due` are due.
    static func wakeUpTick(total: Int, due: Int) throws -> Double {
        var options = PushNotificationOptions()
        options.enabled = true
        options.registerWakeupInterval = 1
        let t0 = SystemClock().now()
        var core = RegistrationCore(partition: 0, options: options, now: t0)
        for i in 0..<total {
            let r = RouterEvent.registrationUpdated(RegistrationUpdated(
                header: RecordHeader(id: "r\(i)", time: t0), aor: "sip:u\(i)@example.org",
                contact: "sip:u\(i)@192.0.2.1;pn-provider=fcm;pn-param=123;pn-prid=t\(i)", instanceId: nil, callId: "c\(i)",
                expires: i < due ? 100 : 86_400, updatedAt: t0))
            _ = core.handle(KafkaMessage(topic: "r", partition: 0, offset: Int64(i), key: Array("k\(i)".utf8), value: RecordEncoder.encode(r)), now: t0)
        }
        let start = threadCPUSeconds()
        let actions = core.fireDue(now: t0.adding(seconds: 60))
        let seconds = threadCPUSeconds() - start
        guard actions.count == due else { fatalError("expected \(due) wake-ups, got \(actions.count)") }
        return seconds * 1000
    }

    static func processCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    static func threadCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    static func residentBytes() -> Int {
        let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
        let pages = Int(statm.split(separator: " ").dropFirst().first ?? "0") ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p))]
    }
}
