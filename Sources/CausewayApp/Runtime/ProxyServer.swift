#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop
import CausewayMesh
import CausewayProxy
import Synchronization

/// A running proxy: worker threads with their listeners, and the admin listener.
///
/// Created and driven by the control (main) thread. Listeners are opened here, before any
/// worker starts, so that a port already in use is reported as a startup error.
public final class ProxyServer: Sendable {
    private let workers: [WorkerHandle]
    private let admin: AdminServer
    /// Where workers' log lines go (off their threads).
    private let logSink: LogSink
    /// What the running snapshot is made of; changed by reloads, the link prober, mirror
    /// streams and lease expiry, always under this lock, each change installing a snapshot.
    private let mesh: Mutex<MeshState>
    private let prober = Mutex<LinkProber?>(nil)
    /// The control loop: mirror events from the subscribing worker and lease timers run
    /// here, off the workers.
    private let control: ControlLoop
    /// The TLS contexts in use and the file bytes they came from (rebuilt only on change).
    private let tlsCache: TLSContextCache
    /// The DNS server (`spec.dns`), on its own thread; nil when not configured.
    private let dns: DNSServer?
    /// Where the DNS server listens (UDP and TCP), when there is one.
    public var dnsAddress: String? { dns?.boundAddress }
    /// Where each listener is bound (resolves port 0), by listener name.
    public let boundListeners: [(name: String, address: String)]
    /// Where the admin listener is bound.
    public let adminAddress: String
    /// The mark the proxy's connections carry (`spec.capture.mark` at start): the pod's
    /// capture rules, installed once by its init container, skip this one, so a reload
    /// does not change it.
    private let outboundMark: UInt32

    /// Process-wide settings for running proxies: call once, before `start`.
    public static func prepareProcess() {
        MemoryTuning.keepFreedMemory()
        openFileLimit = OpenFileLimit.raise()
    }

    /// RLIMIT_NOFILE after `prepareProcess()` raised it.
    nonisolated(unsafe) private static var openFileLimit = 1024

    /// Opens every listener and starts the workers and the admin server.
    public static func start(_ config: LoadedConfig) throws(StartupError) -> ProxyServer {
        let proxy = config.proxy
        let tlsCache = TLSContextCache()
        let initialTLS = try loadTLS(proxy, cache: tlsCache)
        let tls = initialTLS.mesh
        var mesh = MeshState(config: config, tls: tls)
        mesh.captureRefusal = markOutboundSockets(proxy.capture)
        let (snapshot, notes) = mesh.snapshot(now: ControlLoop.now())
        // What composition noticed at start (unknown backendRefs, conflicts) is logged once.
        for note in notes { log(note) }
        var fdsByWorker = Array(repeating: [ListenerSpec](), count: proxy.workers)
        var bound: [(String, String)] = []
        var opened: [Int32] = []
        func cleanup() { for fd in opened { Syscall.close(fd) } }
        for listener in proxy.listeners {
            guard var address = SocketAddress(ip: listener.address.host, port: listener.address.port) else {
                cleanup()
                throw StartupError("listener \(listener.name): \(listener.address) is not an IP address")
            }
            for w in 0..<proxy.workers {
                do {
                    let fd = try Sockets.listen(on: address, reusePort: true)
                    opened.append(fd)
                    fdsByWorker[w].append(SnapshotBuilder.listenerSpec(listener, fd: fd))
                    // Port 0: the first socket picks a port; the other workers share it.
                    if w == 0, address.port == 0, let actual = SocketAddress.local(of: fd) { address = actual }
                } catch {
                    cleanup()
                    throw StartupError("listener \(listener.name) on \(listener.address): \(error)")
                }
            }
            bound.append((listener.name, address.description))
        }
        // Worker log lines go through this sink's writer thread: a stalled stderr never
        // blocks a worker (lines are dropped and counted instead).
        let logSink: LogSink
        do {
            logSink = try LogSink()
        } catch {
            cleanup()
            throw StartupError("cannot start the log writer: \(error)")
        }
        let control: ControlLoop
        do {
            control = try ControlLoop.start()
        } catch {
            cleanup()
            throw StartupError("cannot start the control loop: \(error)")
        }
        // DNS answers from the same tables workers route with, on a thread of its own.
        var dns: DNSServer?
        if let dnsConfig = proxy.dns {
            do {
                dns = try DNSServer.start(config: dnsConfig, table: snapshot.services, stats: DNSStats())
            } catch {
                control.stop()
                cleanup()
                throw error
            }
        }
        var handles: [WorkerHandle] = []
        for w in 0..<proxy.workers {
            do {
                // Worker 0 keeps the export streams to linked gateways open.
                handles.append(try WorkerHandle.start(index: w, snapshot: snapshot, listeners: fdsByWorker[w],
                                                      descriptorBudget: OpenFileLimit.downstreamBudget(limit: openFileLimit, workers: proxy.workers),
                                                      logSink: logSink, mirrorSink: w == 0 ? control.mirrorSink : nil))
            } catch {
                for h in handles { h.stop(); h.join() }
                control.stop()
                dns?.stop()
                cleanup()
                throw StartupError("cannot start worker \(w): \(error)")
            }
        }
        let admin: AdminServer
        do {
            admin = try AdminServer.start(address: proxy.admin, cluster: proxy.cluster, workers: handles, config: config,
                                          dns: dns?.stats)
        } catch {
            for h in handles { h.stop(); h.join() }
            control.stop()
            dns?.stop()
            throw error
        }
        admin.update(certificates: initialTLS.expiries)
        let server = ProxyServer(workers: handles, admin: admin, logSink: logSink, mesh: mesh, control: control, tlsCache: tlsCache,
                                 dns: dns, bound: bound, outboundMark: proxy.capture.mark)
        control.attach(server)
        admin.update(services: snapshot.services, status: server.meshStatus())
        server.startProber(config: config, tls: tls)
        return server
    }

