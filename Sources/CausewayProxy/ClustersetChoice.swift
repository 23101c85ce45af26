import CausewayMesh

/// balance, for a clusterset service: which cluster's service a request goes to.
///
/// The local cluster's member while it has a ready endpoint (traffic leaves the cluster
/// only when it must); otherwise the remote members in proportion to their weights (ready
/// endpoints each cluster publishes), skipping members with no reachable gateway. A
/// request that names a port goes only to clusters exporting it, when any cluster exports
/// that port (a Service port that differs from every endpoint port constrains nothing).
///
/// Loop-bound, one per clusterset service per worker.
final class ClustersetChoice {
    struct Member {
        let backend: BackendState
        let member: ClustersetMember
    }

    let members: [Member]
    private var picker: SmoothWeightedPicker

    init(members: [Member], picker: SmoothWeightedPicker?) {
        self.members = members
        // Keep the rotation across snapshots when the member list has the same length.
        self.picker = picker.flatMap { $0.count == members.count ? $0 : nil } ?? SmoothWeightedPicker(count: members.count)
    }

    /// The picker's state, handed to the next snapshot's choice.
    var pickerState: SmoothWeightedPicker { picker }

    /// The member backend for a request naming `port` (nil: none), or nil when no cluster
    /// can take it.
    func pick(port: UInt16?) -> BackendState? {
        let constrained = port != nil && members.contains { !$0.member.ports.isEmpty && $0.member.ports.contains(port!) }
        func eligible(_ m: Member) -> Bool {
            !m.backend.pools.isEmpty && (!constrained || m.member.serves(port: port))
        }
        if let local = members.first(where: { $0.member.isLocal }), eligible(local) { return local.backend }
        let index = picker.next(weight: { members[$0].member.isLocal ? 0 : members[$0].member.weight },
                                eligible: { eligible(members[$0]) })
        return index.map { members[$0].backend }
    }
}
