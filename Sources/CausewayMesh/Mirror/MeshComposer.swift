/// Builds the table workers route with from the configured services, the linked clusters'
/// mirrors and link health: the one place that decides what a mirrored or clusterset name
/// reaches.
///
/// Pure and deterministic: the same inputs give the same table, indexes included. Order of
/// the result: the configured services (their indexes unchanged), then stream-mirrored
/// services (by link order, then namespace and name), then clusterset services (by
/// namespace and name).
public enum MeshComposer {
    /// A linked cluster as composition needs it.
    public struct Link: Sendable, Equatable {
        public let cluster: String
        /// The cluster's gateway addresses: the endpoints of everything mirrored from it.
        public let gateways: [EndpointAddress]
        /// The SPIFFE ID its gateways must present.
        public let identity: String

        public init(cluster: String, gateways: [EndpointAddress], identity: String) {
            self.cluster = cluster
            self.gateways = gateways
            self.identity = identity
        }
    }

    /// Everything a table is composed of.
    public struct Input: Sendable {
        /// Services from configuration: local ones, and mirrors from static slice files.
        public var configured: ServiceTable
        /// This proxy's cluster.
        public var localCluster: String
        /// Linked clusters, in `Link` order (the order clusterset members are listed in).
        public var links: [Link]
        /// Mirrors kept from export streams, by cluster.
        public var mirrors: [String: ClusterMirror]
        /// Gateways the link prober finds unreachable.
        public var down: Set<EndpointAddress>
        /// Lease times for mirrors whose stream is lost.
        public var lease: ClusterMirror.LeasePolicy
        /// Now (monotonic ns), for the leases.
        public var now: UInt64

        public init(configured: ServiceTable, localCluster: String, links: [Link], mirrors: [String: ClusterMirror] = [:],
                    down: Set<EndpointAddress> = [], lease: ClusterMirror.LeasePolicy = .init(), now: UInt64 = 0) {
            self.configured = configured
            self.localCluster = localCluster
            self.links = links
            self.mirrors = mirrors
            self.down = down
            self.lease = lease
            self.now = now
        }
    }

    /// The composed table and what composition noticed (conflicting exports, names that do
    /// not fit, mirrors shadowed by static files): one line each, for the log and `/endpoints`.
    public struct Output: Sendable {
        public let table: ServiceTable
        public let notes: [String]
    }

    public static func compose(_ input: Input) -> Output {
        var notes: [String] = []
        var entries: [ServiceEntry] = input.configured.services.map { entry in
            guard entry.isMirrored, entry.readyEndpoints.contains(where: input.down.contains) else { return entry }
            return entry.withReadyEndpoints(entry.readyEndpoints.filter { !input.down.contains($0) })
        }
        var byKey: [ServiceKey: Int] = [:]
        for e in entries { byKey[e.key] = e.index }

        // Stream mirrors: one service per exported service per cluster, named `name-cluster`.
        for link in input.links {
            guard let mirror = input.mirrors[link.cluster] else { continue }
            let lease = mirror.lease(now: input.now, policy: input.lease)
            if lease == .expired { continue }
            let reachable = link.gateways.filter { !input.down.contains($0) }
            for item in mirror.sortedEntries {
                let remote = item.service.key
                let name = "\(remote.name)-\(link.cluster)"
                guard DNSLabel.isValid(name) else {
                    notes.append("\(remote) from \(link.cluster) is not mirrored: \"\(name)\" is longer than a DNS label (63 bytes)")
                    continue
                }
                let key = ServiceKey(namespace: remote.namespace, name: name)
                if let existing = byKey[key] {
                    let source = entries[existing].isMirrored ? "static EndpointSlice files" : "a local service of that name"
                    notes.append("\(key) is kept from \(source); \(link.cluster)'s export stream for it is ignored")
                    continue
                }
                let ready = item.service.readyEndpoints > 0 ? reachable : []
                let entry = ServiceEntry(
                    key: key, index: entries.count, readyEndpoints: ready, totalEndpoints: link.gateways.count,
                    sourceCluster: link.cluster, remoteName: remote, expectedIdentity: link.identity, ports: item.service.ports,
                    mirrorSource: .stream(.init(version: item.changedAt, exportedReadyEndpoints: item.service.readyEndpoints,
                                                stale: lease == .stale)))
                byKey[key] = entry.index
                entries.append(entry)
            }
        }

        // Clusterset services: the local export (if any) and every cluster's mirror of it.
        var members: [ServiceKey: [ClustersetMember]] = [:]
        for entry in entries {
            if entry.exported, !entry.isMirrored {
                members[entry.key.inClusterset, default: []].append(
                    ClustersetMember(service: entry.index, cluster: input.localCluster, isLocal: true,
                                     weight: entry.readyEndpoints.count, ports: entry.ports.map(\.port)))
            } else if let remote = entry.remoteName, let cluster = entry.sourceCluster {
                let weight: Int
                switch entry.mirrorSource {
                case .stream(let m): weight = m.exportedReadyEndpoints
                case .file, .none: weight = entry.readyEndpoints.isEmpty ? 0 : 1
                }
                members[remote.inClusterset, default: []].append(
                    ClustersetMember(service: entry.index, cluster: cluster, isLocal: false, weight: weight,
                                     ports: entry.ports.map(\.port)))
            }
        }
        let linkOrder = Dictionary(input.links.enumerated().map { ($1.cluster, $0) }, uniquingKeysWith: { a, _ in a })
        for key in members.keys.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            let list = members[key]!.sorted { a, b in
                if a.isLocal != b.isLocal { return a.isLocal }
                return (linkOrder[a.cluster] ?? Int.max, a.cluster) < (linkOrder[b.cluster] ?? Int.max, b.cluster)
            }
            if let conflict = portConflict(key, list, entries) { notes.append(conflict) }
            entries.append(ServiceEntry(key: key, index: entries.count, readyEndpoints: [], totalEndpoints: 0, members: list))
        }
        let table = ServiceTable(services: entries, defaultNamespace: input.configured.defaultNamespace,
                                 clusterDomain: input.configured.clusterDomain)
        return Output(table: table, notes: notes)
    }

    /// A note when the clusters exporting one service disagree on its ports or protocols.
    /// Each cluster still receives traffic only for the ports it exports.
    private static func portConflict(_ key: ServiceKey, _ list: [ClustersetMember], _ entries: [ServiceEntry]) -> String? {
        let declared = list.filter { !entries[$0.service].ports.isEmpty }
        guard let first = declared.first else { return nil }
        let reference = entries[first.service].ports
        guard declared.contains(where: { entries[$0.service].ports != reference }) else { return nil }
        let detail = declared.map { m in
            "\(m.cluster) exports \(entries[m.service].ports.map(\.description).joined(separator: ", "))"
        }
        return "conflicting exports of \(key): \(detail.joined(separator: "; ")); each cluster receives traffic only for the ports it exports"
    }
}
