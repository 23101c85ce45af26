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

    private static func settings(_ p: ProxyConfig) -> ProxySettings {
        let h2 = H2Settings(
            maxConcurrentStreams: p.http2.maxConcurrentStreams,
            initialStreamWindow: p.http2.initialStreamWindow,
            connectionWindow: p.http2.connectionWindow,
            maxHeaderListSize: p.http2.maxHeaderListSize
        )
        return ProxySettings(
            cluster: p.cluster,
            downstreamHTTP2: h2,
            upstreamHTTP2: h2,
            connectTimeoutNanos: UInt64(p.upstream.connectTimeoutMillis) * 1_000_000,
            idleTimeoutNanos: UInt64(p.upstream.idleTimeoutMillis) * 1_000_000,
            maxConnectionsPerEndpoint: p.upstream.maxConnectionsPerEndpoint
        )
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
