import CausewayHTTP
import CausewayMesh

/// `/route?authority=…&path=…&method=…`: the decision this worker would make for such a
/// request now, and why — matched rule, backends with weights, clusterset tiers with their
/// healthy shares, endpoints with their ejection state, the limits that apply. Nothing is
/// picked (no balancer state moves): it explains, it does not route.
///
/// Runs on the worker (asked through its mailbox), so it reads the same state requests use.
enum RouteExplainer {
    static func explain(authority: String, path: String, method: String, on worker: Worker) -> JSONNode {
        let forwarder: Forwarder = worker.forwarder
        let table = worker.snapshot.services
        let head = HeaderBlock([(":method", method), (":scheme", "http"), (":authority", authority), (":path", path)])
        var out: [(key: String, value: JSONNode)] = [
            ("authority", .string(authority)), ("path", .string(path)), ("method", .string(method)),
            ("snapshotVersion", .integer(Int64(worker.snapshot.version))),
        ]
        switch Route.decide(head, in: table, role: .sidecar) {
        case .reject(let rejection):
            let failure = ProxyFailure(rejection)
            out.append(("decision", .string("reject")))
            out.append(("status", .integer(Int64(failure.status))))
            out.append(("reason", .string(failure.reason)))
            return .object(out)
        case .forward(let service):
            out.append(("service", .string(table.services[service].key.description)))
            var targets: [Int] = [service]
            if let set = forwarder.routes[service] {
                let found: (route: Int, rule: Int)?? = head.withValue(of: ":method") { m -> (route: Int, rule: Int)? in
                    let inner: (route: Int, rule: Int)?? = head.withValue(of: ":path") { p in
                        set.compiled.match(method: m, path: p, header: { head.value(named: $0) })
                    }
                    return inner ?? nil
                }
                guard let matched = found ?? nil else {
                    out.append(("decision", .string("reject")))
                    out.append(("status", .integer(404)))
                    out.append(("reason", .string(ProxyFailure.noRuleMatched.reason)))
                    out.append(("why", .string("the service has HTTPRoutes and none of their rules matches")))
                    return .object(out)
                }
                let route = set.compiled.routes[matched.route]
                let rule = set.rules[matched.route][matched.rule]
                let backends = route.rules[matched.rule].backends
                let total = backends.reduce(0) { $0 + $1.weight }
                var backendList: [JSONNode] = []
                for (i, b) in backends.enumerated() {
                    let share: Double = total > 0 ? Double(b.weight) / Double(total) : 0
                    backendList.append(.object([
                        ("service", .string(b.service.description)), ("weight", .integer(Int64(b.weight))),
                        ("share", .double(share)), ("known", .bool(rule.services[i] != nil)),
                    ]))
                }
                let timeouts: JSONNode = .object([
                    ("requestMillis", .integer(Int64(rule.timeouts.requestNanos / 1_000_000))),
                    ("backendRequestMillis", .integer(Int64(rule.timeouts.backendRequestNanos / 1_000_000))),
                ])
                out.append(("route", .object([
                    ("name", .string(route.id)), ("rule", .integer(Int64(matched.rule))), ("backends", .array(backendList)),
                    ("timeouts", timeouts), ("retry", retryJSON(rule.retry)),
                ])))
                targets = zip(backends, rule.services).compactMap { $0.weight > 0 ? $1 : nil }
            } else {
                out.append(("retry", retryJSON(.standard)))
            }
            out.append(("decision", .string("forward")))
            out.append(("targets", .array(targets.map { describe(forwarder.backends[$0], table: table, now: worker.loop.now) })))
            return .object(out)
        }
    }

    private static func retryJSON(_ r: RetryPolicy) -> JSONNode {
        .object([
            ("attempts", .integer(Int64(r.attempts))), ("codes", .array(r.codes.map { .integer(Int64($0)) })),
            ("idempotentOnly", .bool(r.idempotentOnly)),
        ])
    }

    /// A backend: its clusterset tiers (if any), endpoints, balancer and limits.
    private static func describe(_ backend: BackendState, table: ServiceTable, now: UInt64) -> JSONNode {
        var fields: [(key: String, value: JSONNode)] = [
            ("service", .string(backend.key.description)), ("cluster", .string(backend.upstreamCluster)),
        ]
        if let set = backend.clusterset {
            let tiers = set.tiers
            fields.append(("clusterset", .array(tiers.indices.map { i in
                let member = set.members[i].backend
                return .object([
                    ("cluster", .string(tiers[i].cluster)), ("tier", .integer(Int64(tiers[i].tier))),
                    ("weight", .integer(Int64(tiers[i].weight))), ("ready", .bool(tiers[i].ready)),
                    ("healthyEndpoints", .integer(Int64(member.healthyHosts))), ("endpoints", .integer(Int64(member.pools.count))),
                    ("service", .string(member.key.description)),
                ])
            })))
            fields.append(("tierLoads", .array(set.tierLoads.map { .double($0) })))
            fields.append(("members", .array(set.members.map { describe($0.backend, table: table, now: now) })))
            return .object(fields)
        }
        fields.append(("loadBalancer", .string(backend.loadBalancer.rawValue)))
        fields.append(("endpoints", .array(backend.pools.indices.map { i in
            var e: [(key: String, value: JSONNode)] = [
                ("address", .string(backend.pools[i].address.description)),
                ("requestsInFlight", .integer(Int64(backend.pools[i].activeRequests))),
                ("ejected", .bool(backend.outlier.isEjected(host: i))),
                ("ejections", .integer(Int64(backend.outlier.ejections(host: i)))),
            ]
            if let ends = backend.outlier.ejectionEnds(host: i) {
                e.append(("ejectionEndsInMillis", .integer(Int64((ends > now ? ends - now : 0) / 1_000_000))))
            }
            return .object(e)
        })))
        let breaker = backend.load.breaker
        fields.append(("limits", .object(CircuitBreaker.Limit.allCases.map { limit in
            (limit.rawValue, .object([("max", .integer(Int64(breaker.maximum(limit)))), ("inUse", .integer(Int64(breaker.count(limit))))]))
        })))
        fields.append(("outlierDetection", .string(backend.destination?.outlierDetection == nil ? "passive (local-origin failures)" : "configured")))
        return .object(fields)
    }
}