    private init(workers: [WorkerHandle], admin: AdminServer, logSink: LogSink, mesh: MeshState, control: ControlLoop,
                 tlsCache: TLSContextCache, dns: DNSServer?, bound: [(String, String)], outboundMark: UInt32) {
        self.outboundMark = outboundMark
        self.tlsCache = tlsCache
        self.dns = dns
        self.workers = workers
        self.logSink = logSink
        self.admin = admin
        self.mesh = Mutex(mesh)
        self.control = control
        self.boundListeners = bound.map { (name: $0.0, address: $0.1) }
        self.adminAddress = admin.boundAddress
    }

    /// Starts probing the gateways of `config`'s links (replacing any earlier prober).
    private func startProber(config: LoadedConfig, tls: MeshTLS?) {
        let old = prober.withLock { p -> LinkProber? in
            let previous = p
            p = nil
            return previous
        }
        old?.stop()
        mesh.withLock { $0.down = [] }
        guard let client = tls?.client, !config.links.isEmpty else { return }
        var targets: [LinkProber.Target] = []
        for link in config.links {
            for endpoint in link.gatewayEndpoints {
                targets.append(LinkProber.Target(
                    cluster: link.cluster, endpoint: endpoint, identity: link.identity,
                    periodNanos: UInt64(link.probe.periodMillis) * 1_000_000,
                    timeoutNanos: UInt64(link.probe.timeoutMillis) * 1_000_000,
                    failureThreshold: link.probe.failureThreshold
                ))
            }
        }
        do {
            let prober = try LinkProber.start(targets: targets, tls: client, onChange: { [weak self] down in
                self?.gatewaysChanged(down)
            }, onProbe: { [weak self] outcome in
                self?.probeFinished(outcome)
            }, log: { line in
                Self.log(line)
            })
            self.prober.withLock { $0 = prober }
        } catch {
            var text = "causeway: cannot start the link prober: \(error)\n"
            text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        }
    }

    /// The prober found the set of unreachable gateways changed: install a snapshot without them.
    private func gatewaysChanged(_ down: Set<EndpointAddress>) {
        rebuild { $0.down = down }
    }

    /// Records one probe's duration (or failure) for the link's metrics.
    private func probeFinished(_ outcome: LinkProber.Outcome) {
        let now = ControlLoop.now()
        let status = mesh.withLock { m -> MeshStatus in
            if outcome.succeeded {
                m.probes[outcome.cluster, default: ProbeStats()].latency.observe(nanos: outcome.durationNanos)
            } else {
                m.probes[outcome.cluster, default: ProbeStats()].failures += 1
            }
            return Self.status(of: m, now: now)
        }
        admin.update(status: status)
    }

    /// Applies `change` to the mesh state and installs the resulting snapshot everywhere.
    private func rebuild(_ change: (inout MeshState) -> Void = { _ in }) {
        let now = ControlLoop.now()
        let (snapshot, notes, status) = mesh.withLock { m in
            change(&m)
            let (snapshot, notes) = m.snapshot(now: now)
            return (snapshot, notes, Self.status(of: m, now: now))
        }
        for note in notes { Self.log(note) }
        for w in workers { w.install(snapshot) }
        dns?.update(table: snapshot.services)
        admin.update(services: snapshot.services, status: status)
        control.scheduleLeaseCheck()
    }

    // MARK: Mirror events (on the control loop)

