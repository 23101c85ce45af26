/// One service in a `ServiceTable` snapshot: its name, its dense index, its endpoints and,
/// for a service mirrored from another cluster, how to reach it there.
///
/// Immutable: a new snapshot is built when endpoints change, and a request keeps the snapshot
/// it started with.
///
/// A service is one of two kinds, told apart by `sourceCluster`:
/// - **local** (`sourceCluster == nil`): endpoints are pods of this cluster, spoken to in plain
///   h2c; `remoteName` and `expectedIdentity` are nil; `exported` says whether this proxy's
///   gateway serves it to other clusters.
/// - **mirrored** (`sourceCluster != nil`, `webapp-cluster2`): endpoints are the source
///   cluster's gateway; requests go there over mTLS, as `remoteName`, to a peer that must
///   present `expectedIdentity`. Never `exported`.
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
        exported: Bool = false
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
    }

    /// True for a service mirrored from another cluster (`sourceCluster != nil`).
    public var isMirrored: Bool { sourceCluster != nil }
}
