import CausewayHTTP
import CausewayMesh

/// Everything a worker needs to know about how to proxy, fixed for one snapshot.
public struct ProxySettings: Sendable {
    /// The `cluster` label on every metric.
    public var cluster: String
    /// SETTINGS advertised to downstream clients, and the header limits enforced on them.
    public var downstreamHTTP2: H2Settings
    /// SETTINGS advertised to upstream servers, and the header limits enforced on them.
    public var upstreamHTTP2: H2Settings
    /// Give up on a connect after this long, nanoseconds.
    public var connectTimeoutNanos: UInt64
    /// Close an upstream connection with no stream after this long, nanoseconds.
    public var idleTimeoutNanos: UInt64
    /// Upstream connections one worker may open to one endpoint.
    public var maxConnectionsPerEndpoint: Int
    /// Downstream timeouts.
    public var timeouts: ProxyTimeouts
    /// Downstream limits.
    public var limits: ProxyLimits
    /// The export stream, published and subscribed.
    public var mirror: MirrorSettings
    /// Whether the sidecar names the cluster that served each response in
    /// `x-causeway-upstream-cluster` (replacing any the upstream sent). Default true.
    public var upstreamClusterHeader = true
    /// Captured connections: sniff timeout and virtual IPs.
    public var capture = CaptureSettings()

    public init(cluster: String, downstreamHTTP2: H2Settings, upstreamHTTP2: H2Settings,
                connectTimeoutNanos: UInt64, idleTimeoutNanos: UInt64, maxConnectionsPerEndpoint: Int,
                timeouts: ProxyTimeouts = ProxyTimeouts(), limits: ProxyLimits = ProxyLimits(),
                mirror: MirrorSettings = MirrorSettings()) {
        self.cluster = cluster
        self.downstreamHTTP2 = downstreamHTTP2
        self.upstreamHTTP2 = upstreamHTTP2
        self.connectTimeoutNanos = connectTimeoutNanos
        self.idleTimeoutNanos = idleTimeoutNanos
        self.maxConnectionsPerEndpoint = maxConnectionsPerEndpoint
        self.timeouts = timeouts
        self.limits = limits
        self.mirror = mirror
    }

    /// Close a client connection with no stream after this long, nanoseconds (GOAWAY first).
    public var downstreamIdleTimeoutNanos: UInt64 { timeouts.downstreamIdleNanos }
    /// Close a gateway client that has not completed its TLS handshake after this long.
    public var handshakeTimeoutNanos: UInt64 { timeouts.handshakeNanos }
}

/// Downstream timeouts, nanoseconds; 0 means "none" where a field says it may be 0.
/// Checked by the worker's once-a-second sweep, so each fires up to a second late.
public struct ProxyTimeouts: Sendable, Equatable {
    /// A client must complete a request header block within this long of starting it (and a
    /// new connection its first one within this long of the accept); else the connection
    /// is closed. Default 10 s; never 0.
    public var requestHeadersNanos: UInt64 = 10_000_000_000
    /// A stream with no progress in either direction (bytes received from or delivered to
    /// either side) for this long ends: `408 request-timeout` while the request is still
    /// arriving, `504 upstream-timeout` while waiting for the response, a reset once the
    /// response started. Default 5 min; never 0.
    public var streamIdleNanos: UInt64 = 300_000_000_000
    /// Whole-request deadline from the request's headers to the response's end, with the
    /// same outcomes as `streamIdleNanos`. 0 (the default): none.
    public var requestNanos: UInt64 = 0
    /// After GOAWAY (drain on SIGTERM, idle or age), a connection still open this long is
    /// closed hard. Default 10 s; never 0.
    public var drainNanos: UInt64 = 10_000_000_000
    /// Connections older than this are drained (GOAWAY, then hard close after
    /// `drainNanos`). 0 (the default): no limit.
    public var maxConnectionAgeNanos: UInt64 = 0
    /// Close a client connection with no stream after this long (GOAWAY first). Default 5 min.
    public var downstreamIdleNanos: UInt64 = 300_000_000_000
    /// Close a gateway client that has not completed its TLS handshake after this long.
    /// Default 10 s.
    public var handshakeNanos: UInt64 = 10_000_000_000

