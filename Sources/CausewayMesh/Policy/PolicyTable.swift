/// The traffic policies of one routing snapshot, resolved against its service table: per
/// service index, the routes attached to it (with each backend's service index), its
/// destination rule and its authorizer. Built by the control thread with each table, so a
/// backend that appears later (through mirroring) is picked up by the next snapshot.
public struct PolicyTable: Sendable {
    /// The routes attached to one parent Service, and where each backend resolves.
    public struct Routes: Sendable {
        public let compiled: CompiledRoutes
        /// `[route][rule][backend]`: the backend's service index, or nil when it names no
        /// known service (requests that pick it get `503 no-healthy-upstream`).
        public let backends: [[[Int?]]]
    }

    /// By service index (`nil`: none applies).
    public let routes: [Routes?]
    public let destinations: [DestinationPolicy?]
    public let authorizers: [Authorizer?]
    /// Services whose AuthorizationPolicies have no `to` rules: the verdict depends on the
    /// caller alone, so a gateway caches it per connection.
    public let operationFree: Set<ServiceKey>
    /// What compilation noticed: backends naming no known service, policies whose target
    /// is unknown. One line each, for the log and `/config`.
    public let notes: [String]

    /// No policy at all, for `count` services.
    public static func empty(count: Int) -> PolicyTable {
        PolicyTable(routes: Array(repeating: nil, count: count), destinations: Array(repeating: nil, count: count),
                    authorizers: Array(repeating: nil, count: count), operationFree: [], notes: [])
    }

    private init(routes: [Routes?], destinations: [DestinationPolicy?], authorizers: [Authorizer?], operationFree: Set<ServiceKey>,
                 notes: [String]) {
        self.routes = routes
        self.destinations = destinations
        self.authorizers = authorizers
        self.operationFree = operationFree
        self.notes = notes
    }

    /// Resolves `policies` against `table`.
    public static func compile(_ policies: TrafficPolicies, table: ServiceTable) -> PolicyTable {
        let count = table.services.count
        var notes: [String] = []

        var attached: [Int: [HTTPRoutePolicy]] = [:]
        for route in policies.routes {
            for parent in route.parents {
                guard let index = table.index(of: parent) else {
                    notes.append("HTTPRoute \(route.id): parent Service \(parent) is not known (yet); the route waits for it")
                    continue
                }
                attached[index, default: []].append(route)
            }
        }
        var routes = [Routes?](repeating: nil, count: count)
        for (index, list) in attached {
            let compiled = CompiledRoutes(list)
            let backends = compiled.routes.map { route in
                route.rules.map { rule in
                    rule.backends.map { backend -> Int? in
                        let resolved = table.index(of: backend.service)
                        if resolved == nil {
                            notes.append("HTTPRoute \(route.id): backendRef \(backend.service) names no known Service (it may appear through mirroring); requests that pick it get 503 no-healthy-upstream")
                        }
                        return resolved
                    }
                }
            }
            routes[index] = Routes(compiled: compiled, backends: backends)
        }

        var destinations = [DestinationPolicy?](repeating: nil, count: count)
        for rule in policies.destinations {
            guard let index = table.index(of: rule.host) else {
                notes.append("DestinationRule \(rule.id): host \(rule.host) is not known (yet); it applies once it is")
                continue
            }
            destinations[index] = rule
        }

        var targeted: [Int: [AuthorizationPolicyRule]] = [:]
        for policy in policies.authorizations {
            for target in policy.targets {
                guard let index = table.index(of: target) else {
                    notes.append("AuthorizationPolicy \(policy.id): target Service \(target) is not known")
                    continue
                }
                targeted[index, default: []].append(policy)
            }
        }
        var authorizers = [Authorizer?](repeating: nil, count: count)
        var operationFree = Set<ServiceKey>()
        for (index, list) in targeted {
            authorizers[index] = Authorizer(policies: list)
            if list.allSatisfy({ $0.rules.allSatisfy { $0.to.isEmpty } }) { operationFree.insert(table.services[index].key) }
        }

        return PolicyTable(routes: routes, destinations: destinations, authorizers: authorizers, operationFree: operationFree,
                           notes: Array(Set(notes)).sorted())
    }
}
