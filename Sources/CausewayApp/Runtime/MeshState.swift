import CausewayMesh
import CausewayProxy

/// What the running routing snapshot is made of, and the rules for changing it: the loaded
/// configuration, the TLS contexts, link health, this gateway's export table and the
/// mirrors of linked clusters. `ProxyServer` keeps one behind a lock and installs each
/// snapshot it returns on every worker.
struct MeshState {
    private(set) var config: LoadedConfig
    private(set) var tls: MeshTLS?
    /// Gateways the link prober finds unreachable.
    var down: Set<EndpointAddress> = []
    /// What this proxy's gateway publishes.
    private(set) var exports: ExportTable
    /// Mirrors of linked clusters, by cluster.
    private(set) var mirrors: [String: ClusterMirror] = [:]
    /// Per cluster: the latest stream attempt heard from, and the attempts whose messages
    /// are ignored (up to and including this one) after a resynchronisation was asked for.
    private var attempts: [String: (latest: Int, ignoreThrough: Int)] = [:]
    /// Composition notes of the last snapshot (conflicting exports, shadowed mirrors).
    private(set) var notes: [String] = []
    private(set) var version = 0
    /// The table of the last snapshot, and its policies.
    private(set) var table: ServiceTable?
    private(set) var policies: PolicyTable?
    /// Probe durations and failures, by linked cluster.
    var probes: [String: ProbeStats] = [:]
    /// Why captured connections are refused (`SnapshotBuilder.captureRefusal`), decided at
    /// start; applied while the configuration has `capture`.
    var captureRefusal: String?

    init(config: LoadedConfig, tls: MeshTLS?) {
        self.config = config
        self.tls = tls
        self.exports = ExportTable(services: Self.exportedServices(config), version: 1)
    }

    /// Outcome of a message from a subscription.
    enum Received: Equatable {
        /// From a superseded stream or an unknown link: dropped.
        case ignored
        /// Applied; `changed` when the mirror's services changed.
        case applied(changed: Bool)
        /// Could not be applied: the stream must be reopened.
        case rejected(reason: String)
    }

    /// A message from attempt `attempt` of `cluster`'s export stream.
    mutating func received(_ message: MirrorMessage, cluster: String, attempt: Int, now: UInt64) -> Received {
        guard config.links.contains(where: { $0.cluster == cluster }) else { return .ignored }
        var seen = attempts[cluster] ?? (0, 0)
        guard attempt > seen.ignoreThrough, attempt >= seen.latest else { return .ignored }
        seen.latest = attempt
        var mirror = mirrors[cluster] ?? ClusterMirror(cluster: cluster)
        let outcome = mirror.apply(message, now: now)
        switch outcome {
        case .applied(let changed):
            mirrors[cluster] = mirror
            attempts[cluster] = seen
            return .applied(changed: changed)
        case .rejected(let reason):
            // The stream is reopened; until its snapshot, the mirror ages like a lost one.
            seen.ignoreThrough = attempt
            attempts[cluster] = seen
            mirror.streamLost(now: now)
            mirrors[cluster] = mirror
            return .rejected(reason: reason)
        }
    }

    /// Attempt `attempt` of `cluster`'s stream ended. Returns true when the mirror's lease
    /// started to run (it was live).
    mutating func streamLost(cluster: String, attempt: Int, now: UInt64) -> Bool {
        guard var mirror = mirrors[cluster], attempt >= (attempts[cluster]?.latest ?? 0) else { return false }
        let wasLive: Bool
        if case .live = mirror.stream { wasLive = true } else { wasLive = false }
        mirror.streamLost(now: now)
        mirrors[cluster] = mirror
        return wasLive
    }

    /// A new configuration (and the TLS contexts for it). Mirrors of clusters no longer
    /// linked are dropped; the export table moves to a new version if what is exported changed.
    mutating func replace(config: LoadedConfig, tls: MeshTLS?) {
        self.config = config
        self.tls = tls
        let linked = Set(config.links.map(\.cluster))
        mirrors = mirrors.filter { linked.contains($0.key) }
        probes = probes.filter { linked.contains($0.key) }
        attempts = attempts.filter { linked.contains($0.key) }
        exports = exports.next(Self.exportedServices(config))
    }

    /// The next snapshot, and the composition notes that are new since the last one.
    mutating func snapshot(now: UInt64) -> (snapshot: RoutingSnapshot, newNotes: [String]) {
        version += 1
        let output = MeshComposer.compose(.init(
            configured: config.services, localCluster: config.proxy.cluster, links: links, mirrors: mirrors, down: down,
            lease: config.proxy.mirror.lease, now: now))
        let policies = PolicyTable.compile(config.policies, table: output.table)
        let all = output.notes + policies.notes
        let fresh = all.filter { !notes.contains($0) }
        notes = all
        table = output.table
        self.policies = policies
        let snapshot = RoutingSnapshot(
            services: output.table, settings: SnapshotBuilder.settings(config.proxy, captureRefusal: captureRefusal), tls: tls, version: version,
            exports: exports, links: links, policies: policies)
        return (snapshot, fresh)
    }

    /// When a mirror's lease changes next (monotonic ns), if any will.
    func nextLeaseChange(after now: UInt64) -> UInt64? {
        mirrors.values.compactMap { $0.nextLeaseChange(after: now, policy: config.proxy.mirror.lease) }.min()
    }

    /// The linked clusters, as composition and subscriptions need them.
    var links: [MeshComposer.Link] {
        config.links.map { MeshComposer.Link(cluster: $0.cluster, gateways: $0.gatewayEndpoints, identity: $0.identity) }
    }

    /// Exported local services with their ports and ready endpoint counts.
    static func exportedServices(_ config: LoadedConfig) -> [ExportedService] {
        config.services.services.filter { $0.exported && !$0.isMirrored }.map {
            ExportedService(key: $0.key, ports: $0.ports, readyEndpoints: $0.readyEndpoints.count)
        }
    }
}

/// One link's probe record.
struct ProbeStats: Sendable {
    /// Durations of successful probes.
    var latency = DurationHistogram()
    /// Probes that failed.
    var failures: UInt64 = 0
}
