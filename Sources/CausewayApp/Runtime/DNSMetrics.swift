import Synchronization

/// Every DNS metric, declared once: name, type, help and, for `causeway_dns_queries_total`,
/// the outcome label. Values live in `DNSStats`.
enum DNSMetric: Int, CaseIterable, Sendable {
    /// Answered from the mesh: a virtual IP, or no records of the asked type.
    case mesh
    /// NXDOMAIN for an unknown name in `svc.clusterset.local`.
    case nameError
    /// Answered by the upstream resolver and relayed.
    case forwarded
    /// Dropped without an answer: not a well-formed query.
    case malformed
    /// SERVFAIL: the upstream resolver did not answer within `upstreamTimeout`.
    case upstreamTimeout
    /// SERVFAIL: the upstream could not be reached over TCP, or closed without an answer.
    case upstreamFailure
    /// SERVFAIL: too many forwarded questions were waiting for the upstream already.
    case overload
    /// SERVFAIL: a Service without a virtual IP (the range is full).
    case noVirtualIP
    /// NOTIMP or BADVERS: an opcode other than QUERY, or an EDNS version other than 0.
    case unsupported
    /// Dropped without an answer (a datagram) or closed at accept (a TCP connection): the
    /// source is not an address of this host, and the server listens on a non-loopback
    /// address (`DNSSourceFilter`).
    case refusedSource
    /// Questions that arrived from one of the forwarder's own upstream sockets: a
    /// forwarded question redirected back to this server (capture without the proxy's
    /// mark), dropped instead of forwarded again.
    case forwardingLoop
    /// UDP answers cut down to the header and question with TC set, because they did not
    /// fit the client's size.
    case truncated
    /// Upstream replies dropped: no question of ours with that id, or another question.
    case upstreamRepliesDropped
    /// TCP connections closed at once because the server had as many as it serves.
    case tcpConnectionsRejected
    /// Forwarded questions waiting for the upstream now.
    case pendingForwards

    /// The Prometheus family.
    var name: String {
        switch self {
        case .mesh, .nameError, .forwarded, .malformed, .upstreamTimeout, .upstreamFailure, .overload, .noVirtualIP, .unsupported,
             .refusedSource, .forwardingLoop:
            "causeway_dns_queries_total"
        case .truncated: "causeway_dns_truncated_total"
        case .upstreamRepliesDropped: "causeway_dns_upstream_replies_dropped_total"
        case .tcpConnectionsRejected: "causeway_dns_tcp_connections_rejected_total"
        case .pendingForwards: "causeway_dns_forwards_pending"
        }
    }

    /// The `outcome` label within `causeway_dns_queries_total`; nil for other families.
    var outcome: String? {
        switch self {
        case .mesh: "mesh"
        case .nameError: "nxdomain"
        case .forwarded: "forwarded"
        case .malformed: "malformed"
        case .upstreamTimeout: "upstream-timeout"
        case .upstreamFailure: "upstream-failure"
        case .overload: "overload"
        case .noVirtualIP: "no-virtual-ip"
        case .unsupported: "unsupported"
        case .refusedSource: "refused-source"
        case .forwardingLoop: "forwarding-loop"
        case .truncated, .upstreamRepliesDropped, .tcpConnectionsRejected, .pendingForwards: nil
        }
    }

    var isGauge: Bool { self == .pendingForwards }

    /// Help text of the family.
    var help: String {
        switch self {
        case .mesh, .nameError, .forwarded, .malformed, .upstreamTimeout, .upstreamFailure, .overload, .noVirtualIP, .unsupported,
             .refusedSource, .forwardingLoop:
            "DNS queries by outcome: mesh (answered from the service table), nxdomain (unknown clusterset name), forwarded (answered upstream), malformed (dropped), upstream-timeout, upstream-failure and overload (SERVFAIL), no-virtual-ip (SERVFAIL, range full), unsupported (NOTIMP, BADVERS), refused-source (dropped, or a TCP connection closed: not from this host while listening on a non-loopback address), forwarding-loop (dropped: our own forwarded question redirected back to us)."
        case .truncated: "DNS answers sent over UDP as header and question with TC set, because they exceeded the client's size."
        case .upstreamRepliesDropped: "Upstream DNS replies dropped: unknown id or a question other than the one forwarded."
        case .tcpConnectionsRejected: "DNS TCP connections closed at accept: the server was at its connection limit."
        case .pendingForwards: "DNS questions forwarded upstream and not answered yet."
        }
    }
}

/// The DNS server's counters: written by its thread, read by the admin thread at scrape
/// time. A lock shared by those two only, never by a worker.
final class DNSStats: Sendable {
    private let values = Mutex([UInt64](repeating: 0, count: DNSMetric.allCases.count))

    func count(_ metric: DNSMetric, _ n: UInt64 = 1) {
        values.withLock { $0[metric.rawValue] &+= n }
    }

    func set(_ metric: DNSMetric, _ value: UInt64) {
        values.withLock { $0[metric.rawValue] = value }
    }

    /// Every value, indexed by `DNSMetric.rawValue`.
    func snapshot() -> [UInt64] {
        values.withLock { $0 }
    }

    subscript(_ metric: DNSMetric) -> UInt64 { values.withLock { $0[metric.rawValue] } }
}
