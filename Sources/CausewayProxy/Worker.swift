#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayMesh
import CausewayTLS

/// One event-loop thread's share of the proxy: its listeners, downstream connections,
/// upstream pools, balancer state and counters. Nothing here is shared with another
/// worker, so the request path takes no lock; other threads talk to it through
/// `WorkerHandle`, which posts messages to its loop.
public final class Worker {
    let loop: EventLoop
    let index: Int
    private(set) var snapshot: RoutingSnapshot
    var settings: ProxySettings { snapshot.settings }
    let metrics = WorkerMetrics()
    /// Read buffer shared by every connection on this loop: bytes are fully handled
    /// (copied into stream queues or dropped) before the next read.
    let readBuffer: UnsafeMutableRawBufferPointer
    /// Decrypted bytes of TLS connections, used the same way as `readBuffer`.
    let plaintextBuffer: UnsafeMutableRawBufferPointer
    /// Client TLS sessions for resumption on pooled connections to remote gateways.
    let tlsSessionCache = TLSSessionCache()
    private var pools: [PoolKey: UpstreamPool] = [:]
    /// Per service (by snapshot index): resolved endpoint pools, in the table's order.
    private var servicePools: [[UpstreamPool]] = []
    private var serviceCounters: [ServiceCounters] = []
    /// Per service: the `:authority` to send for a mirrored service (its name in the source
    /// cluster), as bytes; nil for local services.
    private var remoteAuthorities: [[UInt8]?] = []
    private var balancers: [RoundRobin] = []
    private var downstreams: [ObjectIdentifier: DownstreamConnection] = [:]
    /// Every open upstream connection, pooled or draining, for shutdown.
    private var upstreams: [ObjectIdentifier: UpstreamConnection] = [:]
    private var acceptors: [Acceptor] = []
    private var spareEvents: [H2Event] = []

    init(loop: EventLoop, index: Int, snapshot: RoutingSnapshot) {
        self.loop = loop
        self.index = index
        self.snapshot = snapshot
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        plaintextBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        install(snapshot)
        scheduleSweep()
    }

    /// Once a second: close client connections idle past the idle timeout (with GOAWAY)
    /// and gateway clients that have not finished their TLS handshake in time. One timer
    /// per worker instead of one per connection keeps the request path free of timer work.
    private func scheduleSweep() {
        loop.schedule(after: 1_000_000_000) { [self] in
            sweep()
            scheduleSweep()
        }
    }

    private func sweep() {
        let now = loop.now
        for (_, c) in downstreams {
            if !c.secured, now &- c.acceptedAt > settings.handshakeTimeoutNanos {
                metrics.tlsFailures[.init(side: "downstream", reason: "handshake-timeout"), default: 0] &+= 1
                c.close(reason: "tls handshake timed out")
            } else if c.activeStreams == 0 {
                if now &- c.idleSince > settings.downstreamIdleTimeoutNanos { c.drain() } else { c.trimIdleMemory() }
            }
        }
        for (_, c) in upstreams where c.activeStreams == 0 { c.trimIdleMemory() }
    }

    deinit {
        readBuffer.deallocate()
        plaintextBuffer.deallocate()
    }

    // MARK: Configuration

    /// Switches to a new snapshot. Streams in flight keep the pools they hold.
    func install(_ new: RoutingSnapshot) {
        snapshot = new
        var nextPools: [[UpstreamPool]] = []
        var nextCounters: [ServiceCounters] = []
        for service in new.services.services {
            var list: [UpstreamPool] = []
            // A mirrored service's endpoints are its cluster's gateways, reached over mTLS.
            let identity = service.isMirrored ? service.expectedIdentity : nil
            for endpoint in service.readyEndpoints {
                let key = PoolKey(endpoint: endpoint, identity: identity)
                if let existing = pools[key] {
                    list.append(existing)
                } else if let address = SocketAddress(ip: endpoint.host, port: endpoint.port) {
                    let parsed = identity.flatMap { try? SPIFFEID(parsing: $0) }
                    if identity != nil && parsed == nil {
                        log("service \(service.key): expected identity \(identity!) is not a SPIFFE ID; endpoint \(endpoint) skipped")
                        continue
                    }
                    let pool = UpstreamPool(key: key, address: address, identity: parsed)
                    pools[key] = pool
                    list.append(pool)
                }
            }
            nextPools.append(list)
            nextCounters.append(metrics.counters(for: service.key.description))
        }
        servicePools = nextPools
        serviceCounters = nextCounters
        remoteAuthorities = new.services.services.map { $0.remoteName.map { Array($0.description.utf8) } }
        // Forget pools of endpoints that left the tables once their last connection closed.
        var live = Set<ObjectIdentifier>()
        for list in nextPools { for p in list { live.insert(ObjectIdentifier(p)) } }
        pools = pools.filter { live.contains(ObjectIdentifier($0.value)) || !$0.value.connections.isEmpty }
        // Each worker starts its rotation at its own index so their first picks spread.
        if balancers.count != nextPools.count { balancers = Array(repeating: RoundRobin(offset: index), count: nextPools.count) }
    }

