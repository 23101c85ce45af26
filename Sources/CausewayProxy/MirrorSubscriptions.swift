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
    /// Stream attempts of every subscription of this worker, numbered in one sequence: a
    /// subscription that replaces another (its link changed) keeps counting up, so the
    /// control thread never takes its streams for old ones.
    private var attempts = 0

    init(worker: Worker, sink: any MirrorEventSink) {
        self.worker = worker
        self.sink = sink
    }

    /// Starts subscriptions for new links, restarts those whose gateways or identity
    /// changed, stops those of removed links.
    func install(_ links: [MeshComposer.Link]) {
        var next: [String: MirrorSubscription] = [:]
        for link in links {
            if let existing = byCluster.removeValue(forKey: link.cluster) {
                if existing.link == link {
                    next[link.cluster] = existing
                    continue
                }
                existing.stop()
            }
            let subscription = MirrorSubscription(link: link, worker: worker, sink: sink, nextAttempt: { [unowned self] in
                attempts += 1
                return attempts
            })
            next[link.cluster] = subscription
            subscription.start()
        }
        for (_, gone) in byCluster { gone.stop() }
        byCluster = next
    }

    /// Reopens `cluster`'s stream for a fresh snapshot, if `attempt` is still its current one.
    func resync(cluster: String, attempt: Int) {
        byCluster[cluster]?.resync(attempt: attempt)
    }

    /// Stops every subscription (shutdown).
    func stopAll() {
        for (_, s) in byCluster { s.stop() }
        byCluster.removeAll()
    }
}
