/// One cluster's share of a clusterset service (`webapp.production.svc.clusterset.local`):
/// the service in the table that reaches that cluster, and its weight.
///
/// The local cluster's member is its own exported service and is preferred while it has a
/// ready endpoint; remote members share the traffic that leaves the cluster in proportion
/// to `weight`, their count of ready endpoints as their gateway publishes it (capacity, not
/// one share per gateway).
public struct ClustersetMember: Hashable, Sendable {
    /// Index in the same table of the service that reaches `cluster` (`webapp` for the local
    /// cluster, `webapp-cluster2` for cluster2's mirror).
    public let service: Int
    /// The cluster this member sends traffic to.
    public let cluster: String
    /// True for the proxy's own cluster.
    public let isLocal: Bool
    /// Relative share among remote members: ready endpoints in that cluster (1 for a
    /// mirror from static files, which carry no count). 0 receives nothing.
    public let weight: Int
    /// The ports the cluster exports the service on; empty when unknown (any port). A
    /// request naming another port never goes to this member.
    public let ports: [UInt16]

    public init(service: Int, cluster: String, isLocal: Bool, weight: Int, ports: [UInt16] = []) {
        precondition(weight >= 0, "a clusterset member's weight must not be negative")
        self.service = service
        self.cluster = cluster
        self.isLocal = isLocal
        self.weight = weight
        self.ports = ports
    }

    /// True when a request for `port` (nil: none named) may go to this member.
    @inline(__always)
    public func serves(port: UInt16?) -> Bool {
        guard let port, !ports.isEmpty else { return true }
        return ports.contains(port)
    }
}
