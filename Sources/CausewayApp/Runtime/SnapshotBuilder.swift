import CausewayHTTP
import CausewayMesh
import CausewayProxy
import CausewayTLS

/// Turns a validated configuration into the immutable snapshot workers route with.
enum SnapshotBuilder {
    /// Builds the snapshot, loading TLS material from the configured files.
    /// - Throws: `StartupError` naming the file when a certificate or key cannot be used.
    static func snapshot(from config: LoadedConfig, version: Int) throws(StartupError) -> RoutingSnapshot {
        snapshot(from: config, tls: try meshTLS(config.proxy), down: [], version: version)
    }

    /// Builds the snapshot with already-loaded TLS contexts, leaving out the gateways in
    /// `down` (found unreachable by the link prober) from the mirrored services.
    static func snapshot(from config: LoadedConfig, tls: MeshTLS?, down: Set<EndpointAddress>, version: Int) -> RoutingSnapshot {
        RoutingSnapshot(services: HealthOverlay.apply(config.services, down: down), settings: settings(config.proxy), tls: tls, version: version)
    }

    /// The one mapping from the validated `Proxy` to the engine's settings. The config
    /// already holds the engine's types (`H2Settings`, `ProxyTimeouts`, `ProxyLimits`) and
    /// durations in nanoseconds, so nothing is converted here.
    static func settings(_ p: ProxyConfig) -> ProxySettings {
        ProxySettings(
            cluster: p.cluster,
            downstreamHTTP2: p.http2,
            upstreamHTTP2: p.http2,
            connectTimeoutNanos: p.upstream.connectTimeoutNanos,
            idleTimeoutNanos: p.upstream.idleTimeoutNanos,
            maxConnectionsPerEndpoint: p.upstream.maxConnectionsPerEndpoint,
            timeouts: p.timeouts,
            limits: p.limits
        )
    }

    /// What a worker is told about one of its sockets for `listener`.
    static func listenerSpec(_ listener: ListenerConfig, fd: Int32) -> ListenerSpec {
        ListenerSpec(fd: fd, name: listener.name, role: listener.role, accessLog: listener.accessLog)
    }

    /// Server and client contexts from `spec.tls`; nil when the proxy has no TLS block.
    static func meshTLS(_ p: ProxyConfig) throws(StartupError) -> MeshTLS? {
        guard let files = p.tls else { return nil }
        do {
            let domain = try TrustDomain(p.trustDomain)
            func context(_ role: TLSRole) throws -> TLSContext {
                try TLSContext(TLSConfiguration(role: role, trustDomain: domain, trustBundlePath: files.trustBundle,
                                                certificateChainPath: files.certificateChain, privateKeyPath: files.privateKey))
            }
            return MeshTLS(server: try context(.server), client: try context(.client))
        } catch {
            throw StartupError("tls: \(error)")
        }
    }
}
