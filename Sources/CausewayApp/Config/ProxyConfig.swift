import CausewayMesh

/// What a listener does with the connections it accepts.
public enum ListenerRole: String, Sendable {
    /// Plain h2c / HTTP/1.1 from local workloads, routed to services.
    case sidecar
    /// mTLS from other clusters' proxies, routed to exported local services only. The loader
    /// requires `ProxyConfig.tls` when any listener has this role.
    case gateway
}

/// One listening socket.
public struct ListenerConfig: Sendable {
    /// Unique among listeners; a DNS label. Used in logs and metrics.
    public let name: String
    /// What the listener does.
    public let role: ListenerRole
    /// Where it listens. Unique among listeners and the admin address, unless the port is 0.
    public let address: SocketAddressSpec
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
}

/// HTTP/2 settings this proxy advertises and uses, per connection.
///
/// Ranges enforced by the loader (the `var`s let code and tests adjust a loaded value):
/// `maxConcurrentStreams` >= 1; both windows 65,535...2^31-1 (RFC 9113 §6.9.1);
/// `maxHeaderListSize` 1,024...16 MiB.
public struct HTTP2Settings: Sendable, Hashable {
    /// SETTINGS_MAX_CONCURRENT_STREAMS we advertise. nghttp2's default is unlimited, so it is
    /// always sent explicitly.
    public var maxConcurrentStreams: UInt32 = 256
    /// SETTINGS_INITIAL_WINDOW_SIZE, bytes per stream.
    public var initialStreamWindow: UInt32 = 1 << 20
    /// Connection-level receive window, bytes.
    public var connectionWindow: UInt32 = 16 << 20
    /// SETTINGS_MAX_HEADER_LIST_SIZE, bytes (uncompressed, as RFC 9113 counts them).
    public var maxHeaderListSize: UInt32 = 65536

    /// The defaults above.
    public init() {}
}

/// How the proxy connects to upstream endpoints.
///
/// Ranges enforced by the loader: `connectTimeoutMillis` 1...60,000; `idleTimeoutMillis`
/// 1,000...86,400,000 (24 h); `maxConnectionsPerEndpoint` 1...10,000 (per worker).
public struct UpstreamSettings: Sendable, Hashable {
    /// Give up on a TCP connect after this long, milliseconds.
    public var connectTimeoutMillis: Int = 1000
    /// Close a pooled connection idle for this long, milliseconds.
    public var idleTimeoutMillis: Int = 60_000
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
    /// HTTP/2 settings.
    public let http2: HTTP2Settings
    /// Upstream connection settings.
    public let upstream: UpstreamSettings
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
    /// The remote clusters this proxy is linked to, sorted by `cluster`. Non-empty implies
    /// `proxy.tls != nil`.
    public let links: [LinkConfig]
    /// The local services `ServiceExport`s name. Every one is in `services` with
    /// `exported == true`; the gateway checks that flag (or `ServiceTable.resolveExported`),
    /// not this set, on the request path.
    public let exports: Set<ServiceKey>
}
