import CausewayMesh

/// The traffic policies in `EffectiveConfig.json`: the fields of the resources as written
/// (`parentRefs`, `backendRefs`, `connectionPool.http.http2MaxRequests`, ...), durations as
/// `...Millis` (0 = none), Services as `name.namespace` (a clusterset name in full), defaults
/// filled in. `null` marks what a resource leaves to something else: a match without a method,
/// a rule without `retry` (the default policy), a DestinationRule without a connect or idle
/// timeout (the Proxy's `spec.upstream`) or without `outlierDetection` (the passive check).
extension EffectiveConfig {
    static func routes(_ routes: [HTTPRoutePolicy], parentRefs: [String: [RouteParentRef]]) -> JSONValue {
        .array(routes.map { route in
            let refs = parentRefs[route.id] ?? route.parents.map { RouteParentRef(service: $0, port: nil) }
            return .object([
                ("name", .string(route.name)),
                ("namespace", .string(route.namespace)),
                ("parentRefs", .array(refs.map { ref in
                    .object([("service", .string(ref.service.description)), ("port", ref.port.map { .int(Int($0)) } ?? .null)])
                })),
                ("rules", .array(route.rules.map(rule))),
            ])
        })
    }

    private static func rule(_ rule: RouteRule) -> JSONValue {
        let retry: JSONValue = rule.retry.map { retry in
            .object([
                ("attempts", .int(retry.attempts)),
                ("codes", .array(retry.codes.map(JSONValue.int))),
                ("backoffBaseMillis", millis(retry.backoffBaseNanos)),
                ("backoffMaxMillis", millis(retry.backoffMaxNanos)),
                ("idempotentOnly", .bool(retry.idempotentOnly)),
            ])
        } ?? .null
        return .object([
            ("matches", .array(rule.matches.map(match))),
            ("backendRefs", .array(rule.backends.map { backend in
                .object([
                    ("service", .string(backend.service.description)),
                    ("port", backend.port.map { .int(Int($0)) } ?? .null),
                    ("weight", .int(backend.weight)),
                ])
            })),
            ("timeouts", .object([
                ("requestMillis", millis(rule.timeouts.requestNanos)),
                ("backendRequestMillis", millis(rule.timeouts.backendRequestNanos)),
            ])),
            ("retry", retry),
        ])
    }

    private static func match(_ match: RouteMatch) -> JSONValue {
        let path: JSONValue
        switch match.path {
        case .exact(let value): path = .object([("type", .string("Exact")), ("value", .string(value))])
        case .prefix(let value): path = .object([("type", .string("PathPrefix")), ("value", .string(value))])
        }
        func pairs(_ list: [NameValue]) -> JSONValue {
            .array(list.map { .object([("name", .string($0.name)), ("value", .string($0.value))]) })
        }
        return .object([
            ("path", path),
            ("headers", pairs(match.headers)),
            ("queryParams", pairs(match.queryParams)),
            ("method", match.method.map(JSONValue.string) ?? .null),
        ])
    }

    static func destinationRules(_ rules: [DestinationPolicy]) -> JSONValue {
        .array(rules.map { rule in
            let outlier: JSONValue = rule.outlierDetection.map { o in
                .object([
                    ("consecutive5xxErrors", .int(o.consecutive5xx)),
                    ("consecutiveGatewayErrors", .int(o.consecutiveGatewayErrors)),
                    ("consecutiveLocalOriginFailures", .int(o.consecutiveLocalOriginFailures)),
                    ("intervalMillis", millis(o.intervalNanos)),
                    ("baseEjectionTimeMillis", millis(o.baseEjectionNanos)),
                    ("maxEjectionTimeMillis", millis(o.maxEjectionNanos)),
                    ("maxEjectionPercent", .int(o.maxEjectionPercent)),
                    ("minHealthPercent", .int(o.minHealthPercent)),
                ])
            } ?? .null
            return .object([
                ("name", .string(rule.name)),
                ("namespace", .string(rule.namespace)),
                ("host", .string(rule.host.description)),
                ("connectionPool", .object([
                    ("tcp", .object([
                        ("maxConnections", .int(rule.limits.maxConnections)),
                        ("connectTimeoutMillis", rule.connectTimeoutNanos.map(millis) ?? .null),
                    ])),
                    ("http", .object([
                        ("http2MaxRequests", .int(rule.limits.maxRequests)),
                        ("http1MaxPendingRequests", .int(rule.limits.maxPendingRequests)),
                        ("maxRetries", .int(rule.limits.maxRetries)),
                        ("maxRequestsPerConnection", .int(rule.maxRequestsPerConnection)),
                        ("idleTimeoutMillis", rule.idleTimeoutNanos.map(millis) ?? .null),
                    ])),
                ])),
                ("outlierDetection", outlier),
                ("loadBalancer", .object([
                    ("simple", .string(rule.loadBalancer.rawValue)),
                    ("failoverPriority", .array(rule.failoverPriority.map(JSONValue.string))),
                ])),
            ])
        })
    }

    static func authorizationPolicies(_ policies: [AuthorizationPolicyRule]) -> JSONValue {
        .array(policies.map { policy in
            .object([
                ("name", .string(policy.name)),
                ("namespace", .string(policy.namespace)),
                ("targetRefs", .array(policy.targets.map { .string($0.description) })),
                ("action", .string(policy.action.rawValue)),
                ("rules", .array(policy.rules.map { rule in
                    .object([
                        ("from", .array(rule.from.map { source in
                            .object([
                                ("principals", .array(source.principals.map(JSONValue.string))),
                                ("namespaces", .array(source.namespaces.map(JSONValue.string))),
                            ])
                        })),
                        ("to", .array(rule.to.map { operation in
                            .object([
                                ("methods", .array(operation.methods.map(JSONValue.string))),
                                ("paths", .array(operation.paths.map(JSONValue.string))),
                            ])
                        })),
                    ])
                })),
            ])
        })
    }
}
