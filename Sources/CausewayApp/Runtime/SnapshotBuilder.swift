import CausewayHTTP
import CausewayProxy
import CausewayTLS

/// Turns a validated configuration into the immutable snapshot workers route with.
enum SnapshotBuilder {
    /// Builds the snapshot, loading TLS material from the configured files.
    /// - Throws: `StartupError` naming the file when a certificate or key cannot be used.
    static func snapshot(from config: LoadedConfig, version: Int) throws(StartupError) -> RoutingSnapshot {
        let p = config.proxy
        let h2 = H2Settings(
            maxConcurrentStreams: p.http2.maxConcurrentStreams,
            initialStreamWindow: p.http2.initialStreamWindow,
            connectionWindow: p.http2.connectionWindow,
            maxHeaderListSize: p.http2.maxHeaderListSize
        )
        let settings = ProxySettings(
            cluster: p.cluster,
            downstreamHTTP2: h2,
            upstreamHTTP2: h2,
            connectTimeoutNanos: UInt64(p.upstream.connectTimeoutMillis) * 1_000_000,
            idleTimeoutNanos: UInt64(p.upstream.idleTimeoutMillis) * 1_000_000,
            maxConnectionsPerEndpoint: p.upstream.maxConnectionsPerEndpoint
        )
        return RoutingSnapshot(services: config.services, settings: settings, tls: try meshTLS(p), version: version)
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
