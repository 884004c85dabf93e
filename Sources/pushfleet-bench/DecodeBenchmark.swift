#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import PushContract

/// Decode throughput of a realistic `branch.unanswered` record (docs/contract.md §2.1), the hot path of
/// every worker: target ≥ 200,000 records per second on one core.
enum DecodeBenchmark {
    /// A ~600-byte record with SIP headers and a push-parameter-laden request URI, as a router writes it.
    static let sampleRecord: [UInt8] = Array("""
        {"v":1,"type":"branch.unanswered","id":"0f8e7a52-3b1d-4c7e-9a61-2d5f0c9b8e14","time":"2025-11-26T15:06:42.123Z",\
        "callId":"a84b4c76e66710@pc33.atlanta.example.com","branch":"urn:uuid:6e1c1f3a-91b2-4f5e-8d2a-0b7c6d5e4f3a",\
        "method":"INVITE","requestUri":"sip:alice@192.0.2.17:5061;transport=tls;pn-provider=apns.dev;\
        pn-prid=4A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9:voip;\
        pn-param=ABCD1234EF.org.linphone.phone.voip;pn-timeout=0;pn-silent=1",\
        "from":{"uri":"sip:bob@example.com","displayName":"Bob Dupont","tag":"1928301774"},\
        "to":{"uri":"sip:alice@example.com"},"headers":{"User-Agent":"Linphone-Desktop/5.2.4 (belle-sip/5.3.0)",\
        "Content-Type":"application/sdp","Priority":"normal"},"instanceId":"<urn:uuid:6e1c1f3a-91b2-4f5e-8d2a-0b7c6d5e4f3a>",\
        "forkTimeout":90}
        """.utf8)

    /// Rate per second of this thread's CPU time, so that other load on a shared machine does
    /// not count against the decoder ("on one core").
    static func run(iterations: Int) -> (recordsPerSecond: Double, bytesPerRecord: Int) {
        let record = sampleRecord
        let count = max(iterations, 1)
        var decoded = 0
        let start = threadCPUSeconds()
        record.withUnsafeBytes { raw in
            for _ in 0..<count {
                if case .branchUnanswered(let event)? = try? RouterEventDecoder.decode(raw), !event.requestUri.isEmpty {
                    decoded += 1
                }
            }
        }
        let seconds = threadCPUSeconds() - start
        precondition(decoded == count, "the sample record must decode")
        return (Double(count) / seconds, record.count)
    }

    /// Decode plus the policy's decision (needsPush, push parameters, strategy, payload inputs):
    /// what a worker does per event and per timer firing, on one thread's CPU time.
    static func runDecide(iterations: Int) -> Double {
        let record = sampleRecord
        let count = max(iterations, 1)
        var pushed = 0
        let policy = EngineBenchmark.policy
        let start = threadCPUSeconds()
        record.withUnsafeBytes { raw in
            for _ in 0..<count {
                if case .branchUnanswered(let event)? = try? RouterEventDecoder.decode(raw), case .push = policy.decide(event) {
                    pushed += 1
                }
            }
        }
        let seconds = threadCPUSeconds() - start
        precondition(pushed == count, "the sample record must give a push")
        return Double(count) / seconds
    }

    private static func threadCPUSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