    // MARK: The request pipeline

    /// Routes a new request and submits it upstream, or answers it with a failure.
    func dispatch(_ stream: ProxyStream, headers: HeaderBlock) {
        // route: :authority (or host) → service. A gateway sees exported services only,
        // and answers unknown and unexported names alike so it reveals nothing.
        let table = snapshot.services
        let gateway = stream.downstream.role == .gateway
        let service = Self.resolve(headers, in: table, exportedOnly: gateway)
        guard let serviceIndex = service else {
            let hasAuthority = headers.firstIndex(of: ":authority") != nil || headers.firstIndex(of: "host") != nil
            stream.downstream.fail(stream, !hasAuthority ? .missingAuthority : gateway ? .notExported : .noRoute)
            return
        }
        stream.counters = serviceCounters[serviceIndex]
        let entry = table.services[serviceIndex]
        stream.serviceIndex = serviceIndex
        stream.serviceKey = entry.key
        // The block is not copied: the edit is applied as nghttp2 takes the headers.
        if gateway {
            stream.requestEdit = RequestRewrite.forwardedClientCert(stream.downstream.forwardedClientCert)
        } else if let remote = remoteAuthorities[serviceIndex] {
            stream.requestEdit = RequestRewrite.authority(remote)
        }
        balanceAndForward(stream, headers: headers, avoiding: nil)
    }

    /// balance: round-robin over the service's ready endpoints (skipping `avoiding` when
    /// another is available), then forward.
    private func balanceAndForward(_ stream: ProxyStream, headers: HeaderBlock, avoiding: UpstreamPool?) {
        let candidates = servicePools[stream.serviceIndex]
        guard var pick = balancers[stream.serviceIndex].next(count: candidates.count) else {
            stream.downstream.fail(stream, .noHealthyUpstream)
            return
        }
        if let avoiding, candidates[pick] === avoiding, candidates.count > 1 {
            pick = balancers[stream.serviceIndex].next(count: candidates.count) ?? pick
        }
        forward(stream, headers: headers, pool: candidates[pick])
    }

    /// The service `:authority` (else `host`) names; closures are passed inline so the
    /// lookup allocates nothing.
    private static func resolve(_ headers: HeaderBlock, in table: ServiceTable, exportedOnly: Bool) -> Int? {
        if let found = headers.withValue(of: ":authority", {
            exportedOnly ? table.resolveExported(authority: $0) : table.resolve(authority: $0)
        }) {
            return found
        }
        return headers.withValue(of: "host") {
            exportedOnly ? table.resolveExported(authority: $0) : table.resolve(authority: $0)
        } ?? nil
    }

    /// Submits the request on a pooled connection to `pool`'s endpoint.
    private func forward(_ stream: ProxyStream, headers: HeaderBlock, pool: UpstreamPool) {
        // Keep the headers only while a replay is possible (no body to re-send).
        stream.requestHeaders = stream.requestEnded ? headers : nil
        // A connection whose session refuses the stream (ids exhausted) leaves the pool and
        // the request tries a fresh one once.
        for _ in 0..<2 {
            let connection: UpstreamConnection
            do {
                connection = try pool.acquire(worker: self)
            } catch {
                metrics.upstreamConnectFailures &+= 1
                log("upstream \(pool.address): \(error)")
                stream.downstream.fail(stream, .upstreamConnectFailure)
                return
            }
            if connection.submit(stream, headers: headers) { return }
            connection.stopAcceptingStreams()
        }
        stream.downstream.fail(stream, .upstreamConnectFailure)
    }

    /// Re-submits a request the upstream refused without processing it (GOAWAY above its
    /// last stream id) to the same service, preferring another endpoint, with the same
    /// headers and edit: the request is not routed again.
    /// Returns false if it cannot be retried.
    func retry(_ stream: ProxyStream, headers: HeaderBlock, refusedBy pool: UpstreamPool) -> Bool {
        guard !stream.retried, !stream.downstream.isClosed, let key = stream.serviceKey else { return false }
        // The snapshot may have changed since the request was routed.
        let services = snapshot.services.services
        guard stream.serviceIndex < services.count, services[stream.serviceIndex].key == key else { return false }
        stream.retried = true
        stream.state = .routing
        balanceAndForward(stream, headers: headers, avoiding: pool)
        return true
    }

