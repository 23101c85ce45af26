import CausewayHTTP
import CausewayMesh
import CausewayProxy

/// One listening socket.
public struct ListenerConfig: Sendable {
    /// Unique among listeners; a DNS label. Used in logs and metrics.
    public let name: String
    /// What the listener serves (`role: sidecar` or `gateway`). The loader requires
    /// `ProxyConfig.tls` when any listener is a gateway.
    public let role: TrafficRole
    /// Where it listens. Unique among listeners and the admin address, unless the port is 0.
    public let address: SocketAddressSpec
    /// Whether each request on it writes an access log line; default false.
    public let accessLog: Bool

    /// True for a sidecar listener reachable from beyond this host: whoever reaches it can
    /// call every mirrored service as this proxy's mesh identity (a confused deputy), so
    /// `causeway run` warns about it at start.
    public var exposesIdentityBeyondLoopback: Bool {
        role == .sidecar && !address.isLoopback
    }
}

extension TrafficRole {
    /// The role as the configuration spells it (`role: sidecar`).
    var configName: String {
        switch self {
        case .sidecar: "sidecar"
        case .gateway: "gateway"
        }
    }

    /// The role `configName` names; nil for any other text.
    init?(configName: String) {
        switch configName {
        case "sidecar": self = .sidecar
        case "gateway": self = .gateway
        default: return nil
        }
    }
}

/// PEM files for mTLS, as absolute paths (config paths are resolved against the directory of
/// the file that names them). Each existed and was readable when the config was loaded.
public struct TLSFiles: Sendable {
    /// CA certificates that peer chains must lead to.
    public let trustBundle: String
    /// This proxy's certificate followed by its intermediates.
    public let certificateChain: String
    /// The private key of the first certificate in `certificateChain`.
    public let privateKey: String
    /// When these files change under a running proxy, connections made with the previous
    /// certificates are drained (GOAWAY) spread over this long, nanoseconds
    /// (`rotationGracePeriod`, default 30 s; 0 drains them all at once; at most 1 h).
    public let rotationGracePeriodNanos: UInt64

    /// `rotationGracePeriod`'s default.
    public static let defaultRotationGracePeriodNanos: UInt64 = 30_000_000_000
}

/// How the proxy connects to upstream endpoints.
///
/// Ranges enforced by the loader: `connectTimeoutNanos` 1 ms...1 min; `idleTimeoutNanos`
/// 1 s...24 h; `maxConnectionsPerEndpoint` 1...10,000 (per worker).
public struct UpstreamSettings: Sendable, Hashable {
    /// Give up on a TCP connect after this long, nanoseconds (`connectTimeout`, default 1s).
    public var connectTimeoutNanos: UInt64 = 1_000_000_000
    /// Close a pooled connection idle for this long, nanoseconds (`idleTimeout`, default 60s).
    public var idleTimeoutNanos: UInt64 = 60_000_000_000
    /// Most connections one worker opens to one endpoint.
    public var maxConnectionsPerEndpoint: Int = 64

    /// The defaults above.
    public init() {}
}

