import CausewayMesh

/// The checks on traffic policy resources that need all of them in view (an object defined
/// twice, two DestinationRules for one Service), and the final `TrafficPolicies`, each list
/// sorted by namespace, then name.
enum PolicyChecks {
    /// - Returns: the policies, and each route's `parentRefs` as written by route id
    ///   (`namespace/name`), for `/config`.
    static func check(
        routes: [HTTPRouteDocument.Draft], destinations: [DestinationRuleDocument.Draft],
        authorizations: [AuthorizationPolicyDocument.Draft], log: ProblemLog
    ) -> (policies: TrafficPolicies, routeParentRefs: [String: [RouteParentRef]]) {
        var policies = TrafficPolicies()

        var routeParentRefs: [String: [RouteParentRef]] = [:]
        for draft in unique(routes, kind: "HTTPRoute", origin: \.origin, log: log) {
            guard let route = draft.route else { continue }
            policies.routes.append(route)
            routeParentRefs[route.id] = draft.parentRefs
        }

        var byHost: [ServiceKey: DestinationRuleDocument.Draft] = [:]
        for draft in unique(destinations, kind: "DestinationRule", origin: \.origin, log: log) {
            guard let host = draft.host else { continue }
            if let first = byHost[host] {
                log.report(file: draft.origin.file, at: draft.hostMark, field: "spec.host",
                           "\(host) already has a DestinationRule, \(first.origin.id) at \(problemLocation(first.origin.file, first.hostMark)); "
                               + "a Service has at most one: merge them")
                continue
            }
            byHost[host] = draft
            if let rule = draft.rule { policies.destinations.append(rule) }
        }

        let uniqueAuthorizations = unique(authorizations, kind: "AuthorizationPolicy", origin: \.origin, log: log)
        policies.authorizations = uniqueAuthorizations.compactMap(\.policy)

        policies.routes.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        policies.destinations.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        policies.authorizations.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        return (policies, routeParentRefs)
    }

    /// The drafts whose `namespace/name` is not taken by an earlier one; each later one is
    /// reported at its `metadata.name`, naming the first.
    private static func unique<Draft>(
        _ drafts: [Draft], kind: String, origin: KeyPath<Draft, PolicyReading.Origin>, log: ProblemLog
    ) -> [Draft] {
        var first: [String: PolicyReading.Origin] = [:]
        var kept: [Draft] = []
        for draft in drafts {
            let o = draft[keyPath: origin]
            if let earlier = first[o.id] {
                log.report(file: o.file, at: o.nameMark, field: "metadata.name",
                           "\(kind) \(o.id) is defined twice; the first is at \(earlier.location)")
                continue
            }
            first[o.id] = o
            kept.append(draft)
        }
        return kept
    }
}
