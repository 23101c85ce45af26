import CausewayHTTP
import CausewayProxy

/// Turns a validated configuration into the immutable snapshot workers route with.
enum SnapshotBuilder {
    static func snapshot(from config: LoadedConfig, version: Int) -> RoutingSnapshot {
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
        return RoutingSnapshot(services: config.services, settings: settings, version: version)
    }
}