    // MARK: Connections

    /// Starts accepting on a listening socket opened by the control thread.
    func addListener(_ listener: ListenerSpec) throws(SystemError) {
        let acceptor = Acceptor(worker: self, fd: listener.fd, role: listener.role)
        try loop.register(listener.fd, handler: acceptor, interest: .read)
        acceptors.append(acceptor)
    }

    fileprivate func accepted(fd: Int32, role: TrafficRole) {
        var tls: TLSConnection?
        if role == .gateway {
            guard let context = snapshot.tls?.server else {
                log("gateway listener without TLS configuration; connection closed")
                Syscall.close(fd)
                return
            }
            tls = TLSConnection(context: context)
        }
        let connection = DownstreamConnection(worker: self, fd: fd, role: role, tls: tls)
        do {
            try connection.register(interest: .read)
        } catch {
            connection.close(reason: error.description)
            return
        }
        downstreams[ObjectIdentifier(connection)] = connection
        // Our SETTINGS wait for the client's first bytes: an HTTP/1.1 client must see a
        // readable HTTP/1.1 error, not a binary frame.
    }

    func upstreamOpened(_ connection: UpstreamConnection) {
        upstreams[ObjectIdentifier(connection)] = connection
    }

    func upstreamClosed(_ connection: UpstreamConnection) {
        upstreams[ObjectIdentifier(connection)] = nil
    }

    func downstreamClosed(_ connection: DownstreamConnection) {
        downstreams[ObjectIdentifier(connection)] = nil
        if downstreams.isEmpty { finishDrain() }
    }

    /// Stops accepting and asks every client to go away once its streams finish.
    /// `done` runs on this loop when the last downstream connection has closed, or at
    /// `deadline` (monotonic ns), whichever comes first.
    func drain(deadline: UInt64, done: @escaping () -> Void) {
        closeListeners()
        drainDone = done
        for (_, c) in downstreams { c.drain() }
        // Strong capture: the worker lives as long as its loop (and a weak reference would
        // put every retain of it on the runtime's slow path).
        loop.schedule(at: deadline) { [self] in finishDrain() }
        if downstreams.isEmpty { finishDrain() }
    }

    private var drainDone: (() -> Void)?

    private func finishDrain() {
        guard let done = drainDone else { return }
        drainDone = nil
        done()
    }

    private func closeListeners() {
        for a in acceptors { loop.deregister(a.fd); Syscall.close(a.fd) }
        acceptors.removeAll()
    }

    /// Closes listeners and every connection (process exit).
    func shutdown() {
        closeListeners()
        for (_, c) in downstreams { c.close(reason: "shutdown") }
        for (_, c) in upstreams { c.close(reason: "shutdown") }
    }

    // MARK: Utilities

    func takeSpareEventArray() -> [H2Event] {
        let a = spareEvents
        spareEvents = []
        return a
    }

    func returnSpareEventArray(_ a: [H2Event]) {
        if a.capacity > spareEvents.capacity { spareEvents = a }
    }

    /// Writes a diagnostic line to stderr.
    func log(_ message: String) {
        let line = "causeway[worker \(index)]: \(message)\n"
        var text = line
        text.withUTF8 { _ = Syscall.write(2, UnsafeRawBufferPointer($0)) }
    }
}

/// Accepts connections on one worker's `SO_REUSEPORT` listener.
private final class Acceptor: LoopHandler {
    unowned(unsafe) let worker: Worker
    let fd: Int32
    let role: TrafficRole

    init(worker: Worker, fd: Int32, role: TrafficRole) {
        self.worker = worker
        self.fd = fd
        self.role = role
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        // Bounded so a connection storm cannot starve established connections.
        for _ in 0..<64 {
            switch Sockets.accept(fd) {
            case .none: return
            case .success(let client)?: worker.accepted(fd: client, role: role)
            case .failure(let error)?:
                worker.log("accept: \(error)")
                if error.code == EMFILE || error.code == ENFILE {
                    // Out of descriptors: the listener stays readable, so stop watching it
                    // for a moment instead of spinning (and logging) every pass.
                    worker.loop.modify(fd, interest: [])
                    worker.loop.schedule(after: 100_000_000) { [self] in worker.loop.modify(fd, interest: .read) }
                }
                return
            }
        }
    }

    func loopFlush() {}
}
