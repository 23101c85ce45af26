import CausewayMesh

/// Removes unreachable gateways from mirrored services' endpoints, so requests for a
/// cluster whose link is lost fail fast with `503 no-healthy-upstream`.
enum HealthOverlay {
    static func apply(_ table: ServiceTable, down: Set<EndpointAddress>) -> ServiceTable {
        guard !down.isEmpty else { return table }
        let services = table.services.map { s -> ServiceEntry in
            guard s.isMirrored, s.readyEndpoints.contains(where: down.contains) else { return s }
            return ServiceEntry(
                key: s.key, index: s.index,
                readyEndpoints: s.readyEndpoints.filter { !down.contains($0) },
                totalEndpoints: s.totalEndpoints, sourceCluster: s.sourceCluster,
                remoteName: s.remoteName, expectedIdentity: s.expectedIdentity, exported: s.exported
            )
        }
        return ServiceTable(services: services, defaultNamespace: table.defaultNamespace, clusterDomain: table.clusterDomain)
    }
}