/// The validated `Proxy` resource: everything needed to start the process. Only the loader
/// creates one, so holding one means it passed validation.
public struct ProxyConfig: Sendable {
    /// `metadata.name`.
    public let name: String
    /// This proxy's cluster; the `cluster` label on every metric. A DNS label.
    public let cluster: String
    /// SPIFFE trust domain shared by all clusters; default `cluster.local`.
    public let trustDomain: String
    /// The namespace bare service names resolve in (`webapp` = `webapp.<namespace>`);
    /// default `default`.
    public let namespace: String
    /// Event-loop threads, 1...256; default the number of online CPUs.
    public let workers: Int
    /// At least one; names and (non-zero-port) addresses unique.
    public let listeners: [ListenerConfig]
    /// Admin HTTP endpoint; default `127.0.0.1:15000`.
    public let admin: SocketAddressSpec
    /// mTLS files. Never nil when a listener has role `gateway` or the config has a `Link`
    /// (the loader requires them then); optional otherwise.
    public let tls: TLSFiles?
    /// HTTP/2 settings (`spec.http2`), used for both downstream and upstream sessions;
    /// `H2Settings()`'s defaults when absent. Ranges enforced by the loader:
    /// `maxConcurrentStreams` >= 1; both windows 65,535...2^31-1 (RFC 9113 §6.9.1);
    /// `maxHeaderListSize` 1,024...16 MiB; `maxHeaderFields` 8...10,000.
    public let http2: H2Settings
    /// Upstream connection settings.
    public let upstream: UpstreamSettings
    /// Downstream timeouts (`spec.timeouts`); `ProxyTimeouts()`'s defaults for absent fields.
    /// Ranges enforced by the loader (`ProxyDocument`): `requestHeadersNanos` and
    /// `handshakeNanos` 100 ms...5 min; `streamIdleNanos` and `downstreamIdleNanos` 1 s...24 h;
    /// `requestNanos` 0 or 100 ms...24 h; `drainNanos` 1 s...1 h; `maxConnectionAgeNanos` 0 or
    /// 10 s...30 days.
    public let timeouts: ProxyTimeouts
    /// Downstream limits (`spec.limits`); `ProxyLimits()`'s defaults for absent fields. Ranges:
    /// `maxDownstreamConnectionsPerWorker` 1...1,000,000; `maxBufferedResponseBytesPerConnection`
    /// 64 KiB...1 GiB.
    public let limits: ProxyLimits
    /// Export streams (`spec.mirror`). Ranges: `heartbeat` 100 ms...1 h; `staleAfter`
    /// 1 s...24 h; `removeAfter` 1 s...7 days and at least `staleAfter`.
    public let mirror: MirrorConfig
    /// Whether `causeway run` watches the config, the resource files and folders and the TLS
    /// files and reloads on change (`spec.watch`, default true). SIGHUP reloads either way.
    public let watch: Bool
    /// Whether the sidecar names the cluster that served each response in
    /// `x-causeway-upstream-cluster` (`spec.upstreamClusterHeader`, default true).
    public let upstreamClusterHeader: Bool
    /// The DNS server (`spec.dns`); nil when the section is absent: no DNS is served.
    public let dns: DNSConfig?
    /// Traffic capture (`spec.capture`): the mark on the proxy's sockets, what
    /// `causeway capture` redirects, the sniff timeout. `CaptureConfig()` when absent.
    public var capture = CaptureConfig()
}

/// `spec.mirror`: how export streams are published and how long a lost one is trusted.
public struct MirrorConfig: Sendable, Equatable {
    /// Heartbeat and reconnect timing.
    public var stream = MirrorSettings()
    /// When a lost stream's entries turn stale, and when they are removed.
    public var lease = ClusterMirror.LeasePolicy()

    /// Defaults: heartbeat 5 s, stale after 30 s, removed after 5 min.
    public init() {}
}

/// A complete, validated configuration snapshot.
public struct LoadedConfig: Sendable {
    /// The bootstrap settings.
    public let proxy: ProxyConfig
    /// Every service from the EndpointSlices (and every exported one, even without a slice),
    /// resolving in `proxy.namespace`. Each entry says whether it is exported and, when
    /// mirrored, its remote name and the gateway identity to expect.
    public let services: ServiceTable
    /// Every file read, absolute, in the order read: what a reload should watch.
    public let files: [String]
    /// Every folder whose `*.yaml`/`*.yml` files were read (the config directory, folders
    /// in `spec.resources`), absolute: a file added there later belongs to the config.
    public let folders: [String]
    /// The remote clusters this proxy is linked to, sorted by `cluster`. Non-empty implies
    /// `proxy.tls != nil`.
    public let links: [LinkConfig]
    /// The local services `ServiceExport`s name. Every one is in `services` with
    /// `exported == true`; the gateway checks that flag (or `ServiceTable.resolveExported`),
    /// not this set, on the request path.
    public let exports: Set<ServiceKey>
    /// The `HTTPRoute`s, `DestinationRule`s and `AuthorizationPolicy`s, validated, each list
    /// sorted by namespace, then name. Service names in them are `ServiceKey`s, not resolved
    /// against `services`: a route's backend or a rule's host may be a Service that appears
    /// later (a mirror). No two routes, rules or policies share a namespace and name, and no
    /// two DestinationRules share a host.
    public let policies: TrafficPolicies
    /// Each route's `parentRefs` as written (with the ports they name), by route id, for
    /// `/config`; routing uses `policies.routes[i].parents`.
    let routeParentRefs: [String: [RouteParentRef]]
    /// The files as they were when this configuration was read (sizes, modification
    /// times): the file watcher compares it once its watches are in place.
    var fingerprint: FilesFingerprint?
}
