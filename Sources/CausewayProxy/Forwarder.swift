import CausewayHTTP
import CausewayLoop
import CausewayMesh
import CausewayTLS

/// route → policy → balance → forward for one worker: turns a new request into an
/// upstream attempt (or a proxy-made answer), and owns the worker's upstream pools and
/// per-service state. Retries and timeouts are in `Forwarder+Attempts.swift`.
///
/// Loop-bound, owned by its `Worker`.
final class Forwarder {
    unowned(unsafe) let worker: Worker
    /// Client TLS sessions for resumption on pooled connections to remote gateways.
    let tlsSessionCache = TLSSessionCache()
    private var pools: [PoolKey: UpstreamPool] = [:]
    /// Per service, by index in the installed snapshot's table.
    private(set) var backends: [BackendState] = []
    /// The same, by key: a retry finds its service again in a newer snapshot.
    private(set) var backendsByKey: [ServiceKey: BackendState] = [:]
    /// Routes by parent service index (sidecar listeners).
    private(set) var routes: [RouteSet?] = []
    /// Jitter, least-request and tier draws.
    var random: SplitMix64

    init(worker: Worker) {
        self.worker = worker
        random = SplitMix64(seed: LogClock.monotonicNanos() &+ UInt64(worker.index) &* 0x9E37_79B9)
    }

