#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayMesh

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
    private var pools: [EndpointAddress: UpstreamPool] = [:]
    /// Per service (by snapshot index): resolved endpoint pools, in the table's order.
    private var servicePools: [[UpstreamPool]] = []
    private var serviceCounters: [ServiceCounters] = []
    private var balancers: [RoundRobin] = []
    private var downstreams: [ObjectIdentifier: DownstreamConnection] = [:]
    private var acceptors: [Acceptor] = []
    private var spareEvents: [H2Event] = []

    init(loop: EventLoop, index: Int, snapshot: RoutingSnapshot) {
        self.loop = loop
        self.index = index
        self.snapshot = snapshot
        readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        install(snapshot)
    }

    deinit { readBuffer.deallocate() }

    // MARK: Configuration

    /// Switches to a new snapshot. Streams in flight keep the pools they hold.
    func install(_ new: RoutingSnapshot) {
        snapshot = new
        var nextPools: [[UpstreamPool]] = []
        var nextCounters: [ServiceCounters] = []
        for service in new.services.services {
            var list: [UpstreamPool] = []
            for endpoint in service.readyEndpoints {
                if let existing = pools[endpoint] {
                    list.append(existing)
                } else if let address = SocketAddress(ip: endpoint.host, port: endpoint.port) {
                    let pool = UpstreamPool(endpoint: endpoint, address: address)
                    pools[endpoint] = pool
                    list.append(pool)
                }
            }
            nextPools.append(list)
            nextCounters.append(metrics.counters(for: service.key.description))
        }
        servicePools = nextPools
        serviceCounters = nextCounters
        // Each worker starts its rotation at its own index so their first picks spread.
        if balancers.count != nextPools.count { balancers = Array(repeating: RoundRobin(offset: index), count: nextPools.count) }
    }

    // MARK: The request pipeline

    /// Routes a new request and submits it upstream, or answers it with a failure.
    func dispatch(_ stream: ProxyStream, headers: HeaderBlock) {
        // route: :authority (or host) → service
        let table = snapshot.services
        let service: Int? = headers.withValue(of: ":authority") { table.resolve(authority: $0) }
            ?? headers.withValue(of: "host") { table.resolve(authority: $0) } ?? nil
        guard let serviceIndex = service else {
            let hasAuthority = headers.firstIndex(of: ":authority") != nil || headers.firstIndex(of: "host") != nil
            stream.downstream.fail(stream, hasAuthority ? .noRoute : .missingAuthority)
            return
        }
        stream.counters = serviceCounters[serviceIndex]
        // balance: round-robin over ready endpoints
        let candidates = servicePools[serviceIndex]
        guard let pick = balancers[serviceIndex].next(count: candidates.count) else {
            stream.downstream.fail(stream, .noHealthyUpstream)
            return
        }
        stream.endpointIndex = pick
        forward(stream, headers: headers, pool: candidates[pick])
    }

    /// Submits the request on a pooled connection to `pool`'s endpoint.
    private func forward(_ stream: ProxyStream, headers: HeaderBlock, pool: UpstreamPool) {
        let connection: UpstreamConnection
        do {
            connection = try pool.acquire(worker: self)
        } catch {
            metrics.upstreamConnectFailures &+= 1
            log("upstream \(pool.address): \(error)")
            stream.downstream.fail(stream, .upstreamConnectFailure)
            return
        }
        // Keep the headers only while a replay is possible (no body to re-send).
        stream.requestHeaders = stream.requestEnded ? headers : nil
        if !connection.submit(stream, headers: headers) {
            stream.downstream.fail(stream, .upstreamConnectFailure)
        }
    }

    /// Re-submits a request the upstream refused without processing it. Returns false if
    /// no connection could take it.
    func retry(_ stream: ProxyStream, headers: HeaderBlock) -> Bool {
        guard !stream.retried, !stream.downstream.isClosed else { return false }
        stream.retried = true
        stream.state = .routing
        dispatch(stream, headers: headers)
        return true
    }

    // MARK: Connections

    /// Starts accepting on a listening socket opened by the control thread.
    func addListener(fd: Int32) throws(SystemError) {
        let acceptor = Acceptor(worker: self, fd: fd)
        try loop.register(fd, handler: acceptor, interest: .read)
        acceptors.append(acceptor)
    }

    fileprivate func accepted(fd: Int32) {
        let connection = DownstreamConnection(worker: self, fd: fd)
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
        loop.schedule(at: deadline) { [weak self] in self?.finishDrain() }
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
        for (_, p) in pools { for c in p.connections { c.close(reason: "shutdown") } }
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
    unowned let worker: Worker
    let fd: Int32

    init(worker: Worker, fd: Int32) {
        self.worker = worker
        self.fd = fd
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        // Bounded so a connection storm cannot starve established connections.
        for _ in 0..<64 {
            switch Sockets.accept(fd) {
            case .none: return
            case .success(let client)?: worker.accepted(fd: client)
            case .failure(let error)?:
                worker.log("accept: \(error)")
                return
            }
        }
    }

    func loopFlush() {}
}
