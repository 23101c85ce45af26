/// One Service a gateway exports, as it publishes it to linked clusters: its name, ports
/// and how many of its endpoints are ready. Never an endpoint address: a linked cluster
/// reaches the service through the gateway, so pod addresses stay inside the cluster.
public struct ExportedService: Hashable, Sendable {
    /// The service in its own cluster (cluster domain).
    public let key: ServiceKey
    /// Its ports, sorted.
    public let ports: [ServicePort]
    /// Ready endpoints behind the gateway now; 0 means the cluster cannot serve it.
    public let readyEndpoints: Int

    public init(key: ServiceKey, ports: [ServicePort], readyEndpoints: Int) {
        precondition(!key.clusterset, "a gateway exports services of its own cluster")
        precondition(readyEndpoints >= 0, "ready endpoint count must not be negative")
        self.key = key
        self.ports = ports.sorted()
        self.readyEndpoints = readyEndpoints
    }
}

/// What one gateway publishes: its exported services at a version.
///
/// The version grows by one each time the services change (the control thread keeps the
/// previous table and compares), so a subscriber can tell an update it missed from one it
/// has. Immutable; workers hold it in their routing snapshot.
public struct ExportTable: Sendable, Equatable {
    /// Sorted by namespace, then name; keys unique.
    public let services: [ExportedService]
    /// 1 for the first table a process publishes.
    public let version: UInt64

    /// Sorts `services`. - Precondition: keys are unique.
    public init(services: [ExportedService], version: UInt64) {
        let sorted = services.sorted { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }
        for i in sorted.indices.dropFirst() {
            precondition(sorted[i - 1].key != sorted[i].key, "service \(sorted[i].key) is exported twice")
        }
        self.services = sorted
        self.version = version
    }

    /// An empty table at version 1.
    public static let empty = ExportTable(services: [], version: 1)

    /// The table that follows this one when the services become `services`: the same
    /// table if nothing changed, else the next version.
    public func next(_ services: [ExportedService]) -> ExportTable {
        let candidate = ExportTable(services: services, version: version)
        return candidate.services == self.services ? self : ExportTable(services: services, version: version + 1)
    }

    /// What changed from `older` to this table: services added or changed, and keys removed.
    public func changes(since older: ExportTable) -> (upserts: [ExportedService], removals: [ServiceKey]) {
        var before: [ServiceKey: ExportedService] = [:]
        for s in older.services { before[s.key] = s }
        var upserts: [ExportedService] = []
        for s in services {
            if before.removeValue(forKey: s.key) != s { upserts.append(s) }
        }
        let removals = before.keys.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        return (upserts, removals)
    }
}