    /// The defaults above.
    public init() {}
}

/// Limits that bound what one worker and one downstream connection may cost.
public struct ProxyLimits: Sendable, Equatable {
    /// Downstream connections one worker serves at once; more are closed at accept and
    /// counted. Default 10,000.
    public var maxDownstreamConnectionsPerWorker: Int = 10_000
    /// Response bytes one downstream connection may hold buffered (received from upstreams,
    /// not yet taken by the client) across its streams; a stream that would go beyond is
    /// reset. Default 32 MiB.
    public var maxBufferedResponseBytesPerConnection: Int = 32 << 20

    /// The defaults above.
    public init() {}
}

/// How export streams behave, on both ends.
public struct MirrorSettings: Sendable, Equatable {
    /// A gateway sends a heartbeat this often on each export stream; a subscriber that
    /// hears nothing for three intervals drops the stream and reconnects. Default 5 s.
    public var heartbeatNanos: UInt64 = 5_000_000_000
    /// A subscriber waits this long before its first reconnect; doubled per failure up to
    /// `reconnectMaxNanos`, with jitter. Default 100 ms.
    public var reconnectMinNanos: UInt64 = 100_000_000
    /// Longest wait between reconnects. Default 5 s.
    public var reconnectMaxNanos: UInt64 = 5_000_000_000

    /// The defaults above.
    public init() {}
}

/// A listening socket a worker takes over, with what it serves.
public struct ListenerSpec: Sendable {
    /// The listening socket (non-blocking, `SO_REUSEPORT`), owned by the worker from now on.
    public var fd: Int32
    /// The listener's `name` in the configuration (logs, access log).
    public var name: String
    /// What its connections may reach.
    public var role: TrafficRole
    /// Whether each request on it writes an access log line.
    public var accessLog: Bool

    public init(fd: Int32, name: String, role: TrafficRole, accessLog: Bool) {
        self.fd = fd
        self.name = name
        self.role = role
        self.accessLog = accessLog
    }
}

/// An immutable routing snapshot handed to every worker; a request keeps the one it
/// started with.
public final class RoutingSnapshot: Sendable {
    /// Services and their endpoints.
    public let services: ServiceTable
    /// How to proxy.
    public let settings: ProxySettings
    /// TLS between clusters; nil when the proxy has neither a gateway listener nor a link.
    public let tls: MeshTLS?
    /// Increases with every installed snapshot.
    public let version: Int
    /// What this proxy's gateway publishes to linked clusters.
    public let exports: ExportTable
    /// The linked clusters whose export streams this proxy subscribes to.
    public let links: [MeshComposer.Link]
    /// HTTPRoutes, DestinationRules and AuthorizationPolicies resolved against `services`.
    public let policies: PolicyTable
    /// Addresses a captured connection may go to and still be the mesh's (virtual IPs,
    /// every ready endpoint): built once here, read at accept.
    public let meshDestinations: MeshDestinations

    public init(services: ServiceTable, settings: ProxySettings, tls: MeshTLS?, version: Int,
                exports: ExportTable = .empty, links: [MeshComposer.Link] = [], policies: PolicyTable? = nil) {
        self.services = services
        self.settings = settings
        self.tls = tls
        self.version = version
        self.exports = exports
        self.links = links
        self.policies = policies ?? .empty(count: services.services.count)
        self.meshDestinations = MeshDestinations(services: services, virtualIPs: settings.capture.virtualIPs)
    }
}

/// What a listener serves.
public enum TrafficRole: Sendable, Equatable {
    /// Outbound h2c from local workloads: any local or mirrored Service.
    case sidecar
    /// mTLS from other clusters: exported local Services only.
    case gateway
}
