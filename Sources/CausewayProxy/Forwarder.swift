import CausewayHTTP
import CausewayLoop
import CausewayMesh
import CausewayTLS

/// route → balance → forward for one worker: turns a new request into an upstream attempt
/// (or a proxy-made answer), and owns the worker's upstream pools and per-service state.
///
/// Loop-bound, owned by its `Worker`.
final class Forwarder {
    unowned(unsafe) let worker: Worker
    /// Client TLS sessions for resumption on pooled connections to remote gateways.
    let tlsSessionCache = TLSSessionCache()
    private var pools: [PoolKey: UpstreamPool] = [:]
    /// Per service, by index in the installed snapshot's table.
    private var backends: [BackendState] = []
    /// The same, by key: a retry finds its service again in a newer snapshot.
    private var backendsByKey: [ServiceKey: BackendState] = [:]

    init(worker: Worker) {
        self.worker = worker
    }

    /// Builds the per-service state of `snapshot`. Pools of endpoints still present are
    /// kept (with their connections); streams in flight keep the pools they hold.
    func install(_ snapshot: RoutingSnapshot) {
        var next: [BackendState] = []
        for service in snapshot.services.services {
            var list: [UpstreamPool] = []
            // A mirrored service's endpoints are its cluster's gateways, reached over mTLS.
            let identity = service.isMirrored ? service.expectedIdentity : nil
            let parsed = identity.flatMap { try? SPIFFEID(parsing: $0) }
            if identity != nil && parsed == nil {
                worker.log("service \(service.key): expected identity \(identity!) is not a SPIFFE ID; its endpoints are skipped")
            } else {
                for endpoint in service.readyEndpoints {
                    let key = PoolKey(endpoint: endpoint, identity: identity)
                    if let existing = pools[key] {
                        list.append(existing)
                    } else if let address = SocketAddress(ip: endpoint.host, port: endpoint.port) {
                        let pool = UpstreamPool(key: key, address: address, identity: parsed)
                        pools[key] = pool
                        list.append(pool)
                    }
                }
            }
            // Each worker starts its rotation at its own index so their first picks spread.
            let balancer = backendsByKey[service.key]?.balancer ?? RoundRobin(offset: worker.index)
            next.append(BackendState(key: service.key, pools: list, balancer: balancer,
                                     counters: worker.metrics.counters(for: service.key.description),
                                     remoteAuthority: service.remoteName.map { Array($0.description.utf8) },
                                     upstreamCluster: service.sourceCluster ?? snapshot.settings.cluster))
        }
        // Clusterset services pick among other services' state, built above.
        for service in snapshot.services.services where service.isClusterset {
            let members = service.members.map { ClustersetChoice.Member(backend: next[$0.service], member: $0) }
            next[service.index].clusterset = ClustersetChoice(
                members: members, picker: backendsByKey[service.key]?.clusterset?.pickerState)
        }
        backends = next
        backendsByKey = Dictionary(next.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        // Forget pools of endpoints that left the tables once their last connection closed.
        var live = Set<ObjectIdentifier>()
        for backend in next { for p in backend.pools { live.insert(ObjectIdentifier(p)) } }
        pools = pools.filter { live.contains(ObjectIdentifier($0.value)) || !$0.value.connections.isEmpty }
    }

    /// Routes a new request and submits it upstream, or answers it with a failure.
    func dispatch(_ stream: ProxyStream, headers: HeaderBlock) {
        let downstream = stream.downstream
        switch Route.decide(headers, in: worker.snapshot.services, role: downstream.role) {
        case .reject(let rejection):
            // The export stream is asked for by path, with any authority: checked only when
            // routing found nothing, so the request path pays nothing for it.
            if downstream.role == .gateway, let connection = downstream as? DownstreamConnection,
               ExportPublisher.isExportRequest(headers) {
                worker.publisher.attach(stream, on: connection)
                return
            }
            downstream.fail(stream, ProxyFailure(rejection))
        case .forward(let service):
            var backend = backends[service]
            if let clusterset = backend.clusterset {
                guard let member = clusterset.pick(port: Route.authorityPort(headers)) else {
                    stream.backend = backend
                    downstream.fail(stream, .noHealthyUpstream)
                    return
                }
                backend = member
            }
            stream.backend = backend
            if downstream.role == .sidecar && worker.settings.upstreamClusterHeader { stream.responseEdit = backend.upstreamClusterEdit }
            // The block is not copied: the edit is applied as nghttp2 takes the headers.
            stream.requestEdit = Route.edit(for: backend, role: downstream.role, forwardedClientCert: downstream.forwardedClientCert,
                                            headers: headers)
            balanceAndForward(stream, headers: headers, backend: backend, avoiding: nil)
        }
    }

    private func balanceAndForward(_ stream: ProxyStream, headers: HeaderBlock, backend: BackendState, avoiding: UpstreamPool?) {
        guard let pool = backend.pick(avoiding: avoiding) else {
            stream.downstream.fail(stream, .noHealthyUpstream)
            return
        }
        forward(stream, headers: headers, pool: pool)
    }

    /// forward: submits the request on a pooled connection to `pool`'s endpoint.
    private func forward(_ stream: ProxyStream, headers: HeaderBlock, pool: UpstreamPool) {
        // Keep the headers only while a replay is possible (no body to re-send).
        stream.requestHeaders = stream.requestEnded ? headers : nil
        // A connection whose session refuses the stream (ids exhausted) leaves the pool and
        // the request tries a fresh one once.
        for _ in 0..<2 {
            let connection: UpstreamConnection
            do {
                connection = try pool.acquire(worker: worker)
            } catch {
                worker.metrics.increment(.upstreamConnectFailures)
                worker.log("upstream \(pool.address): \(error)", limitedBy: "upstream-failure")
                stream.downstream.fail(stream, .upstreamConnectFailure)
                return
            }
            if connection.submit(stream, headers: headers) { return }
            connection.stopAcceptingStreams()
        }
        stream.downstream.fail(stream, .upstreamConnectFailure)
    }

    /// Opens a mirror subscription's stream to a linked gateway, on the pool requests to
    /// that gateway use (the same connections, the same mTLS identity check).
    func subscribe(_ stream: ProxyStream, headers: HeaderBlock, endpoint: EndpointAddress, identity: String) {
        let key = PoolKey(endpoint: endpoint, identity: identity)
        let pool: UpstreamPool
        if let existing = pools[key] {
            pool = existing
        } else {
            guard let address = SocketAddress(ip: endpoint.host, port: endpoint.port),
                  let parsed = try? SPIFFEID(parsing: identity) else {
                stream.downstream.fail(stream, .upstreamConnectFailure)
                return
            }
            pool = UpstreamPool(key: key, address: address, identity: parsed)
            pools[key] = pool
        }
        forward(stream, headers: headers, pool: pool)
    }

    /// Re-submits a request the upstream refused without processing it (GOAWAY above its
    /// last stream id) to the same service, preferring another endpoint, with the same
    /// headers and edit: the request is not routed again. Returns false if it cannot be
    /// retried (already retried, client gone, or the service left the tables).
    func retry(_ stream: ProxyStream, headers: HeaderBlock, refusedBy pool: UpstreamPool) -> Bool {
        guard !stream.retried, !stream.downstream.isClosed, let key = stream.backend?.key,
              let backend = backendsByKey[key] else { return false }
        stream.retried = true
        stream.state = .routing
        stream.backend = backend
        balanceAndForward(stream, headers: headers, backend: backend, avoiding: pool)
        return true
    }
}
