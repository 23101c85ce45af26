/// The validated traffic policy resources, as the config loader produces them and the pure
/// policy engines (`RouteMatcher`, `CircuitBreaker`, `OutlierDetector`, `PriorityLoad`,
/// `RetryBudget`, `Authorizer`) consume them. Names are not resolved here: a route's
/// parent and backends, a rule's host and a policy's targets are `ServiceKey`s, resolved
/// against each composed table (a backend may appear later through mirroring).

// MARK: HTTPRoute (gateway.networking.k8s.io/v1, mesh form)

/// An `HTTPRoute` attached to a Service (`parentRefs` of `kind: Service`).
public struct HTTPRoutePolicy: Sendable, Equatable {
    /// `metadata.name` / `metadata.namespace`; `namespace/name` labels metrics.
    public let name: String
    public let namespace: String
    /// The Services (any of their names) whose requests follow this route.
    public let parents: [ServiceKey]
    public let rules: [RouteRule]

    public init(name: String, namespace: String, parents: [ServiceKey], rules: [RouteRule]) {
        self.name = name
        self.namespace = namespace
        self.parents = parents
        self.rules = rules
    }

    /// `namespace/name`.
    public var id: String { "\(namespace)/\(name)" }
}

/// One rule: where matching requests go, and the timeouts and retries that apply.
public struct RouteRule: Sendable, Equatable {
    /// Any match selects the rule; an empty list matches every request (`PathPrefix /`).
    public let matches: [RouteMatch]
    /// Weighted backends; weights 0 receive nothing. Empty: matching requests get
    /// `500`-class "no backend" (Gateway API); we answer `503 no-healthy-upstream`.
    public let backends: [RouteBackend]
    public let timeouts: RouteTimeouts
    /// Nil: the default retry policy.
    public let retry: RetryPolicy?

    public init(matches: [RouteMatch], backends: [RouteBackend], timeouts: RouteTimeouts = RouteTimeouts(), retry: RetryPolicy? = nil) {
        self.matches = matches
        self.backends = backends
        self.timeouts = timeouts
        self.retry = retry
    }
}

/// What a request must carry for a rule to apply. Every present part must match.
public struct RouteMatch: Sendable, Equatable {
    public enum Path: Sendable, Equatable {
        /// The whole path (before any `?`) equals this.
        case exact(String)
        /// The path starts with this, on a segment boundary (`/api` matches `/api` and
        /// `/api/x`, not `/apix`); a trailing `/` in the prefix is ignored, `/` matches all.
        case prefix(String)
    }

    /// Default `PathPrefix /`.
    public let path: Path
    /// Exact header matches; names lowercase.
    public let headers: [NameValue]
    /// Exact method, uppercase; nil: any.
    public let method: String?
    /// Exact query parameter matches (first occurrence of the name, case-sensitive).
    public let queryParams: [NameValue]

    public init(path: Path = .prefix("/"), headers: [NameValue] = [], method: String? = nil, queryParams: [NameValue] = []) {
        self.path = path
        self.headers = headers
        self.method = method
        self.queryParams = queryParams
    }
}

/// A name and the value it must have.
public struct NameValue: Sendable, Equatable, Hashable {
    public let name: String
    public let value: String
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One weighted backend of a rule.
public struct RouteBackend: Sendable, Equatable {
    /// A Service in the route's namespace (`webapp`, `webapp-cluster2`), or its clusterset
    /// name (`kind: ServiceImport`, `group: multicluster.x-k8s.io`).
    public let service: ServiceKey
    public let port: UInt16?
    /// 0...1,000,000; default 1.
    public let weight: Int

