import CausewayHTTP
import CausewayMesh

/// One service's state on one worker for one snapshot: its endpoint pools in the snapshot's
/// order, its balancing and ejection state, its policies, counters, and how its requests
/// and responses are rewritten. One value per service instead of parallel arrays.
final class BackendState {
    /// The service.
    let key: ServiceKey
    /// Pools of the service's ready endpoints (the "hosts" of balancing and ejection).
    let pools: [UpstreamPool]
    /// Round-robin over `pools` (`ROUND_ROBIN`).
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
    /// The same header as an HTTP/1.1 field line ("name: value\r\n"), for HTTP/1.1 clients.
    let upstreamClusterLine: [UInt8]
    /// In-flight counts and circuit breakers, shared with this service's state in earlier
    /// and later snapshots (requests in flight release what they took on it).
    let load: ServiceLoad
    /// Ejection of misbehaving endpoints (`outlierDetection`, or the passive default).
    var outlier: OutlierDetector
    /// How an endpoint is chosen.
    let loadBalancer: LoadBalancerKind
    /// The DestinationRule for this service, if any.
    let destination: DestinationPolicy?
    /// Gateway: who may call this service; nil when no AuthorizationPolicy targets it.
    let authorizer: Authorizer?
    /// True when the authorizer's verdict depends only on the caller (no `to` rules), so
    /// it can be cached per connection.
    let authorizerCacheable: Bool
    /// Endpoints the service has, ready or not (tier health of the local cluster).
    let totalEndpoints: Int

    init(key: ServiceKey, pools: [UpstreamPool], balancer: RoundRobin, counters: ServiceCounters, remoteAuthority: [UInt8]?,
         upstreamCluster: String, load: ServiceLoad = ServiceLoad(limits: CircuitBreakerLimits()),
         outlier: OutlierDetector? = nil, destination: DestinationPolicy? = nil, authorizer: Authorizer? = nil,
         authorizerCacheable: Bool = true, totalEndpoints: Int = 0) {
        self.key = key
        self.pools = pools
        self.balancer = balancer
        self.counters = counters
        self.remoteAuthority = remoteAuthority
        self.upstreamCluster = upstreamCluster
        self.upstreamClusterEdit = HeaderEdit(replacing: (Self.upstreamClusterHeader, Array(upstreamCluster.utf8)))
        self.upstreamClusterLine = Array("\(Self.upstreamClusterHeader): \(upstreamCluster)\r\n".utf8)
        self.load = load
        self.outlier = outlier ?? OutlierDetector(policy: destination?.outlierDetection ?? .passive, hosts: pools.count)
        self.loadBalancer = destination?.loadBalancer ?? .leastRequest
        self.destination = destination
        self.authorizer = authorizer
        self.authorizerCacheable = authorizerCacheable
        self.totalEndpoints = max(totalEndpoints, pools.count)
    }

    /// The response header naming the cluster that served a request.
    static let upstreamClusterHeader: StaticString = "x-causeway-upstream-cluster"

    /// Endpoints not ejected now.
    var healthyHosts: Int { pools.count - outlier.ejectedCount }
}

/// A service's in-flight requests, retries and circuit breakers on one worker. A class
/// shared by the service's `BackendState` of every snapshot, so a reload neither resets
/// the breakers nor loses the releases of requests that started before it.
final class ServiceLoad {
    var breaker: CircuitBreaker
    /// Requests in flight (holding a `requests` unit).
    var activeRequests = 0
    /// Retries in flight (holding a `retries` unit).
    var activeRetries = 0

    init(limits: CircuitBreakerLimits) {
        breaker = CircuitBreaker(limits: limits)
    }
}