    /// Builds the per-service state of `snapshot`. Pools of endpoints still present are
    /// kept (with their connections); streams in flight keep the pools they hold; breaker
    /// counts carry over, and ejections too while a service's endpoints stay the same.
    func install(_ snapshot: RoutingSnapshot) {
        let table = snapshot.services
        let policies = snapshot.policies
        var next: [BackendState] = []
        next.reserveCapacity(table.services.count)
        // A DestinationRule for a clusterset name applies to the services it spreads over
        // (each cluster's), unless one has its own.
        var inherited: [Int: DestinationPolicy] = [:]
        for service in table.services where service.isClusterset {
            guard policies.destinations.indices.contains(service.index), let rule = policies.destinations[service.index] else { continue }
            for member in service.members where inherited[member.service] == nil { inherited[member.service] = rule }
        }
        for service in table.services {
            var list: [UpstreamPool] = []
            // A mirrored service's endpoints are its cluster's gateways, reached over mTLS.
            let identity = service.isMirrored ? service.expectedIdentity : nil
            let parsed = identity.flatMap { try? SPIFFEID(parsing: $0) }
            if identity != nil && parsed == nil {
                worker.log("service \(service.key): expected identity \(identity!) is not a SPIFFE ID; its endpoints are skipped")
            } else {
                for endpoint in service.readyEndpoints {
                    let key = PoolKey(endpoint: endpoint, identity: identity,
                                      http1: identity == nil && !service.isMirrored && Self.speaksHTTP1(service, port: endpoint.port))
                    if let existing = pools[key] {
                        list.append(existing)
                    } else if let address = SocketAddress(ip: endpoint.host, port: endpoint.port) {
                        let pool = UpstreamPool(key: key, address: address, identity: parsed)
                        pools[key] = pool
                        list.append(pool)
                    }
                }
            }
            let previous = backendsByKey[service.key]
            let own = policies.destinations.indices.contains(service.index) ? policies.destinations[service.index] : nil
            let destination = own ?? inherited[service.index]
            let limits = destination?.limits ?? CircuitBreakerLimits()
            let load = previous?.load ?? ServiceLoad(limits: limits)
            load.breaker.limits = limits
            let outlierPolicy = destination?.outlierDetection ?? .passive
            var outlier: OutlierDetector?
            if let previous, previous.pools.count == list.count, zip(previous.pools, list).allSatisfy({ $0 === $1 }) {
                outlier = previous.outlier
                outlier?.policy = outlierPolicy
            }
            let authorizer = policies.authorizers.indices.contains(service.index) ? policies.authorizers[service.index] : nil
            // Each worker starts its rotation at its own index so their first picks spread.
            let balancer = previous?.balancer ?? RoundRobin(offset: worker.index)
            let counters = worker.metrics.counters(for: service.key.description)
            counters.upstreamCluster = service.isClusterset ? "" : service.sourceCluster ?? snapshot.settings.cluster
            next.append(BackendState(
                key: service.key, pools: list, balancer: balancer, counters: counters,
                remoteAuthority: service.remoteName.map { Array($0.description.utf8) },
                upstreamCluster: service.sourceCluster ?? snapshot.settings.cluster, load: load, outlier: outlier,
                destination: destination, authorizer: authorizer,
                authorizerCacheable: authorizer.map { _ in Self.callerOnly(snapshot.policies, service: service.key) } ?? true,
                totalEndpoints: service.totalEndpoints))
        }
        // Clusterset services pick among other services' state, built above.
        for service in table.services where service.isClusterset {
            let members = service.members.map { ClustersetChoice.Member(backend: next[$0.service], member: $0) }
            next[service.index].clusterset = ClustersetChoice(
                members: members, failoverPriority: next[service.index].destination?.failoverPriority ?? [],
                picker: backendsByKey[service.key]?.clusterset?.pickerState)
        }
        // Splits keep their rotation across snapshots while a rule's weights stay the same.
        var previousRoutes: [ServiceKey: RouteSet] = [:]
        for (index, set) in routes.enumerated() where set != nil && index < backends.count { previousRoutes[backends[index].key] = set }
        routes = table.services.indices.map { index in
            guard policies.routes.indices.contains(index), let set = policies.routes[index] else { return nil }
            return RouteSet(set, table: table, metrics: worker.metrics, previous: previousRoutes[table.services[index].key])
        }
        backends = next
        backendsByKey = Dictionary(next.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        // Forget pools of endpoints that left the tables once their last connection closed.
        var live = Set<ObjectIdentifier>()
        for backend in next { for p in backend.pools { live.insert(ObjectIdentifier(p)) } }
        pools = pools.filter { live.contains(ObjectIdentifier($0.value)) || $0.value.hasConnections }
    }

    /// True when `service`'s endpoints on `port` take HTTP/1.1: the port's `appProtocol`
    /// is `http` or `http/1.1`. Absent means h2c (decision 0011), as `kubernetes.io/h2c`.
    static func speaksHTTP1(_ service: ServiceEntry, port: UInt16) -> Bool {
        guard let proto = service.ports.first(where: { $0.port == port })?.appProtocol?.lowercased() else { return false }
        return proto == "http" || proto == "http/1.1"
    }

    /// True when no policy targeting `service` has `to` rules: its verdict depends on the
    /// caller alone and may be cached per connection.
    private static func callerOnly(_ policies: PolicyTable, service: ServiceKey) -> Bool {
        policies.operationFree.contains(service)
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
            var target = service
            if downstream.role == .gateway, !authorize(stream, headers: headers, service: service) { return }
            if downstream.role == .sidecar, let set = routes[service] {
                guard let choice = set.choose(headers) else {
                    stream.backend = backends[service]
                    downstream.fail(stream, .noRuleMatched)
                    return
                }
                stream.rule = choice.rule
                stream.routeCounters = choice.counters
                guard let backendService = choice.service else {
                    stream.backend = backends[service]
                    downstream.fail(stream, .noHealthyUpstream)
                    return
                }
                target = backendService
                armRequestTimer(stream)
            }
            var backend = backends[target]
            if let clusterset = backend.clusterset {
                guard let member = clusterset.pick(port: Route.authorityPort(headers), random: &random) else {
                    stream.backend = backend
                    downstream.fail(stream, .noHealthyUpstream)
                    return
                }
                stream.clusterset = backend
                backend = member
            }
            stream.backend = backend
            // Kept for retries (the block is already allocated: this holds, not copies, it).
            stream.requestHeaders = headers
            guard admit(stream, to: backend) else { return }
            startAttempt(stream, headers: headers, backend: backend, avoiding: nil)
        }
    }

    /// Gateway: the AuthorizationPolicies of `service` against the caller's identity.
    /// False (after answering `403 denied`) when denied.
    private func authorize(_ stream: ProxyStream, headers: HeaderBlock, service: Int) -> Bool {
        let backend = backends[service]
        guard let authorizer = backend.authorizer, let connection = stream.downstream as? DownstreamConnection else { return true }
        let verdict: Authorizer.Verdict
        if backend.authorizerCacheable, let cached = connection.cachedVerdict(service: service, version: worker.snapshot.version) {
            verdict = cached
        } else {
            let (method, path, _) = headers.firstIndices(of: ":method", ":path", ":path")
            verdict = Self.withValue(headers, method) { m in
                Self.withValue(headers, path) { p in authorizer.evaluate(principal: connection.peerIdentity, method: m, path: p) }
            }
            if backend.authorizerCacheable { connection.cacheVerdict(verdict, service: service, version: worker.snapshot.version) }
        }
        guard case .denied(let policy) = verdict else { return true }
        worker.metrics.authzDenied[policy, default: 0] &+= 1
        stream.backend = backend
        stream.downstream.fail(stream, .denied)
        return false
    }