    public init(service: ServiceKey, port: UInt16?, weight: Int) {
        self.service = service
        self.port = port
        self.weight = weight
    }
}

/// `timeouts` of a rule, nanoseconds; 0 = none.
public struct RouteTimeouts: Sendable, Equatable {
    /// The whole request, retries included: `504 route-timeout`.
    public var requestNanos: UInt64 = 0
    /// One attempt: `504 upstream-timeout` (and a retry if the policy allows).
    public var backendRequestNanos: UInt64 = 0
    public init(requestNanos: UInt64 = 0, backendRequestNanos: UInt64 = 0) {
        self.requestNanos = requestNanos
        self.backendRequestNanos = backendRequestNanos
    }
}

/// When a failed attempt is tried again.
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first attempt. Default 2.
    public var attempts: Int = 2
    /// Response statuses that are retried (only for idempotent methods when defaulted).
    /// Default `[503]`.
    public var codes: [Int] = [503]
    /// Backoff: a random delay up to `min(max, base × 2^(n-1))` before retry n, 1 for the
    /// first (full jitter; `RetryBackoff.delayNanos`).
    public var backoffBaseNanos: UInt64 = 25_000_000
    public var backoffMaxNanos: UInt64 = 250_000_000
    /// True for the default policy, which retries codes only for GET, HEAD, OPTIONS, PUT,
    /// DELETE; a configured `retry` applies its codes to every method.
    public var idempotentOnly: Bool = true

    public init() {}

    /// The policy used when a rule (or no route) configures none.
    public static let standard = RetryPolicy()
}

// MARK: DestinationRule (networking.istio.io/v1)

/// A `DestinationRule`: limits, ejection, balancing and failover order for one Service.
public struct DestinationPolicy: Sendable, Equatable {
    public let name: String
    public let namespace: String
    /// The Service (`host`, any of its names, resolved to a key by the loader).
    public let host: ServiceKey
    public let limits: CircuitBreakerLimits
    /// Connect timeout, nanoseconds; nil: the Proxy's `upstream.connectTimeout`.
    public let connectTimeoutNanos: UInt64?
    /// Idle timeout of upstream connections, nanoseconds; nil: the Proxy's.
    public let idleTimeoutNanos: UInt64?
    /// Requests per upstream connection before it is drained; 0: unlimited.
    public let maxRequestsPerConnection: Int
    /// Nil: only the built-in passive check of local-origin failures (`OutlierPolicy.passive`).
    public let outlierDetection: OutlierPolicy?
    public let loadBalancer: LoadBalancerKind
    /// Remote clusters in the order traffic fails over to them; empty: one tier of all
    /// remote clusters, shared by capacity.
    public let failoverPriority: [String]

    public init(name: String, namespace: String, host: ServiceKey, limits: CircuitBreakerLimits = CircuitBreakerLimits(),
                connectTimeoutNanos: UInt64? = nil, idleTimeoutNanos: UInt64? = nil, maxRequestsPerConnection: Int = 0,
                outlierDetection: OutlierPolicy? = nil, loadBalancer: LoadBalancerKind = .leastRequest, failoverPriority: [String] = []) {
        self.name = name
        self.namespace = namespace
        self.host = host
        self.limits = limits
        self.connectTimeoutNanos = connectTimeoutNanos
        self.idleTimeoutNanos = idleTimeoutNanos
        self.maxRequestsPerConnection = maxRequestsPerConnection
        self.outlierDetection = outlierDetection
        self.loadBalancer = loadBalancer
        self.failoverPriority = failoverPriority
    }

    public var id: String { "\(namespace)/\(name)" }
}

/// `trafficPolicy.loadBalancer.simple`.
public enum LoadBalancerKind: String, Sendable, Equatable {
    /// Power of two choices on active requests (the default).
    case leastRequest = "LEAST_REQUEST"
    case roundRobin = "ROUND_ROBIN"
    case random = "RANDOM"
}

/// `connectionPool` limits, Envoy's circuit breakers with Envoy's defaults.
public struct CircuitBreakerLimits: Sendable, Equatable {
    /// `tcp.maxConnections`: upstream connections to the Service.
    public var maxConnections: Int = 1024
    /// `http.http1MaxPendingRequests`: requests waiting for a connection.
    public var maxPendingRequests: Int = 1024
    /// `http.http2MaxRequests`: requests in flight.
    public var maxRequests: Int = 1024
    /// `http.maxRetries`: retries in flight.
    public var maxRetries: Int = 3

    public init() {}
}

