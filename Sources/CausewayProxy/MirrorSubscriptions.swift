import CausewayMesh

/// The worker's export stream subscriptions, one per linked cluster, kept in step with the
/// links of each installed snapshot. Only one worker subscribes (worker 0): one stream per
/// link is enough, and the control thread merges nothing.
///
/// Loop-bound, owned by its `Worker`.
final class MirrorSubscriptions {
    unowned(unsafe) let worker: Worker
    private let sink: any MirrorEventSink
    private var byCluster: [String: MirrorSubscription] = [:]

    init(worker: Worker, sink: any MirrorEventSink) {
        self.worker = worker
        self.sink = sink
    }

    /// Starts subscriptions for new links, restarts those whose gateways or identity
    /// changed, stops those of removed links.
    func install(_ links: [MeshComposer.Link]) {
        var next: [String: MirrorSubscription] = [:]
        for link in links {
            if let existing = byCluster.removeValue(forKey: link.cluster), existing.link == link {
                next[link.cluster] = existing
                continue
            } else if let changed = byCluster.removeValue(forKey: link.cluster) {
                changed.stop()
            }
            let subscription = MirrorSubscription(link: link, worker: worker, sink: sink)
            next[link.cluster] = subscription
            subscription.start()
        }
        for (_, gone) in byCluster { gone.stop() }
        byCluster = next
    }

    /// Reopens `cluster`'s stream for a fresh snapshot.
    func resync(cluster: String) {
        byCluster[cluster]?.resync()
    }

    /// Stops every subscription (shutdown).
    func stopAll() {
        for (_, s) in byCluster { s.stop() }
        byCluster.removeAll()
    }
}
