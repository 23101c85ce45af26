#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop
import CausewayMesh
import CausewayProxy

/// The admin listener (DESIGN.md §6): `/ready`, `/live`, `/metrics`, `/config`,
/// `/endpoints`, served over HTTP/1.1 on a loop thread of its own so that a scrape never
/// runs on a worker. Metrics are gathered by messaging each worker.
final class AdminServer: Sendable {
    private let mailbox: Mailbox
    private let join: @Sendable () -> Void
    /// The bound admin address (resolves port 0).
    let boundAddress: String

    /// - Parameter dns: the DNS server's counters, shown at `/metrics` when it runs.
    static func start(address: SocketAddressSpec, cluster: String, workers: [WorkerHandle], config: LoadedConfig,
                      dns: DNSStats? = nil) throws(StartupError) -> AdminServer {
        guard let socketAddress = SocketAddress(ip: address.host, port: address.port) else {
            throw StartupError("admin address \(address) is not an IP address")
        }
        do {
            let thread = try LoopThread.listening(on: socketAddress, name: "causeway-admin", backlog: 64) { loop, fd in
                let state = AdminState(loop: loop, cluster: cluster, workers: workers, config: config, dns: dns)
                loop.context = state
                do { try state.listen(fd: fd) } catch { Syscall.close(fd) }
            }
            return AdminServer(mailbox: thread.mailbox, join: thread.join, boundAddress: thread.address.description)
        } catch {
            throw StartupError("admin listener on \(address): \(error)")
        }
    }

    private init(mailbox: Mailbox, join: @escaping @Sendable () -> Void, boundAddress: String) {
        self.mailbox = mailbox
        self.join = join
        self.boundAddress = boundAddress
    }

    /// Serves `config` from now on (`/config`, `/endpoints`).
    func update(config: LoadedConfig) {
        mailbox.post { loop in
            guard let state = loop.context as? AdminState else { return }
            state.config = config
        }
    }

    /// Serves `services` (the live table: mirrors and link health applied) and the mesh's
    /// status at `/endpoints` and `/metrics`.
    func update(services: ServiceTable, status: MeshStatus) {
        mailbox.post { loop in
            guard let state = loop.context as? AdminState else { return }
            state.services = services
            state.mesh = status
        }
    }

    /// Serves a newer mesh status (mirror ages, versions) with the same table.
    func update(status: MeshStatus) {
        mailbox.post { loop in (loop.context as? AdminState)?.mesh = status }
    }

    /// Shows `outcome` as `lastReload` at `/config`.
    func update(lastReload outcome: ReloadOutcome) {
        mailbox.post { loop in (loop.context as? AdminState)?.lastReload = outcome }
    }

    /// Serves `expiries` as `causeway_certificate_expiry_timestamp_seconds` at `/metrics`.
    func update(certificates expiries: [CertificateExpiry]) {
        mailbox.post { loop in (loop.context as? AdminState)?.certificateExpiries = expiries }
    }

    func stop() {
        mailbox.post { loop in
            (loop.context as? AdminState)?.close()
            loop.stop()
        }
        join()
    }
}

/// The admin loop's state: the listener, the connections, the configuration shown, and
/// metric gathering. Like a worker, it is an `AcceptTarget`: at most `connectionLimit`
/// connections (more are closed at accept), each closed if it has not finished within
/// `requestTimeoutNanos`, and a pause instead of a spin when descriptors run out.
final class AdminState: AcceptTarget {
    let loop: EventLoop
    /// The loop's shared buffers.
    let context: LoopContext
    let cluster: String
    let workers: [WorkerHandle]
    var config: LoadedConfig
    /// The table workers route with (mirrors and link health applied).
    var services: ServiceTable
    /// Links and mirrors.
    var mesh = MeshStatus.empty
    /// The latest reload's outcome (`/config`'s `lastReload`); nil before the first.
    var lastReload: ReloadOutcome?
    /// Expiry of each certificate file in use.
    var certificateExpiries: [CertificateExpiry] = []
    /// The DNS server's counters; nil without `spec.dns`.
    let dns: DNSStats?
    private var acceptor: Acceptor?
    private var connections: [ObjectIdentifier: AdminConnection] = [:]
    /// A connection must have been answered within this long of its accept.
    static let requestTimeoutNanos: UInt64 = 10_000_000_000
    /// Admin connections served at once.
    static let maxConnections = 64

    init(loop: EventLoop, cluster: String, workers: [WorkerHandle], config: LoadedConfig, dns: DNSStats?) {
        self.loop = loop
        self.dns = dns
        self.context = LoopContext(loop: loop)
        self.cluster = cluster
        self.workers = workers
        self.config = config
        self.services = config.services
    }

    func listen(fd: Int32) throws(SystemError) {
        let acceptor = Acceptor(target: self, fd: fd, name: "admin")
        try acceptor.start()
        self.acceptor = acceptor
        scheduleSweep()
    }

    func close() {
        acceptor?.close()
        acceptor = nil
        for (_, c) in connections { c.close() }
    }

    private func scheduleSweep() {
        loop.schedule(after: 1_000_000_000) { [weak self] in
            guard let self, self.acceptor != nil else { return }
            let now = self.loop.now
            for (_, c) in self.connections where now &- c.openedAt > Self.requestTimeoutNanos { c.close() }
            self.scheduleSweep()
        }
    }

    // MARK: AcceptTarget

    var acceptLoop: EventLoop { loop }
    var openConnections: Int { connections.count }
    var connectionLimit: Int { Self.maxConnections }

