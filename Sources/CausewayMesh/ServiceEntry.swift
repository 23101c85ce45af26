/// One service in a `ServiceTable` snapshot: its name, its dense index and its endpoints.
///
/// Immutable: a new snapshot is built when endpoints change, and a request keeps the snapshot
/// it started with.
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

    /// Creates an entry. `readyEndpoints` may come in any order and with repeats: they are
    /// sorted and deduplicated here, so the invariant above holds for every entry.
    /// `totalEndpoints` is raised to at least the number of distinct ready endpoints.
    public init(
        key: ServiceKey,
        index: Int,
        readyEndpoints: [EndpointAddress],
        totalEndpoints: Int,
        sourceCluster: String? = nil
    ) {
        precondition(index >= 0, "service index must not be negative")
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
    }
}
