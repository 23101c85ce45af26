/// Request counts of one Service on one worker, by response status.
///
/// Kept across snapshots (looked up by service name when a snapshot is installed) so a
/// reload does not reset counters.
final class ServiceCounters {
    let service: String
    var byStatus: [Int: UInt64] = [:]
    init(service: String) { self.service = service }

    @inline(__always)
    func count(status: Int) { byStatus[status, default: 0] &+= 1 }
}

/// One worker's counters. Touched only on the worker's thread; read by sending the worker
/// a message (`Worker.metricsSnapshot()`), so no atomics or locks on the request path.
final class WorkerMetrics {
    var services: [String: ServiceCounters] = [:]
    /// Requests that matched no service, by status.
    let unrouted = ServiceCounters(service: "")
    var downstreamConnectionsActive = 0
    var downstreamConnectionsTotal: UInt64 = 0
    var upstreamConnectionsActive = 0
    var upstreamConnectionsTotal: UInt64 = 0
    var upstreamConnectFailures: UInt64 = 0
    var downstreamBytesReceived: UInt64 = 0
    var downstreamBytesSent: UInt64 = 0
    var upstreamBytesReceived: UInt64 = 0
    var upstreamBytesSent: UInt64 = 0
    var streamsReset: UInt64 = 0
    /// TLS handshakes that completed, by side ("downstream", "upstream").
    var tlsHandshakes: [String: UInt64] = [:]
    /// TLS handshakes refused or broken, by side and reason.
    var tlsFailures: [MetricsSnapshot.TLSFailureKey: UInt64] = [:]

    func counters(for service: String) -> ServiceCounters {
        if let c = services[service] { return c }
        let c = ServiceCounters(service: service)
        services[service] = c
        return c
    }

    func snapshot() -> MetricsSnapshot {
        var requests: [MetricsSnapshot.RequestCount] = []
        for c in services.values {
            for (status, n) in c.byStatus { requests.append(.init(service: c.service, status: status, count: n)) }
        }
        for (status, n) in unrouted.byStatus { requests.append(.init(service: "", status: status, count: n)) }
        return MetricsSnapshot(
            requests: requests,
            downstreamConnectionsActive: downstreamConnectionsActive,
            downstreamConnectionsTotal: downstreamConnectionsTotal,
            upstreamConnectionsActive: upstreamConnectionsActive,
            upstreamConnectionsTotal: upstreamConnectionsTotal,
            upstreamConnectFailures: upstreamConnectFailures,
            downstreamBytesReceived: downstreamBytesReceived,
            downstreamBytesSent: downstreamBytesSent,
            upstreamBytesReceived: upstreamBytesReceived,
            upstreamBytesSent: upstreamBytesSent,
            streamsReset: streamsReset,
            tlsHandshakes: tlsHandshakes,
            tlsFailures: tlsFailures
        )
    }
}

/// A copy of counters, safe to send between threads and to add up across workers.
public struct MetricsSnapshot: Sendable {
    /// Requests of one service (empty name: matched no service) answered with one status.
    public struct RequestCount: Sendable, Hashable {
        public var service: String
        public var status: Int
        public var count: UInt64
    }

    public var requests: [RequestCount] = []
    public var downstreamConnectionsActive = 0
    public var downstreamConnectionsTotal: UInt64 = 0
    public var upstreamConnectionsActive = 0
    public var upstreamConnectionsTotal: UInt64 = 0
    public var upstreamConnectFailures: UInt64 = 0
    public var downstreamBytesReceived: UInt64 = 0
    public var downstreamBytesSent: UInt64 = 0
    public var upstreamBytesReceived: UInt64 = 0
    public var upstreamBytesSent: UInt64 = 0
    public var streamsReset: UInt64 = 0
    /// A TLS failure's labels.
    public struct TLSFailureKey: Sendable, Hashable {
        public var side: String
        public var reason: String
    }
    /// Completed TLS handshakes by side.
    public var tlsHandshakes: [String: UInt64] = [:]
    /// Refused or broken TLS handshakes by side and reason.
    public var tlsFailures: [TLSFailureKey: UInt64] = [:]

    public init() {}

    init(requests: [RequestCount], downstreamConnectionsActive: Int, downstreamConnectionsTotal: UInt64,
         upstreamConnectionsActive: Int, upstreamConnectionsTotal: UInt64, upstreamConnectFailures: UInt64,
         downstreamBytesReceived: UInt64, downstreamBytesSent: UInt64, upstreamBytesReceived: UInt64,
         upstreamBytesSent: UInt64, streamsReset: UInt64,
         tlsHandshakes: [String: UInt64], tlsFailures: [TLSFailureKey: UInt64]) {
        self.requests = requests
        self.downstreamConnectionsActive = downstreamConnectionsActive
        self.downstreamConnectionsTotal = downstreamConnectionsTotal
        self.upstreamConnectionsActive = upstreamConnectionsActive
        self.upstreamConnectionsTotal = upstreamConnectionsTotal
        self.upstreamConnectFailures = upstreamConnectFailures
        self.downstreamBytesReceived = downstreamBytesReceived
        self.downstreamBytesSent = downstreamBytesSent
        self.upstreamBytesReceived = upstreamBytesReceived
        self.upstreamBytesSent = upstreamBytesSent
        self.streamsReset = streamsReset
        self.tlsHandshakes = tlsHandshakes
        self.tlsFailures = tlsFailures
    }

    /// Adds `other` (another worker's counters) into this one.
    public mutating func merge(_ other: MetricsSnapshot) {
        var totals: [String: [Int: UInt64]] = [:]
        for r in requests + other.requests { totals[r.service, default: [:]][r.status, default: 0] += r.count }
        requests = totals.flatMap { service, byStatus in byStatus.map { RequestCount(service: service, status: $0.key, count: $0.value) } }
            .sorted { ($0.service, $0.status) < ($1.service, $1.status) }
        downstreamConnectionsActive += other.downstreamConnectionsActive
        downstreamConnectionsTotal += other.downstreamConnectionsTotal
        upstreamConnectionsActive += other.upstreamConnectionsActive
        upstreamConnectionsTotal += other.upstreamConnectionsTotal
        upstreamConnectFailures += other.upstreamConnectFailures
        downstreamBytesReceived += other.downstreamBytesReceived
        downstreamBytesSent += other.downstreamBytesSent
        upstreamBytesReceived += other.upstreamBytesReceived
        upstreamBytesSent += other.upstreamBytesSent
        streamsReset += other.streamsReset
        tlsHandshakes.merge(other.tlsHandshakes, uniquingKeysWith: +)
        tlsFailures.merge(other.tlsFailures, uniquingKeysWith: +)
    }
}
