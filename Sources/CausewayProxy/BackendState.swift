import CausewayHTTP
import CausewayMesh

/// One service's state on one worker: its endpoint pools in the snapshot's order, its
/// balancer, its counters and how its requests are rewritten. One value per service
/// instead of parallel arrays; the policies still to come (breaker, outlier detector)
/// belong here too.
final class BackendState {
    /// The service.
    let key: ServiceKey
    /// Pools of the service's ready endpoints.
    let pools: [UpstreamPool]
    /// Round-robin over `pools`.
    var balancer: RoundRobin
    /// Request counts by status.
    let counters: ServiceCounters
    /// For a mirrored service, the `:authority` to send (its name in the source cluster).
    let remoteAuthority: [UInt8]?
    /// For a clusterset service, the clusters' services it spreads over; nil otherwise.
    var clusterset: ClustersetChoice?
    /// The cluster that serves this service's requests, as the response header naming it
    /// (`x-causeway-upstream-cluster`), built once per snapshot.
    let upstreamCluster: String
    let upstreamClusterEdit: HeaderEdit

    init(key: ServiceKey, pools: [UpstreamPool], balancer: RoundRobin, counters: ServiceCounters, remoteAuthority: [UInt8]?,
         upstreamCluster: String) {
        self.upstreamCluster = upstreamCluster
        self.upstreamClusterEdit = HeaderEdit(replacing: (Self.upstreamClusterHeader, Array(upstreamCluster.utf8)))
        self.key = key
        self.pools = pools
        self.balancer = balancer
        self.counters = counters
        self.remoteAuthority = remoteAuthority
    }

    /// The response header naming the cluster that served a request.
    static let upstreamClusterHeader: StaticString = "x-causeway-upstream-cluster"

    /// balance: the next pool in turn, skipping `avoiding` when another is available; nil
    /// when the service has no ready endpoint.
    func pick(avoiding: UpstreamPool?) -> UpstreamPool? {
        guard var pick = balancer.next(count: pools.count) else { return nil }
        if let avoiding, pools[pick] === avoiding, pools.count > 1 {
            pick = balancer.next(count: pools.count) ?? pick
        }
        return pools[pick]
    }
}