/// `outlierDetection`, nanoseconds for durations.
public struct OutlierPolicy: Sendable, Equatable {
    /// Consecutive 5xx responses (and local-origin failures, counted as 5xx like Envoy
    /// without split errors) before ejection; 0 disables. Istio's default 5.
    public var consecutive5xx: Int = 5
    /// Consecutive 502/503/504 (and local-origin failures) before ejection; 0 disables.
    public var consecutiveGatewayErrors: Int = 0
    /// Consecutive local-origin failures (connect failure, reset, timeout) before ejection;
    /// 0 disables. Default 5.
    public var consecutiveLocalOriginFailures: Int = 5
    /// How often ejections are reviewed (ejected hosts return once due). Default 10 s.
    public var intervalNanos: UInt64 = 10_000_000_000
    /// Ejection time = base × number of times the host was ejected, capped at `maxEjectionNanos`.
    public var baseEjectionNanos: UInt64 = 30_000_000_000
    public var maxEjectionNanos: UInt64 = 300_000_000_000
    /// Most hosts of the Service ejected at once, percent (at least one host may always be
    /// ejected, as in Envoy). Default 10.
    public var maxEjectionPercent: Int = 10
    /// Below this share of healthy hosts, no host is ejected (panic). Default 0.
    public var minHealthPercent: Int = 0

    public init() {}

    /// What applies with no `outlierDetection` configured: local-origin failures only
    /// (5 consecutive connect failures, resets or timeouts eject for 30 s), up to every
    /// host — so failover works without configuring anything.
    public static let passive: OutlierPolicy = {
        var p = OutlierPolicy()
        p.consecutive5xx = 0
        p.consecutiveGatewayErrors = 0
        p.consecutiveLocalOriginFailures = 5
        p.maxEjectionPercent = 100
        p.intervalNanos = 1_000_000_000
        return p
    }()
}

// MARK: AuthorizationPolicy (security.istio.io/v1)

/// An `AuthorizationPolicy` targeting Services.
public struct AuthorizationPolicyRule: Sendable, Equatable {
    public enum Action: String, Sendable, Equatable {
        case allow = "ALLOW"
        case deny = "DENY"
    }

    public let name: String
    public let namespace: String
    /// `targetRefs` of `kind: Service`.
    public let targets: [ServiceKey]
    public let action: Action
    /// A request matches the policy when it matches any rule; no rules: matches nothing.
    public let rules: [AuthorizationRule]

    public init(name: String, namespace: String, targets: [ServiceKey], action: Action, rules: [AuthorizationRule]) {
        self.name = name
        self.namespace = namespace
        self.targets = targets
        self.action = action
        self.rules = rules
    }

    public var id: String { "\(namespace)/\(name)" }
}

/// One rule: the request matches when some `from` source matches (or `from` is empty) and
/// some `to` operation matches (or `to` is empty).
public struct AuthorizationRule: Sendable, Equatable {
    public let from: [AuthorizationSource]
    public let to: [AuthorizationOperation]
    public init(from: [AuthorizationSource], to: [AuthorizationOperation]) {
        self.from = from
        self.to = to
    }
}

/// `from.source`: every non-empty list must have a match.
public struct AuthorizationSource: Sendable, Equatable {
    /// Istio's form without the scheme: `mesh.local/ns/production/sa/frontend`; `*`,
    /// `prefix*` and `*suffix` wildcards.
    public let principals: [String]
    /// Namespaces of the caller's identity (`/ns/<namespace>/`), same wildcards.
    public let namespaces: [String]
    public init(principals: [String], namespaces: [String]) {
        self.principals = principals
        self.namespaces = namespaces
    }
}

/// `to.operation`: every non-empty list must have a match.
public struct AuthorizationOperation: Sendable, Equatable {
    /// Exact methods, uppercase.
    public let methods: [String]
    /// Exact paths or `prefix*`, `*suffix`, `*`; compared without the query.
    public let paths: [String]
    public init(methods: [String], paths: [String]) {
        self.methods = methods
        self.paths = paths
    }
}

/// Every traffic policy resource of a configuration.
public struct TrafficPolicies: Sendable, Equatable {
    public var routes: [HTTPRoutePolicy] = []
    public var destinations: [DestinationPolicy] = []
    public var authorizations: [AuthorizationPolicyRule] = []
    public init(routes: [HTTPRoutePolicy] = [], destinations: [DestinationPolicy] = [], authorizations: [AuthorizationPolicyRule] = []) {
        self.routes = routes
        self.destinations = destinations
        self.authorizations = authorizations
    }
}
