import CausewayHTTP
import CausewayMesh

/// The HTTPRoutes of one parent Service on one worker: the compiled matcher, and per rule
/// its weighted split, timeouts, retry policy and per-backend counters.
///
/// Loop-bound; rebuilt with each snapshot (a weight change applies to the next request).
final class RouteSet {
    let compiled: CompiledRoutes
    /// `[route][rule]`.
    let rules: [[RuleState]]

    /// `previous`: the same parent's routes in the snapshot before, whose splits carry over
    /// where a rule is unchanged.
    init(_ routes: PolicyTable.Routes, table: ServiceTable, metrics: WorkerMetrics, previous: RouteSet? = nil) {
        compiled = routes.compiled
        rules = routes.compiled.routes.enumerated().map { r, route in
            route.rules.enumerated().map { k, rule in
                let state = RuleState(route: route, rule: rule, services: routes.backends[r][k], metrics: metrics)
                if let previous, r < previous.rules.count, k < previous.rules[r].count {
                    let old = previous.rules[r][k]
                    if old.routeID == state.routeID && old.weights == state.weights { state.split = old.split }
                }
                return state
            }
        }
    }

    /// The rule a request selects and the backend its split picks; nil when no rule matches.
    func choose(_ headers: HeaderBlock) -> (rule: RuleState, service: Int?, counters: ServiceCounters)? {
        let (method, path, _) = headers.firstIndices(of: ":method", ":path", ":path")
        guard let method, let path else { return nil }
        let matched = headers.withValue(at: method) { m in
            headers.withValue(at: path) { p in compiled.match(method: m, path: p, header: { headers.value(named: $0) }) }
        }
        guard let (route, rule) = matched else { return nil }
        let state = rules[route][rule]
        guard let pick = state.split.next() else { return (state, nil, state.noBackend) }
        return (state, state.services[pick], state.counters[pick])
    }
}

/// One rule of an HTTPRoute on one worker.
final class RuleState {
    /// `namespace/name` of the route.
    let routeID: String
    let timeouts: RouteTimeouts
    let retry: RetryPolicy
    /// Smooth weighted round robin over the backends.
    var split: WeightedBackends
    /// Each backend's service index (nil: unknown).
    let services: [Int?]
    /// Each backend's counters (`causeway_route_backend_requests_total`).
    let counters: [ServiceCounters]
    /// Counted when the rule has no backend with weight.
    let noBackend: ServiceCounters
    /// The configured weights (a split carries over only while they stay the same).
    let weights: [Int]

    init(route: HTTPRoutePolicy, rule: RouteRule, services: [Int?], metrics: WorkerMetrics) {
        routeID = route.id
        timeouts = rule.timeouts
        retry = rule.retry ?? .standard
        weights = rule.backends.map(\.weight)
        split = WeightedBackends(weights: weights)
        self.services = services
        counters = rule.backends.map { metrics.routeCounters(route: route.id, backend: $0.service.description) }
        noBackend = metrics.routeCounters(route: route.id, backend: "")
    }
}