    /// A message from the subscribing worker's stream to `cluster`.
    func mirrorReceived(cluster: String, message: MirrorMessage, attempt: Int) {
        let now = ControlLoop.now()
        let outcome = mesh.withLock { $0.received(message, cluster: cluster, attempt: attempt, now: now) }
        switch outcome {
        case .ignored, .applied(changed: false):
            if case .snapshot = message { rebuild() } else { refreshStatus() }
        case .applied(changed: true):
            rebuild()
        case .rejected(let reason):
            Self.log("mirror of \(cluster): \(reason); resynchronising from a fresh snapshot")
            workers.first?.resyncMirror(cluster: cluster, attempt: attempt)
            rebuild()
        }
    }

    /// The subscribing worker's stream to `cluster` ended (it reconnects by itself).
    func mirrorStreamLost(cluster: String, attempt: Int) {
        let now = ControlLoop.now()
        if mesh.withLock({ $0.streamLost(cluster: cluster, attempt: attempt, now: now) }) {
            rebuild()
        } else {
            refreshStatus()
        }
    }

    /// When a mirror's lease changes next (monotonic ns), if one will.
    func nextLeaseDeadline() -> UInt64? {
        let now = ControlLoop.now()
        return mesh.withLock { $0.nextLeaseChange(after: now) }
    }

    /// A mirror's lease may have changed (stale, expired): rebuild.
    func leaseCheck() {
        rebuild()
    }

    /// Gives the admin server fresh mirror status without a new snapshot.
    private func refreshStatus() {
        let now = ControlLoop.now()
        let status = mesh.withLock { Self.status(of: $0, now: now) }
        admin.update(status: status)
    }

    /// The services requests can reach now, as `/endpoints` lists them: name, table
    /// (`local`, `mirrored-by-stream`, `mirrored-from-files`, `clusterset`) and readiness.
    public func routingTable() -> [(service: String, table: String, ready: Bool)] {
        guard let table = mesh.withLock({ $0.table }) else { return [] }
        return table.services.map { ($0.key.description, EndpointsJSON.tableName($0), table.isReady($0.index)) }
    }

    /// The links', mirrors' and composition's state, for `/endpoints` and `/metrics`.
    func meshStatus() -> MeshStatus {
        let now = ControlLoop.now()
        return mesh.withLock { Self.status(of: $0, now: now) }
    }

    private static func status(of m: MeshState, now: UInt64) -> MeshStatus {
        MeshStatus(mesh: m, now: now)
    }

    /// Every socket the proxy connects from now on carries `capture.mark`, so capture rules
    /// skip its own traffic; once, at start. Without CAP_NET_ADMIN the kernel refuses and the
    /// proxy runs unmarked: unless `capture.excludeUIDs` covers its uid, captured connections
    /// must then be refused (returned: why), else they would loop back to it. Said once
    /// when the Proxy has `capture`.
    private static func markOutboundSockets(_ capture: CaptureConfig) -> String? {
        guard let error = OutboundMark.configure(capture.mark) else { return nil }
        let uid = UInt32(geteuid())
        let refusal = SnapshotBuilder.captureRefusal(capture, unmarked: "\(error)", uid: uid)
        if capture.configured {
            if let refusal {
                log("captured connections will be refused (reset at accept): \(refusal)")
            } else {
                log("outbound connections are not marked (\(error)); the capture rules skip the proxy's uid \(uid) (spec.capture.excludeUIDs) instead")
            }
        }
        return refusal
    }

