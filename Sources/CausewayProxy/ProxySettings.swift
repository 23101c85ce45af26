import CausewayHTTP
import CausewayMesh

/// Everything a worker needs to know about how to proxy, fixed for one snapshot.
public struct ProxySettings: Sendable {
    /// The `cluster` label on every metric.
    public var cluster: String
    /// SETTINGS advertised to downstream clients.
    public var downstreamHTTP2: H2Settings
    /// SETTINGS advertised to upstream servers.
    public var upstreamHTTP2: H2Settings
    /// Give up on a connect after this long, nanoseconds.
    public var connectTimeoutNanos: UInt64
    /// Close an upstream connection with no stream after this long, nanoseconds.
    public var idleTimeoutNanos: UInt64
    /// Upstream connections one worker may open to one endpoint.
    public var maxConnectionsPerEndpoint: Int
    /// Close a client connection with no stream after this long, nanoseconds (GOAWAY first).
    public var downstreamIdleTimeoutNanos: UInt64
    /// Close a gateway client that has not completed its TLS handshake after this long.
    public var handshakeTimeoutNanos: UInt64

    public init(cluster: String, downstreamHTTP2: H2Settings, upstreamHTTP2: H2Settings,
                connectTimeoutNanos: UInt64, idleTimeoutNanos: UInt64, maxConnectionsPerEndpoint: Int,
                downstreamIdleTimeoutNanos: UInt64 = 300_000_000_000, handshakeTimeoutNanos: UInt64 = 10_000_000_000) {
        self.downstreamIdleTimeoutNanos = downstreamIdleTimeoutNanos
        self.handshakeTimeoutNanos = handshakeTimeoutNanos
        self.cluster = cluster
        self.downstreamHTTP2 = downstreamHTTP2
        self.upstreamHTTP2 = upstreamHTTP2
        self.connectTimeoutNanos = connectTimeoutNanos
        self.idleTimeoutNanos = idleTimeoutNanos
        self.maxConnectionsPerEndpoint = maxConnectionsPerEndpoint
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

    public init(services: ServiceTable, settings: ProxySettings, tls: MeshTLS?, version: Int) {
        self.services = services
        self.settings = settings
        self.tls = tls
        self.version = version
    }
}

/// What a listener serves.
public enum TrafficRole: Sendable, Equatable {
    /// Outbound h2c from local workloads: any local or mirrored Service.
    case sidecar
    /// mTLS from other clusters: exported local Services only.
    case gateway
}