    private static func withValue<R>(_ headers: HeaderBlock, _ index: Int?, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let index else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return headers.withValue(at: index) { body($0) }
    }

    /// Takes a `requests` unit of the backend's breaker for the stream; answers
    /// `503 overflow` (counted) when the service is at its limit.
    private func admit(_ stream: ProxyStream, to backend: BackendState) -> Bool {
        guard backend.load.breaker.tryAcquire(.requests) else {
            worker.metrics.increment(.upstreamRequestOverflows)
            stream.downstream.fail(stream, .overflow)
            return false
        }
        backend.load.activeRequests += 1
        stream.holdsRequest = true
        stream.heldBackend = backend
        return true
    }

    /// balance, then forward: one attempt on an endpoint of `backend`, preferring another
    /// than `avoiding`.
    func startAttempt(_ stream: ProxyStream, headers: HeaderBlock, backend: BackendState, avoiding: UpstreamPool?) {
        stream.backend = backend
        // Edits follow the backend (a retry may move to another cluster of a clusterset).
        stream.requestEdit = Route.edit(for: backend, role: stream.downstream.role,
                                        forwardedClientCert: stream.downstream.forwardedClientCert, headers: headers)
        guard let host = backend.pickHost(avoiding: avoiding, random: &random) else {
            stream.downstream.fail(stream, .noHealthyUpstream)
            return
        }
        stream.host = host
        stream.access?.upstreamCluster = backend.upstreamCluster
        forward(stream, headers: headers, pool: backend.pools[host])
    }

    /// forward: submits the request on a pooled connection to `pool`'s endpoint.
    private func forward(_ stream: ProxyStream, headers: HeaderBlock, pool: UpstreamPool) {
        if pool.speaksHTTP1 {
            forwardHTTP1(stream, headers: headers, pool: pool)
            return
        }
        // A connection whose session refuses the stream (ids exhausted) leaves the pool and
        // the request tries a fresh one once.
        for _ in 0..<2 {
            guard let connection = pooledConnection(for: stream, pool: pool, { () throws(SystemError) in
                try pool.acquire(worker: worker, for: stream.backend)
            }) else { return }
            if connection.submit(stream, headers: headers) {
                attemptStarted(stream, pool: pool)
                return
            }
            releasePending(stream)
            connection.stopAcceptingStreams()
        }
        Relay.upstreamFailed(stream, .upstreamConnectFailure, connection: nil, pool: pool)
    }

    /// A connection for `stream`'s attempt from `acquire`, holding the `pending` breaker
    /// unit while it is still connecting (`http1MaxPendingRequests`); nil when the stream was
    /// answered instead (connect failure, a `maxConnections` or `pending` overflow). Both
    /// protocols' forward stages start here.
    func pooledConnection<C: PooledUpstreamConnection>(for stream: ProxyStream, pool: UpstreamPool,
                                                       _ acquire: () throws(SystemError) -> C?) -> C? {
        let acquired: C?
        do {
            acquired = try acquire()
        } catch {
            worker.metrics.increment(.upstreamConnectFailures)
            worker.log("upstream \(pool.address): \(error)", limitedBy: "upstream-failure")
            Relay.upstreamFailed(stream, .upstreamConnectFailure, connection: nil, pool: pool)
            return nil
        }
        guard let connection = acquired else {
            // maxConnections reached with no connection open to this endpoint.
            Relay.upstreamFailed(stream, .overflow, connection: nil, pool: pool)
            return nil
        }
        if !connection.isReady, let load = stream.backend?.load {
            guard load.breaker.tryAcquire(.pending) else {
                worker.metrics.increment(.pendingOverflows)
                Relay.upstreamFailed(stream, .overflow, connection: nil, pool: pool)
                return nil
            }
            stream.pendingLoad = load
        }
        return connection
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
}
