/// Request counts of one Service on one worker, by response status.
///
/// Kept across snapshots (looked up by service name when a snapshot is installed) so a
/// reload does not reset counters.
final class ServiceCounters {
    let service: String
    /// The cluster that serves this service's requests (`upstream_cluster` label).
    var upstreamCluster = ""
    var byStatus: [Int: UInt64] = [:]
    /// Request durations (headers in to stream closed).
    var durations = DurationHistogram()
    init(service: String) { self.service = service }

    @inline(__always)
    func count(status: Int) { byStatus[status, default: 0] &+= 1 }
}

/// A Prometheus histogram of request durations: counts per upper bound (not cumulative),
/// a sum and a count. A value, so workers' copies add up.
public struct DurationHistogram: Sendable {
    /// Upper bounds, seconds.
    public static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    public private(set) var buckets = [UInt64](repeating: 0, count: bounds.count)
    public private(set) var count: UInt64 = 0
    public private(set) var sumNanos: UInt64 = 0

    public init() {}

    /// `bounds` in nanoseconds: the per-request path compares integers.
    private static let boundNanos: [UInt64] = bounds.map { UInt64(($0 * 1e9).rounded()) }

    public mutating func observe(nanos: UInt64) {
        count &+= 1
        sumNanos &+= nanos
        Self.boundNanos.withUnsafeBufferPointer { bounds in
            for i in 0..<bounds.count where nanos <= bounds[i] {
                buckets[i] &+= 1
                return
            }
        }
    }

