import Logging
import NIOCore
import NIOSSL
import PushContract
import Synchronization

/// Connection pools by (credential, host) key, created on first use.
package final class PoolRegistry: Sendable {
    private let pools = Mutex<[String: HTTP2ConnectionPool]>([:])
    private let group: any EventLoopGroup
    private let clock: any PushClock
    private let tuning: SenderTuning
    private let logger: Logger

    package init(group: any EventLoopGroup, clock: any PushClock, tuning: SenderTuning, logger: Logger) {
        self.group = group
        self.clock = clock
        self.tuning = tuning
        self.logger = logger
    }

    /// The pool for `key`; `tls` is asked for only when the pool is created.
    package func pool(_ key: String, endpoint: HTTP2Endpoint, tls: () -> NIOSSLContext?) -> HTTP2ConnectionPool {
        if let p = pools.withLock({ $0[key] }) { return p }
        let context = tls()
        return pools.withLock { p in
            if let existing = p[key] { return existing }
            let pool = HTTP2ConnectionPool(endpoint: endpoint, tls: context, group: group, clock: clock, tuning: tuning, logger: logger)
            p[key] = pool
            return pool
        }
    }

    /// Retires (drains, then closes) the pools whose key starts with `prefix`.
    package func retire(prefix: String) {
        let retired = pools.withLock { p -> [HTTP2ConnectionPool] in
            let keys = p.keys.filter { $0.hasPrefix(prefix) }
            return keys.compactMap { p.removeValue(forKey: $0) }
        }
        retired.forEach { $0.retire() }
    }

    package func connectionsOpened(prefix: String = "") -> Int {
        pools.withLock { $0.filter { $0.key.hasPrefix(prefix) }.values.reduce(0) { $0 + $1.connectionsOpened } }
    }

    package func shutdown() async {
        let all = pools.withLock { p -> [HTTP2ConnectionPool] in
            defer { p.removeAll() }
            return Array(p.values)
        }
        for pool in all { await pool.shutdown() }
    }
}
