import CausewayMesh

/// balance, for a clusterset service: which cluster's service a request goes to.
///
/// Clusters are tiered by locality: the local cluster first, then the remote clusters —
/// in the order of the DestinationRule's `failoverPriority` (each its own tier; clusters it
/// does not list share a last tier), else all in one tier. Traffic spills from a tier to the
/// next as its healthy share drops, with Envoy's overprovisioning factor 1.4
/// (`PriorityLoad`): a local cluster with 72% of its endpoints healthy keeps everything, one
/// with 50% keeps 70%. Health comes from readiness, link probes (a cluster whose gateways
/// are down has no ready endpoint) and ejections, so failover needs no `outlierDetection`.
/// Within a remote tier, clusters share by the ready endpoints each publishes (smooth
/// weighted round robin). A request that names a port goes only to clusters exporting it,
/// when any cluster exports that port. A retry avoids the cluster that just failed when
/// another can take it.
///
/// Loop-bound, one per clusterset service per worker.
final class ClustersetChoice {
    struct Member {
        let backend: BackendState
        let member: ClustersetMember
    }

    let members: [Member]
    /// Tier of each member (0: local).
    private let tierOf: [Int]
    private let tierCount: Int
    private var picker: SmoothWeightedPicker

    init(members: [Member], failoverPriority: [String], picker: SmoothWeightedPicker?) {
        self.members = members
        var tiers: [Int] = []
        var count = 1
        if failoverPriority.isEmpty {
            tiers = members.map { $0.member.isLocal ? 0 : 1 }
            count = members.contains { !$0.member.isLocal } ? 2 : 1
        } else {
            let listed = Dictionary(failoverPriority.enumerated().map { ($1, $0 + 1) }, uniquingKeysWith: { a, _ in a })
            tiers = members.map { $0.member.isLocal ? 0 : listed[$0.member.cluster] ?? failoverPriority.count + 1 }
            count = (tiers.max() ?? 0) + 1
        }
        self.tierOf = tiers
        self.tierCount = count
        // Keep the rotation across snapshots when the member list has the same length.
        self.picker = picker.flatMap { $0.count == members.count ? $0 : nil } ?? SmoothWeightedPicker(count: members.count)
    }

    /// The picker's state, handed to the next snapshot's choice.
    var pickerState: SmoothWeightedPicker { picker }

    /// The member backend for a request naming `port` (nil: none), or nil when no cluster
    /// can take it. `avoiding`: the backend of a failed attempt (a retry).
    func pick(port: UInt16?, random: inout SplitMix64, avoiding: BackendState? = nil) -> BackendState? {
        let constrained = port != nil && members.contains { !$0.member.ports.isEmpty && $0.member.ports.contains(port!) }
        func eligible(_ i: Int, strict: Bool) -> Bool {
            let m = members[i]
            if m.backend.pools.isEmpty || m.backend.healthyHosts == 0 { return false }
            if constrained && !m.member.serves(port: port) { return false }
            if strict, let avoiding, m.backend === avoiding { return false }
            return true
        }
        var strict = avoiding != nil
        if strict && !members.indices.contains(where: { eligible($0, strict: true) }) { strict = false }

        let loads = tierLoads { eligible($0, strict: strict) }
        let draw = Double(random.next() >> 11) / Double(UInt64(1) << 53)
        guard let tier = PriorityLoad.pick(loads, random: draw) else { return nil }
        if tier == 0, let local = members.indices.first(where: { members[$0].member.isLocal && eligible($0, strict: strict) }) {
            return members[local].backend
        }
        let index = picker.next(weight: { self.tierOf[$0] == tier ? self.members[$0].member.weight : 0 },
                                eligible: { eligible($0, strict: strict) })
        return index.map { members[$0].backend }
    }

    /// The share of traffic each tier takes now (`PriorityLoad`), given which members are
    /// eligible.
    func tierLoads(eligible: (Int) -> Bool) -> [Double] {
        var healthy = [Int](repeating: 0, count: tierCount)
        var total = [Int](repeating: 0, count: tierCount)
        for i in members.indices {
            let m = members[i], tier = tierOf[i]
            if m.member.isLocal {
                // The local cluster's share follows its healthy endpoints.
                total[tier] += max(1, m.backend.totalEndpoints)
                if eligible(i) { healthy[tier] += m.backend.healthyHosts }
            } else {
                // A remote cluster is healthy or not as a whole: its gateway answers for it.
                total[tier] += 1
                if eligible(i) && m.member.weight > 0 { healthy[tier] += 1 }
            }
        }
        return PriorityLoad.loads(healthy: healthy, total: total)
    }

    /// For `/route`: the tier loads of a request naming no port.
    var tierLoads: [Double] {
        tierLoads { !members[$0].backend.pools.isEmpty && members[$0].backend.healthyHosts > 0 }
    }

    /// For `/route`: each member with its tier.
    var tiers: [(cluster: String, tier: Int, weight: Int, ready: Bool)] {
        members.indices.map { (members[$0].member.cluster, tierOf[$0], members[$0].member.weight, !members[$0].backend.pools.isEmpty) }
    }
}
