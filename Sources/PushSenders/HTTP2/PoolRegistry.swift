import Logging
import NIOCore
import NIOSSL
import PushContract
import PushPolicy
import Synchronization

/// Connection pools by (credential, host) key, created on first use, at most
/// `tuning.maxDestinations`, each retired (drained, then closed) after
/// `tuning.destinationIdleMs` without use (see `BoundedTable`).
package final class PoolRegistry: Sendable {
    private let pools: Mutex<BoundedTable<HTTP2ConnectionPool>>
    private let group: any EventLoopGroup
    private let clock: any PushClock
    private let tuning: SenderTuning
    private let logger: Logger
    /// `[pushfleet] https-proxy` (or `HTTPS_PROXY`) with its NO_PROXY list.
    private let proxy: OutboundProxy?

    package init(group: any EventLoopGroup, clock: any PushClock, tuning: SenderTuning, logger: Logger, proxy: OutboundProxy? = nil) {
        self.proxy = proxy
        self.group = group
        self.clock = clock
        self.tuning = tuning
        self.logger = logger
        pools = Mutex(BoundedTable(capacity: tuning.maxDestinations, idleMs: tuning.destinationIdleMs))
    }

    /// The pool for `key`; `tls` is asked for only when the pool is created. At the cap the least
    /// recently used pool is retired (its in-flight requests finish): a pool holds no push waiting.
    package func pool(_ key: String, endpoint: HTTP2Endpoint, tls: () -> NIOSSLContext?) -> HTTP2ConnectionPool {
        let now = clock.now().millisecondsSince1970
        if let p = pools.withLock({ $0.use(key, now: now) }) { return p }
        let context = tls()
        let (pool, evicted): (HTTP2ConnectionPool, [(String, HTTP2ConnectionPool)]) = pools.withLock { p in
            if let existing = p.use(key, now: now) { return (existing, []) }
            let pool = HTTP2ConnectionPool(endpoint: endpoint, tls: context, proxy: proxy?.route(to: endpoint), group: group,
                                           clock: clock, tuning: tuning, logger: logger)
            return (pool, p.insert(key, pool, now: now) { _ in true }.evicted)
        }
        evicted.forEach { $0.1.retire() }
        return pool
    }

    /// Retires the pools idle for `destinationIdleMs` (also done whenever a pool is created at the cap).
    package func evictIdle() {
        let now = clock.now().millisecondsSince1970
        pools.withLock { $0.evictIdle(now: now) { _ in true } }.forEach { $0.1.retire() }
    }

    /// Pools currently kept.
    package var count: Int { pools.withLock { $0.count } }

    /// Retires (drains, then closes) the pools whose key starts with `prefix`.
    package func retire(prefix: String) {
        pools.withLock { $0.remove { $0.hasPrefix(prefix) } }.forEach { $0.retire() }
    }

    package func connectionsOpened(prefix: String = "") -> Int {
        pools.withLock { p in p.keys.filter { $0.hasPrefix(prefix) }.compactMap { p.peek($0) } }.reduce(0) { $0 + $1.connectionsOpened }
    }

    package func shutdown() async {
        let all = pools.withLock { $0.removeAll() }
        for pool in all { await pool.shutdown() }
    }
}
