/// Envoy's circuit breakers for one Service: counts of connections, pending requests, requests
/// and retries in flight, each refused at its maximum rather than queued.
///
/// One per worker per Service (limits apply per worker, as Envoy's apply per cluster per
/// proxy; the caller divides them if it wants a process-wide total). The caller pairs every
/// successful `tryAcquire` with one `release`.
public struct CircuitBreaker: Sendable {
    /// What is counted.
    public enum Limit: String, Sendable, CaseIterable {
        /// Upstream connections (`tcp.maxConnections`).
        case connections
        /// Requests waiting for a connection (`http.http1MaxPendingRequests`).
        case pending
        /// Requests in flight (`http.http2MaxRequests`).
        case requests
        /// Retries in flight (`http.maxRetries`).
        case retries
    }

    /// The maximums. Settable: a new snapshot may change them while the counts stay, so a
    /// lowered limit refuses until enough units are released.
    public var limits: CircuitBreakerLimits

    private var connections = 0
    private var pending = 0
    private var requests = 0
    private var retries = 0

    /// Every count at 0.
    public init(limits: CircuitBreakerLimits) {
        self.limits = limits
    }

    /// Units of `limit` currently taken.
    public func count(_ limit: Limit) -> Int {
        switch limit {
        case .connections: connections
        case .pending: pending
        case .requests: requests
        case .retries: retries
        }
    }

    /// The maximum of `limit` under the current `limits`.
    public func maximum(_ limit: Limit) -> Int {
        switch limit {
        case .connections: limits.maxConnections
        case .pending: limits.maxPendingRequests
        case .requests: limits.maxRequests
        case .retries: limits.maxRetries
        }
    }

    /// Takes one unit of `limit`; false (nothing taken) when it is at its maximum.
    public mutating func tryAcquire(_ limit: Limit) -> Bool {
        guard count(limit) < maximum(limit) else { return false }
        update(limit) { $0 += 1 }
        return true
    }

    /// Gives back one unit of `limit`. Never goes below 0: a release without an acquire is a
    /// caller bug, caught by an assertion in debug builds and ignored in release builds.
    public mutating func release(_ limit: Limit) {
        assert(count(limit) > 0, "CircuitBreaker.release(\(limit)) without a matching tryAcquire")
        update(limit) { $0 = max(0, $0 - 1) }
    }

    @inline(__always)
    private mutating func update(_ limit: Limit, _ change: (inout Int) -> Void) {
        switch limit {
        case .connections: change(&connections)
        case .pending: change(&pending)
        case .requests: change(&requests)
        case .retries: change(&retries)
        }
    }
}