    func accepted(fd: Int32, from acceptor: Acceptor) {
        let connection = AdminConnection(state: self, fd: fd)
        do {
            try connection.start()
            connections[ObjectIdentifier(connection)] = connection
        } catch {
            Syscall.close(fd)
        }
    }

    func rejectedAtLimit(_ acceptor: Acceptor) {}

    func acceptFailed(_ error: SystemError, acceptor: Acceptor) {}

    func connectionClosed(_ connection: AdminConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    /// Answers `path`, calling `respond` (possibly later, after workers reply).
    func handle(path: String, respond: @escaping (AdminResponse) -> Void) {
        let route = path.split(separator: "?", maxSplits: 1).first.map(String.init) ?? path
        switch route {
        case "/live":
            respond(AdminResponse(status: 200, contentType: "text/plain", body: "live\n"))
        case "/ready":
            respond(AdminResponse(status: 200, contentType: "text/plain", body: "ready\n"))
        case "/config":
            respond(AdminResponse(status: 200, contentType: "application/json", body: EffectiveConfig.json(config, lastReload: lastReload, notes: mesh.notes) + "\n"))
        case "/endpoints":
            gatherEjections { ejected in
                respond(AdminResponse(status: 200, contentType: "application/json",
                                      body: EndpointsJSON.render(self.services, mesh: self.mesh, ejected: ejected) + "\n"))
            }
        case "/route":
            explainRoute(query: path.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init) ?? "", respond: respond)
        case "/metrics":
            gatherMetrics { snapshot in
                respond(AdminResponse(
                    status: 200, contentType: "text/plain; version=0.0.4",
                    body: PrometheusText.render(snapshot, cluster: self.cluster, certificates: self.certificateExpiries)
                        + MeshMetricsText.render(self.mesh, cluster: self.cluster)
                        + (self.dns.map { DNSMetricsText.render($0.snapshot(), cluster: self.cluster) } ?? "")
                ))
            }
        default:
            respond(AdminResponse(status: 404, contentType: "text/plain", body: "unknown admin path \(route); try /ready /live /metrics /config /endpoints /route\n"))
        }
    }

    /// Asks every worker for its counters and calls `done` on this loop with their sum.
    private func gatherMetrics(_ done: @escaping (MetricsSnapshot) -> Void) {
        let gather = MetricsGather(expected: workers.count, done: done)
        let id = ObjectIdentifier(gather)
        pendingGathers[id] = gather
        let mailbox = loop.mailbox
        for w in workers {
            w.collectMetrics { snapshot in
                mailbox.post { loop in
                    guard let state = loop.context as? AdminState, let g = state.pendingGathers[id] else { return }
                    if g.add(snapshot) { state.pendingGathers[id] = nil }
                }
            }
        }
        if workers.isEmpty { _ = gather.add(nil); pendingGathers[id] = nil }
    }

    private var pendingGathers: [ObjectIdentifier: MetricsGather] = [:]
    private var pendingExplains: [Int: (AdminResponse) -> Void] = [:]
    private var pendingEjections: [Int: (collected: [EjectedEndpoint], remaining: Int, done: ([EjectedEndpoint]) -> Void)] = [:]

    /// Asks every worker for its ejected endpoints and calls `done` on this loop with all.
    private func gatherEjections(_ done: @escaping ([EjectedEndpoint]) -> Void) {
        guard !workers.isEmpty else { return done([]) }
        explainCounter += 1
        let id = explainCounter
        pendingEjections[id] = ([], workers.count, done)
        let mailbox = loop.mailbox
        for w in workers {
            w.collectEjections { list in
                mailbox.post { loop in
                    guard let state = loop.context as? AdminState, var entry = state.pendingEjections[id] else { return }
                    entry.collected += list
                    entry.remaining -= 1
                    if entry.remaining == 0 {
                        state.pendingEjections[id] = nil
                        entry.done(entry.collected)
                    } else {
                        state.pendingEjections[id] = entry
                    }
                }
            }
        }
    }
    private var explainCounter = 0

    /// `/route?authority=…&path=…&method=…`: worker 0 says what it would do with such a
    /// request (`RouteExplainer`).
    private func explainRoute(query: String, respond: @escaping (AdminResponse) -> Void) {
        let params = QueryParameters.parse(query)
        guard let authority = params["authority"], !authority.isEmpty, let worker = workers.first else {
            respond(AdminResponse(status: 400, contentType: "text/plain",
                                  body: "usage: /route?authority=NAME[&path=/p][&method=GET]\n"))
            return
        }
        explainCounter += 1
        let id = explainCounter
        pendingExplains[id] = respond
        let mailbox = loop.mailbox
        worker.explainRoute(authority: authority, path: params["path"] ?? "/", method: params["method"] ?? "GET") { json in
            mailbox.post { loop in
                guard let state = loop.context as? AdminState, let respond = state.pendingExplains.removeValue(forKey: id) else { return }
                respond(AdminResponse(status: 200, contentType: "application/json", body: json + "\n"))
            }
        }
    }
}

/// Sums worker replies; calls `done` when the last one arrives.
private final class MetricsGather {
    var remaining: Int
    var total = MetricsSnapshot()
    let done: (MetricsSnapshot) -> Void
    init(expected: Int, done: @escaping (MetricsSnapshot) -> Void) {
        remaining = expected
        self.done = done
    }

    /// Returns true when complete.
    func add(_ snapshot: MetricsSnapshot?) -> Bool {
        if let snapshot { total.merge(snapshot) }
        remaining -= 1
        if remaining <= 0 { done(total); return true }
        return false
    }
}

/// A response from the admin listener.
struct AdminResponse {
    var status: Int
    var contentType: String
    var body: String
}
