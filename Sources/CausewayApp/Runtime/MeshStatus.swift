import CausewayMesh

/// The links' and mirrors' state at one moment, for `/endpoints` and `/metrics`: computed
/// on the control thread, handed to the admin thread as a value.
struct MeshStatus: Sendable {
    /// One linked cluster.
    struct Link: Sendable {
        let cluster: String
        /// Gateway addresses, and how many of them the prober finds reachable.
        let gateways: Int
        let gatewaysUp: Int
        /// `never-synced`, `live` or `lost`.
        let stream: String
        /// `fresh`, `stale` or `expired`.
        let lease: String
        /// The mirror's version; nil before the first snapshot.
        let version: UInt64?
        /// Seconds since the mirror last heard from the gateway; nil before that.
        let ageSeconds: Double?
        let resyncs: Int
        /// Mirrored services by state: `ready`, `not-ready` (no ready endpoint in the
        /// cluster), `stale` (served under a lost stream's lease), `expired` (dropped).
        let services: [(state: String, count: Int)]
        /// Probe durations and failures.
        var probes = ProbeStats()

        /// True when at least one gateway is reachable.
        var up: Bool { gatewaysUp > 0 }
    }

    let links: [Link]
    /// What composition noticed (conflicts, shadowed mirrors).
    let notes: [String]
    /// This gateway's published table.
    let exportsVersion: UInt64
    let exportedServices: Int
    /// Remote clusters' failover order per clusterset service (its DestinationRule's
    /// `failoverPriority`), by service index; absent: one remote tier.
    var failoverPriority: [Int: [String]] = [:]

    static let empty = MeshStatus(links: [], notes: [], exportsVersion: 0, exportedServices: 0)

    init(links: [Link], notes: [String], exportsVersion: UInt64, exportedServices: Int) {
        self.links = links
        self.notes = notes
        self.exportsVersion = exportsVersion
        self.exportedServices = exportedServices
    }

    init(mesh: MeshState, now: UInt64) {
        let policy = mesh.config.proxy.mirror.lease
        links = mesh.config.links.map { link in
            var status = Self.link(link, mesh: mesh, now: now, policy: policy)
            status.probes = mesh.probes[link.cluster] ?? ProbeStats()
            return status
        }
        notes = mesh.notes
        exportsVersion = mesh.exports.version
        exportedServices = mesh.exports.services.count
        for (index, rule) in (mesh.policies?.destinations ?? []).enumerated() {
            if let rule, !rule.failoverPriority.isEmpty { failoverPriority[index] = rule.failoverPriority }
        }
    }

    /// A clusterset member's failover tier: 0 for the local cluster, then the position in
    /// `failoverPriority` (clusters it does not list last), or 1 for every remote cluster.
    func tier(of member: ClustersetMember, in service: Int) -> Int {
        if member.isLocal { return 0 }
        guard let order = failoverPriority[service] else { return 1 }
        return (order.firstIndex(of: member.cluster) ?? order.count) + 1
    }

    private static func link(_ link: LinkConfig, mesh: MeshState, now: UInt64, policy: ClusterMirror.LeasePolicy) -> Link {
            let endpoints = link.gatewayEndpoints
            let up = endpoints.filter { !mesh.down.contains($0) }.count
            guard let mirror = mesh.mirrors[link.cluster] else {
                return Link(cluster: link.cluster, gateways: endpoints.count, gatewaysUp: up, stream: "never-synced", lease: "fresh",
                            version: nil, ageSeconds: nil, resyncs: 0, services: Self.counts(ready: 0, notReady: 0, stale: 0, expired: 0))
            }
            let stream: String
            switch mirror.stream {
            case .neverSynced: stream = "never-synced"
            case .live: stream = "live"
            case .lost: stream = "lost"
            }
            let lease = mirror.lease(now: now, policy: policy)
            let entries = mirror.entries.values
            let notReady = entries.filter { $0.service.readyEndpoints == 0 }.count
            let serving = entries.count - notReady
            return Link(
                cluster: link.cluster, gateways: endpoints.count, gatewaysUp: up, stream: stream, lease: "\(lease)",
                version: mirror.version, ageSeconds: mirror.lastHeard.map { Double(now &- $0) / 1e9 }, resyncs: mirror.resyncs,
                services: Self.counts(
                    ready: lease == .fresh ? serving : 0, notReady: lease == .expired ? 0 : notReady,
                    stale: lease == .stale ? serving : 0, expired: lease == .expired ? entries.count : 0))
    }

    private static func counts(ready: Int, notReady: Int, stale: Int, expired: Int) -> [(state: String, count: Int)] {
        [("ready", ready), ("not-ready", notReady), ("stale", stale), ("expired", expired)]
    }
}