    private static func log(_ line: String) {
        var text = "causeway: \(line)\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    /// Installs a newly loaded configuration's services and settings on every worker.
    /// Listener, admin and worker-count changes need a restart; they are reported in the
    /// returned notes and otherwise ignored.
    /// - Throws: `StartupError` when the new TLS files cannot be used; nothing changes then.
    public func reload(_ config: LoadedConfig) throws(StartupError) -> [String] {
        // Build first: a bad certificate leaves the running snapshot in place. Unchanged
        // TLS files keep the contexts in use (no connection drains).
        let nextTLS = try Self.loadTLS(config.proxy, cache: tlsCache)
        let tls = nextTLS.mesh
        let (old, oldTLS) = mesh.withLock { ($0.config, $0.tls) }
        let linksChanged = old.links.map(LinkKey.init) != config.links.map(LinkKey.init)
        var notes: [String] = []
        let a = old.proxy, b = config.proxy
        if a.listeners.map({ "\($0.name) \($0.role) \($0.address) \($0.accessLog)" }) != b.listeners.map({ "\($0.name) \($0.role) \($0.address) \($0.accessLog)" }) {
            notes.append("listener changes take effect after a restart")
        }
        if a.admin != b.admin { notes.append("admin address changes take effect after a restart") }
        if a.workers != b.workers { notes.append("worker count changes take effect after a restart") }
        if a.dns?.address != b.dns?.address {
            notes.append(b.dns == nil ? "dns: turning the DNS server off takes effect after a restart"
                : a.dns == nil ? "dns: turning the DNS server on takes effect after a restart"
                : "dns address changes take effect after a restart")
        }
        if let next = b.dns, a.dns != nil, a.dns?.address == next.address { dns?.update(config: next) }
        // The pod's rules skip the mark (and the uids) they were installed with, once, by its
        // init container: the mark stays the one the proxy started with.
        if b.capture.mark != outboundMark {
            notes.append("capture.mark changes take effect after a restart: connections keep mark \(outboundMark), which the installed capture rules skip")
        }
        if !a.capture.configured, b.capture.configured, let refusal = mesh.withLock({ $0.captureRefusal }) {
            notes.append("capture: captured connections are refused (reset at accept): \(refusal)")
        }
        admin.update(config: config)
        notes += tlsRotated(nextTLS)
        // A restarted prober counts every gateway up until probed: only when links (or the
        // client certificate it probes with) changed.
        if linksChanged || oldTLS?.client !== tls?.client { startProber(config: config, tls: tls) }
        rebuild { $0.replace(config: config, tls: tls) }
        return notes
    }

    // MARK: TLS files and reload reports

    /// The TLS contexts for `proxy` from `cache`, as a startup error naming the file when
    /// they cannot be built.
    private static func loadTLS(_ proxy: ProxyConfig, cache: TLSContextCache) throws(StartupError) -> TLSContextCache.Outcome {
        do {
            return try cache.contexts(for: proxy)
        } catch {
            throw StartupError(error.description, problems: [error.problem])
        }
    }

    /// After a reload installed `outcome`'s contexts: new certificate expiries for
    /// `/metrics`, and notes for the log. Workers drain what the old contexts made
    /// themselves (`Worker.install` sees the contexts change).
    private func tlsRotated(_ outcome: TLSContextCache.Outcome) -> [String] {
        guard outcome.rebuilt else { return [] }
        admin.update(certificates: outcome.expiries)
        return outcome.notes
    }

    /// Shows the outcome of the latest reload at `/config` (`lastReload`).
    public func update(lastReload: ReloadOutcome) {
        admin.update(lastReload: lastReload)
    }

    /// `spec.timeouts.drain` of the running configuration (it follows reloads): the drain
    /// deadline when `--drain-seconds` is not given.
    public var configuredDrainNanos: UInt64 {
        mesh.withLock { $0.config.proxy.timeouts.drainNanos }
    }

    /// Drains: stops accepting, sends GOAWAY to every client and waits until their
    /// in-flight requests finish or `timeoutNanos` pass (default: `configuredDrainNanos`).
    /// Then call `stop()`.
    public func drain(timeoutNanos: UInt64? = nil) {
        let timeout = timeoutNanos ?? configuredDrainNanos
        let remaining = Mutex(workers.count)
        for w in workers {
            w.drain(timeoutNanos: timeout) {
                remaining.withLock { $0 -= 1 }
            }
        }
        // The control thread has nothing else to do meanwhile; poll coarsely.
        let step: UInt64 = 10_000_000
        var waited: UInt64 = 0
        while remaining.withLock({ $0 }) > 0 && waited < timeout &+ 1_000_000_000 {
            usleep(10_000)
            waited += step
        }
    }

    /// Stops accepting, closes connections and joins every thread.
    public func stop() {
        let prober = self.prober.withLock { p -> LinkProber? in
            let previous = p
            p = nil
            return previous
        }
        prober?.stop()
        control.stop()
        dns?.stop()
        admin.stop()
        for w in workers { w.stop() }
        for w in workers { w.join() }
        logSink.shutdown(timeoutNanos: 1_000_000_000)
    }
}

/// What makes a link the same for the prober: cluster, gateways, identity and probe timing.
private struct LinkKey: Equatable {
    let cluster: String
    let gateways: [EndpointAddress]
    let identity: String
    let probe: LinkProbe
    init(_ link: LinkConfig) {
        cluster = link.cluster
        gateways = link.gatewayEndpoints
        identity = link.identity
        probe = link.probe
    }
}

/// The proxy could not start (bind failure, unsupported listener).
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    /// The files and fields at fault when known (a TLS file that cannot be used), for
    /// `/config`'s `lastReload`.
    public let problems: [ConfigProblem]
    init(_ description: String, problems: [ConfigProblem] = []) {
        self.description = description
        self.problems = problems
    }
}