    /// The Prometheus series of this histogram named `name` with `labels` (without braces):
    /// cumulative buckets, `+Inf`, sum in seconds, count.
    public func render(_ name: String, labels: String) -> String {
        var out = ""
        var cumulative: UInt64 = 0
        for (i, bound) in Self.bounds.enumerated() {
            cumulative += buckets[i]
            out += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{\(labels),le=\"+Inf\"} \(count)\n"
        out += "\(name)_sum{\(labels)} \(Double(sumNanos) / 1e9)\n"
        out += "\(name)_count{\(labels)} \(count)\n"
        return out
    }

    public mutating func add(_ other: DurationHistogram) {
        for i in buckets.indices { buckets[i] &+= other.buckets[i] }
        count &+= other.count
        sumNanos &+= other.sumNanos
    }
}

/// Every unlabelled worker metric, declared once: its Prometheus name, type and help come
/// from here, its value lives in `CounterValues`, and sums across workers are generic.
public enum Counter: Int, CaseIterable, Sendable {
    case downstreamConnectionsActive
    case downstreamConnectionsTotal
    case downstreamConnectionsRejected
    case upstreamConnectionsActive
    case upstreamConnectionsTotal
    case upstreamConnectFailures
    case downstreamBytesReceived
    case downstreamBytesSent
    case upstreamBytesReceived
    case upstreamBytesSent
    case streamsReset
    case requestHeaderTimeouts
    case streamIdleTimeouts
    case requestTimeouts
    case connectionAgeDrains
    case idleDrains
    case drainHardCloses
    case stalledWriteCloses
    case prematureResetGoaways
    case floodGoaways
    case responseBufferOverflows
    case headerLimitRejections
    case logLinesDropped
    case logLinesSuppressed
    case exportFeedsActive
    case exportFeedsTotal
    case mirrorStreamsStarted
    case mirrorStreamFailures
    case tlsRotationDrains
    case tlsRotationUpstreamDrains
    case pendingOverflows
    case upstreamRequestOverflows
    case connectionOverflows
    case retries
    case retryOverflows
    case upstreamTimeouts
    case outlierEjections
    case outlierEjectionsActive
    case http1DownstreamConnectionsActive
    case http1DownstreamConnectionsTotal
    case http1Requests
    case http1UpstreamConnectionsActive
    case http1UpstreamConnectionsTotal
    case capturedConnections
    case captureSniffTimeouts
    case captureUnroutable
    case captureRefused
    case passthroughConnectionsActive
    case passthroughConnectionsTotal
    case passthroughConnectFailures
    case passthroughBytesSent
    case passthroughBytesReceived
    case passthroughIdleCloses

    /// True for values that go up and down (the rest only grow).
    public var isGauge: Bool {
        self == .downstreamConnectionsActive || self == .upstreamConnectionsActive || self == .exportFeedsActive
            || self == .outlierEjectionsActive || self == .http1DownstreamConnectionsActive || self == .http1UpstreamConnectionsActive
            || self == .passthroughConnectionsActive
    }

    /// The Prometheus metric name.
    public var name: String {
        switch self {
        case .downstreamConnectionsActive: "causeway_downstream_connections_active"
        case .downstreamConnectionsTotal: "causeway_downstream_connections_total"
        case .downstreamConnectionsRejected: "causeway_downstream_connections_rejected_total"
        case .upstreamConnectionsActive: "causeway_upstream_connections_active"
        case .upstreamConnectionsTotal: "causeway_upstream_connections_total"
        case .upstreamConnectFailures: "causeway_upstream_connect_failures_total"
        case .downstreamBytesReceived: "causeway_downstream_received_bytes_total"
        case .downstreamBytesSent: "causeway_downstream_sent_bytes_total"
        case .upstreamBytesReceived: "causeway_upstream_received_bytes_total"
        case .upstreamBytesSent: "causeway_upstream_sent_bytes_total"
        case .streamsReset: "causeway_streams_reset_total"
        case .requestHeaderTimeouts: "causeway_request_header_timeouts_total"
        case .streamIdleTimeouts: "causeway_stream_idle_timeouts_total"
        case .requestTimeouts: "causeway_request_timeouts_total"
        case .connectionAgeDrains: "causeway_connection_age_drains_total"
        case .idleDrains: "causeway_idle_drains_total"
        case .drainHardCloses: "causeway_drain_hard_closes_total"
        case .stalledWriteCloses: "causeway_stalled_write_closes_total"
        case .prematureResetGoaways: "causeway_premature_reset_goaways_total"
        case .floodGoaways: "causeway_flood_goaways_total"
        case .responseBufferOverflows: "causeway_response_buffer_overflows_total"
        case .headerLimitRejections: "causeway_header_limit_rejections_total"
        case .logLinesDropped: "causeway_log_lines_dropped_total"
        case .logLinesSuppressed: "causeway_log_lines_suppressed_total"
        case .exportFeedsActive: "causeway_export_subscribers_active"
        case .exportFeedsTotal: "causeway_export_subscribers_total"
        case .mirrorStreamsStarted: "causeway_mirror_streams_started_total"
        case .mirrorStreamFailures: "causeway_mirror_stream_failures_total"
        case .tlsRotationDrains: "causeway_tls_rotation_drains_total"
        case .pendingOverflows: "causeway_upstream_rq_pending_overflow_total"
        case .upstreamRequestOverflows: "causeway_upstream_rq_overflow_total"
        case .connectionOverflows: "causeway_upstream_cx_overflow_total"
        case .retries: "causeway_upstream_rq_retry_total"
        case .retryOverflows: "causeway_upstream_rq_retry_overflow_total"
        case .upstreamTimeouts: "causeway_upstream_rq_timeout_total"
        case .outlierEjections: "causeway_outlier_ejections_total"
        case .outlierEjectionsActive: "causeway_outlier_ejections_active"
        case .tlsRotationUpstreamDrains: "causeway_tls_rotation_upstream_drains_total"
        case .http1DownstreamConnectionsActive: "causeway_http1_downstream_connections_active"
        case .http1DownstreamConnectionsTotal: "causeway_http1_downstream_connections_total"
        case .http1Requests: "causeway_http1_requests_total"
        case .http1UpstreamConnectionsActive: "causeway_http1_upstream_connections_active"
        case .http1UpstreamConnectionsTotal: "causeway_http1_upstream_connections_total"
        case .capturedConnections: "causeway_captured_connections_total"
        case .captureSniffTimeouts: "causeway_capture_sniff_timeouts_total"
        case .captureUnroutable: "causeway_capture_unroutable_total"
        case .captureRefused: "causeway_capture_refused_total"
        case .passthroughConnectionsActive: "causeway_passthrough_connections_active"
        case .passthroughConnectionsTotal: "causeway_passthrough_connections_total"
        case .passthroughConnectFailures: "causeway_passthrough_connect_failures_total"
        case .passthroughBytesSent: "causeway_passthrough_sent_bytes_total"
        case .passthroughBytesReceived: "causeway_passthrough_received_bytes_total"
        case .passthroughIdleCloses: "causeway_passthrough_idle_closes_total"
        }
    }

    /// The Prometheus help text.
    public var help: String {
        switch self {
        case .downstreamConnectionsActive: "Open downstream (client) connections."
        case .downstreamConnectionsTotal: "Downstream connections accepted."
        case .downstreamConnectionsRejected: "Downstream connections closed at accept: the worker's connection limit was reached."
        case .upstreamConnectionsActive: "Open upstream connections."
        case .upstreamConnectionsTotal: "Upstream connections opened."
        case .upstreamConnectFailures: "Upstream connects that failed, were refused or timed out."
        case .downstreamBytesReceived: "Bytes read from downstream connections."
        case .downstreamBytesSent: "Bytes written to downstream connections."
        case .upstreamBytesReceived: "Bytes read from upstream connections."
        case .upstreamBytesSent: "Bytes written to upstream connections."
        case .streamsReset: "Streams the proxy reset on either side."
        case .requestHeaderTimeouts: "Downstream connections closed because a header block (or the preface) did not complete in time."
        case .streamIdleTimeouts: "Streams ended by the stream idle timeout (408, 504 or a reset)."
        case .requestTimeouts: "Streams ended by the request timeout (408, 504 or a reset)."
        case .connectionAgeDrains: "Downstream connections sent GOAWAY for reaching the maximum connection age."
        case .idleDrains: "Downstream connections sent GOAWAY for being idle (no stream) past the idle timeout."
        case .drainHardCloses: "Connections closed hard because they had not finished draining after GOAWAY in time."
        case .stalledWriteCloses: "Downstream connections closed because they took none of the output owed to them for the stream idle timeout."
        case .prematureResetGoaways: "Connections ended with GOAWAY ENHANCE_YOUR_CALM: most of their recent streams were reset early."
        case .floodGoaways: "Connections ended for floods of frames without content or of protocol errors."
        case .responseBufferOverflows: "Streams reset because their client connection held too many response bytes unread."
        case .headerLimitRejections: "Header blocks refused for size or field count (431 downstream, reset upstream)."
        case .logLinesDropped: "Log lines (diagnostic and access) dropped because the log writer fell behind."
        case .logLinesSuppressed: "Diagnostic lines suppressed by the per-key rate limit."
        case .exportFeedsActive: "Linked clusters' subscriptions to this gateway's export stream, open now."
        case .exportFeedsTotal: "Subscriptions to this gateway's export stream accepted."
        case .mirrorStreamsStarted: "Export streams this proxy opened to linked gateways (first connects and reconnects)."
        case .mirrorStreamFailures: "Export streams to linked gateways that failed or ended (refused, reset, bad message, silent)."
        case .pendingOverflows: "Requests answered 503 overflow because too many waited for a connection (http1MaxPendingRequests)."
        case .upstreamRequestOverflows: "Requests answered 503 overflow because their service had too many in flight (http2MaxRequests)."
        case .connectionOverflows: "Times a service at its maxConnections could not open another connection (the request used an open one, or got 503 overflow)."
        case .retries: "Retries started (connect failure, refused or reset stream, attempt timeout, retryable status)."
        case .retryOverflows: "Retries not made because of the retry budget or maxRetries."
        case .upstreamTimeouts: "Attempts that hit their route's backendRequest timeout."
        case .outlierEjections: "Endpoints ejected by outlier detection (or the passive check of connect failures)."
        case .outlierEjectionsActive: "Endpoints ejected now (per worker, summed)."
        case .tlsRotationDrains: "Downstream TLS connections sent GOAWAY because the certificates they were made with were replaced."
        case .tlsRotationUpstreamDrains: "Pooled upstream TLS connections that stopped taking streams because the certificates they were made with were replaced."
        case .http1DownstreamConnectionsActive: "Open HTTP/1.1 client connections (also counted in causeway_downstream_connections_active)."
        case .http1DownstreamConnectionsTotal: "HTTP/1.1 client connections accepted (sniffed on a sidecar listener)."
        case .http1Requests: "Requests received on HTTP/1.1 client connections (parsed heads; pipelined ones included)."
        case .http1UpstreamConnectionsActive: "Open HTTP/1.1 upstream connections (local endpoints with appProtocol http)."
        case .http1UpstreamConnectionsTotal: "HTTP/1.1 upstream connections opened."
        case .capturedConnections: "Connections redirected to a sidecar listener by traffic capture (their original destination was read)."
        case .captureSniffTimeouts: "Captured connections to a mesh address that sent nothing within the sniff timeout (passed through)."
        case .captureUnroutable: "Captured connections to a virtual IP that were not HTTP: there is no real destination to pass them to, so they were closed."
        case .captureRefused: "Captured connections reset at accept because the proxy's own connections carry no SO_MARK and its uid is not excluded: anything it connected for them would be captured again."
        case .passthroughConnectionsActive: "Captured connections relayed unchanged to their original destination, open now."
        case .passthroughConnectionsTotal: "Captured connections relayed unchanged to their original destination."
        case .passthroughConnectFailures: "Passthrough connects to an original destination that failed, were refused or timed out."
        case .passthroughBytesSent: "Bytes relayed from captured clients to their original destinations."
        case .passthroughBytesReceived: "Bytes relayed from original destinations back to captured clients."
        case .passthroughIdleCloses: "Passthrough connections closed after no bytes in either direction for the idle timeout."
        }
    }
}

/// A value per `Counter`, in one fixed array: cheap to increment, to copy between threads
/// and to add up.
public struct CounterValues: Sendable {
    private var values = [Int64](repeating: 0, count: Counter.allCases.count)

    public init() {}

    public subscript(_ counter: Counter) -> Int64 {
        get { values[counter.rawValue] }
        set { values[counter.rawValue] = newValue }
    }

    /// Adds `other` counter by counter.
    public mutating func add(_ other: CounterValues) {
        for i in values.indices { values[i] &+= other.values[i] }
    }
}

/// One worker's counters. Touched only on the worker's thread; read by sending the worker
/// a message (`WorkerHandle.collectMetrics`), so no atomics or locks on the request path.
final class WorkerMetrics {
    var services: [String: ServiceCounters] = [:]
    /// Requests that matched no service, by status.
    let unrouted = ServiceCounters(service: "")
    /// The plain counters and gauges.
    var counters = CounterValues()
    /// TLS handshakes that completed, by side ("downstream", "upstream").
    var tlsHandshakes: [String: UInt64] = [:]
    /// TLS handshakes refused or broken, by side and reason.
    var tlsFailures: [MetricsSnapshot.TLSFailureKey: UInt64] = [:]
    /// Requests denied, by AuthorizationPolicy (`namespace/name`).
    var authzDenied: [String: UInt64] = [:]
    /// HTTP/1.1 messages refused by the parser, by side and reason.
    var http1ParseErrors: [MetricsSnapshot.HTTP1ParseErrorKey: UInt64] = [:]
    /// Requests per route backend, by status.
    private var routeBackends: [MetricsSnapshot.RouteBackendKey: ServiceCounters] = [:]

    /// The counters of one route backend, created on first use and kept across snapshots.
    func routeCounters(route: String, backend: String) -> ServiceCounters {
        let key = MetricsSnapshot.RouteBackendKey(route: route, backend: backend)
        if let c = routeBackends[key] { return c }
        let c = ServiceCounters(service: backend)
        routeBackends[key] = c
        return c
    }

    @inline(__always)
    func increment(_ counter: Counter, by n: Int64 = 1) { counters[counter] &+= n }

    func counters(for service: String) -> ServiceCounters {
        if let c = services[service] { return c }
        let c = ServiceCounters(service: service)
        services[service] = c
        return c
    }

    func snapshot() -> MetricsSnapshot {
        var s = MetricsSnapshot()
        for c in services.values {
            for (status, n) in c.byStatus {
                s.requests.append(.init(service: c.service, upstreamCluster: c.upstreamCluster, status: status, count: n))
            }
        }
        for (status, n) in unrouted.byStatus { s.requests.append(.init(service: "", upstreamCluster: "", status: status, count: n)) }
        for c in services.values where c.durations.count > 0 { s.durations[c.service] = c.durations }
        for (key, c) in routeBackends {
            for (status, n) in c.byStatus { s.routeRequests.append(.init(key: key, status: status, count: n)) }
        }
        s.authzDenied = authzDenied
        s.http1ParseErrors = http1ParseErrors
        s.counters = counters
        s.tlsHandshakes = tlsHandshakes
        s.tlsFailures = tlsFailures
        return s
    }
}

/// A copy of counters, safe to send between threads and to add up across workers.
public struct MetricsSnapshot: Sendable {
    /// Requests of one service (empty name: matched no service) answered with one status.
    public struct RequestCount: Sendable, Hashable {
        public var service: String
        public var upstreamCluster: String
        public var status: Int
        public var count: UInt64
    }
    /// A TLS failure's labels.
    public struct TLSFailureKey: Sendable, Hashable {
        public var side: String
        public var reason: String
    }

    /// An HTTP/1.1 parse error's labels: "downstream" (a client's request) or "upstream" (an
    /// endpoint's response), and the parser's reason.
    public struct HTTP1ParseErrorKey: Sendable, Hashable {
        public var side: String
        public var reason: String
    }

    public var requests: [RequestCount] = []
    /// The plain counters and gauges (`Counter`).
    public var counters = CounterValues()
    /// Completed TLS handshakes by side.
    public var tlsHandshakes: [String: UInt64] = [:]
    /// Refused or broken TLS handshakes by side and reason.
    public var tlsFailures: [TLSFailureKey: UInt64] = [:]
    /// A route backend's labels.
    public struct RouteBackendKey: Sendable, Hashable {
        public var route: String
        public var backend: String
    }
    public struct RouteRequestCount: Sendable {
        public var key: RouteBackendKey
        public var status: Int
        public var count: UInt64
    }
    /// Requests per route backend and status.
    public var routeRequests: [RouteRequestCount] = []
    /// Request durations per service.
    public var durations: [String: DurationHistogram] = [:]
    /// Denials per AuthorizationPolicy.
    public var authzDenied: [String: UInt64] = [:]
    /// HTTP/1.1 parse errors by side and reason.
    public var http1ParseErrors: [HTTP1ParseErrorKey: UInt64] = [:]

    public init() {}

    /// Adds `other` (another worker's counters) into this one.
    public mutating func merge(_ other: MetricsSnapshot) {
        var totals: [String: [Int: UInt64]] = [:]
        var clusters: [String: String] = [:]
        for r in requests + other.requests {
            totals[r.service, default: [:]][r.status, default: 0] += r.count
            clusters[r.service] = r.upstreamCluster
        }
        requests = totals.flatMap { service, byStatus in
            byStatus.map { RequestCount(service: service, upstreamCluster: clusters[service] ?? "", status: $0.key, count: $0.value) }
        }.sorted { ($0.service, $0.status) < ($1.service, $1.status) }
        counters.add(other.counters)
        tlsHandshakes.merge(other.tlsHandshakes, uniquingKeysWith: +)
        tlsFailures.merge(other.tlsFailures, uniquingKeysWith: +)
        var routeTotals: [RouteBackendKey: [Int: UInt64]] = [:]
        for r in routeRequests + other.routeRequests { routeTotals[r.key, default: [:]][r.status, default: 0] += r.count }
        routeRequests = routeTotals.flatMap { key, byStatus in byStatus.map { RouteRequestCount(key: key, status: $0.key, count: $0.value) } }
            .sorted { ($0.key.route, $0.key.backend, $0.status) < ($1.key.route, $1.key.backend, $1.status) }
        for (service, h) in other.durations { durations[service, default: DurationHistogram()].add(h) }
        authzDenied.merge(other.authzDenied, uniquingKeysWith: +)
        http1ParseErrors.merge(other.http1ParseErrors, uniquingKeysWith: +)
    }
}
