#if canImport(Glibc)
import Glibc
#endif
import CausewayHTTP
import CausewayMesh
import CausewayProxy
import CausewayTLS

/// Maps a validated configuration to what the engine takes: settings, listener specs and
/// TLS contexts (`MeshState` composes the snapshot).
enum SnapshotBuilder {
    /// The one mapping from the validated `Proxy` to the engine's settings. The config
    /// already holds the engine's types (`H2Settings`, `ProxyTimeouts`, `ProxyLimits`) and
    /// durations in nanoseconds, so nothing is converted here.
    /// - Parameter captureRefusal: why captured connections must be refused, decided once at
    ///   start (`captureRefusal(_:unmarked:uid:)`); it applies while `p` has `capture`.
    static func settings(_ p: ProxyConfig, captureRefusal: String? = nil) -> ProxySettings {
        var settings = ProxySettings(
            cluster: p.cluster,
            downstreamHTTP2: p.http2,
            upstreamHTTP2: p.http2,
            connectTimeoutNanos: p.upstream.connectTimeoutNanos,
            idleTimeoutNanos: p.upstream.idleTimeoutNanos,
            maxConnectionsPerEndpoint: p.upstream.maxConnectionsPerEndpoint,
            timeouts: p.timeouts,
            limits: p.limits,
            mirror: p.mirror.stream
        )
        settings.upstreamClusterHeader = p.upstreamClusterHeader
        settings.capture.enabled = p.capture.configured
        settings.capture.refusal = p.capture.configured ? captureRefusal : nil
        settings.capture.sniffTimeoutNanos = p.capture.sniffTimeoutNanos
        settings.capture.passthroughIdleNanos = p.capture.passthroughIdleTimeoutNanos
        // Captured connections to the DNS server's virtual IPs are the mesh's.
        if let dns = p.dns {
            settings.capture.virtualIPs = ([dns.virtualIPs] + (dns.virtualIPv6s.map { [$0] } ?? [])).compactMap { IPPrefix($0.description) }
        }
        return settings
    }

    /// Why captured connections must be refused, or nil: the proxy's connections carry no mark
    /// (`unmarked`: the kernel refused `SO_MARK`, or nil when they carry it) and `uid` (the
    /// proxy's) is not among `capture.excludeUIDs`, so the capture rules would send whatever
    /// the proxy connects for a captured connection back to it. Decided at start, from the
    /// configuration the pod's rules were installed with: neither the mark nor the rules
    /// change on reload.
    static func captureRefusal(_ capture: CaptureConfig, unmarked: String?, uid: UInt32) -> String? {
        guard let unmarked, !capture.excludeUIDs.contains(uid) else { return nil }
        return "the proxy's own connections carry no mark (\(unmarked)) and its uid \(uid) is not in spec.capture.excludeUIDs, "
            + "so whatever it connected for a captured connection would be captured again; run it with CAP_NET_ADMIN, or list uid \(uid) in spec.capture.excludeUIDs"
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
