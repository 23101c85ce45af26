/// One service in a `ServiceTable` snapshot: its name, its dense index, its endpoints and,
/// for a service mirrored from another cluster, how to reach it there.
///
/// Immutable: a new snapshot is built when endpoints change, and a request keeps the snapshot
/// it started with.
///
/// A service is one of three kinds, told apart by `sourceCluster` and `key.clusterset`:
/// - **local** (`sourceCluster == nil`): endpoints are pods of this cluster, spoken to in plain
///   h2c; `remoteName` and `expectedIdentity` are nil; `exported` says whether this proxy's
///   gateway serves it to other clusters.
/// - **mirrored** (`sourceCluster != nil`, `webapp-cluster2`): endpoints are the source
///   cluster's gateway; requests go there over mTLS, as `remoteName`, to a peer that must
///   present `expectedIdentity`. Never `exported`. `mirrorSource` says whether static
///   EndpointSlice files or the source gateway's export stream keep it.
/// - **clusterset** (`key.clusterset`, `webapp.production.svc.clusterset.local`): no
///   endpoints of its own; `members` are the services (local and mirrored, in this table)
///   of every cluster that exports it.
public struct ServiceEntry: Sendable {
    /// The service's name and namespace.
    public let key: ServiceKey
    /// Dense index in `0..<table.services.count`, equal to the entry's position in
    /// `ServiceTable.services`. Workers index per-service state and metrics arrays with it.
    public let index: Int
    /// Endpoints that may receive traffic: deduplicated, sorted by host then port.
    public let readyEndpoints: [EndpointAddress]
    /// Count of distinct endpoints, ready or not (`readyEndpoints.count <= totalEndpoints`).
    public let totalEndpoints: Int
    /// The cluster this service was mirrored from (label
    /// `multicluster.kubernetes.io/source-cluster`), or nil for a local service.
    public let sourceCluster: String?
    /// For a mirrored service, its key in `sourceCluster`: the same namespace, the name without
    /// the `-<sourceCluster>` suffix (`webapp.production` for `webapp-cluster2.production`).
    /// The name the remote gateway resolves, so the one to send as `:authority`. Nil for a
    /// local service.
    public let remoteName: ServiceKey?
    /// For a mirrored service, the SPIFFE ID (canonical `spiffe://...` text, validated by the
    /// config loader with `CausewayTLS.SPIFFEID`, the handshake's parser) the upstream peer
    /// must present: the source cluster's gateway. Nil for a local service.
    public let expectedIdentity: String?
    /// True when a `ServiceExport` names this local service: this proxy's gateway serves it to
    /// other clusters. A gateway treats a service that is not exported like an unknown one.
    /// Always false for a mirrored service.
    public let exported: Bool
    /// The ports its slices declare (or its source cluster publishes), sorted; empty when
    /// unknown.
    public let ports: [ServicePort]
    /// For a mirrored service, what keeps it; nil for local and clusterset services.
    public let mirrorSource: MirrorSource?
    /// For a clusterset service, the cluster's services it spreads over; empty otherwise.
    public let members: [ClustersetMember]

    /// Creates an entry. `readyEndpoints` may come in any order and with repeats: they are
    /// sorted and deduplicated here, so the invariant above holds for every entry.
    /// `totalEndpoints` is raised to at least the number of distinct ready endpoints.
    ///
    /// - Precondition: a mirrored service (`sourceCluster != nil`) is not `exported`; the
    ///   config loader refuses such exports, so a violation is a programming error.
    public init(
        key: ServiceKey,
        index: Int,
        readyEndpoints: [EndpointAddress],
        totalEndpoints: Int,
        sourceCluster: String? = nil,
        remoteName: ServiceKey? = nil,
        expectedIdentity: String? = nil,
        exported: Bool = false,
        ports: [ServicePort] = [],
        mirrorSource: MirrorSource? = nil,
        members: [ClustersetMember] = []
    ) {
        precondition(index >= 0, "service index must not be negative")
        precondition(!exported || sourceCluster == nil, "service \(key) is mirrored from \(sourceCluster ?? "") and cannot be exported")
        var unique: [EndpointAddress] = []
        unique.reserveCapacity(readyEndpoints.count)
        for endpoint in readyEndpoints.sorted() where unique.last != endpoint {
            unique.append(endpoint)
        }
        self.key = key
        self.index = index
        self.readyEndpoints = unique
        self.totalEndpoints = max(totalEndpoints, unique.count)
        self.sourceCluster = sourceCluster
        self.remoteName = remoteName
        self.expectedIdentity = expectedIdentity
        self.exported = exported
        self.ports = ports.sorted()
        self.mirrorSource = mirrorSource ?? (sourceCluster != nil ? .file : nil)
        self.members = members
    }

    /// A copy with other ready endpoints (link health removes unreachable gateways).
    public func withReadyEndpoints(_ ready: [EndpointAddress]) -> ServiceEntry {
        ServiceEntry(key: key, index: index, readyEndpoints: ready, totalEndpoints: totalEndpoints, sourceCluster: sourceCluster,
                     remoteName: remoteName, expectedIdentity: expectedIdentity, exported: exported, ports: ports,
                     mirrorSource: mirrorSource, members: members)
    }

    /// A copy at another index (tables are renumbered when mirrored services join them).
    public func withIndex(_ index: Int, members: [ClustersetMember]? = nil) -> ServiceEntry {
        ServiceEntry(key: key, index: index, readyEndpoints: readyEndpoints, totalEndpoints: totalEndpoints, sourceCluster: sourceCluster,
                     remoteName: remoteName, expectedIdentity: expectedIdentity, exported: exported, ports: ports,
                     mirrorSource: mirrorSource, members: members ?? self.members)
    }

    /// True for a service mirrored from another cluster (`sourceCluster != nil`).
    public var isMirrored: Bool { sourceCluster != nil }

    /// True for a clusterset service (`members` reach the clusters that export it).
    public var isClusterset: Bool { key.clusterset }
}

/// What keeps a mirrored service in the table.
public enum MirrorSource: Hashable, Sendable {
    /// Static EndpointSlice files with a source-cluster label (an outside controller).
    case file
    /// The source cluster's gateway export stream.
    case stream(Mirrored)

    /// A service as the export stream mirrors it.
    public struct Mirrored: Hashable, Sendable {
        /// The mirror's version when this service last changed.
        public let version: UInt64
        /// Ready endpoints in the source cluster, as its gateway publishes them.
        public let exportedReadyEndpoints: Int
        /// True when the stream is lost and the lease's stale time has passed (still served).
        public let stale: Bool

        public init(version: UInt64, exportedReadyEndpoints: Int, stale: Bool) {
            self.version = version
            self.exportedReadyEndpoints = exportedReadyEndpoints
            self.stale = stale
        }
    }
}
