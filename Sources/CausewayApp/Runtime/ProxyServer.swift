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
    /// What the running snapshot is made of; changed by reloads and the link prober.
    private struct State {
        var config: LoadedConfig
        var tls: MeshTLS?
        var down: Set<EndpointAddress> = []
        var version: Int
        var prober: LinkProber?
    }

    private let state: Mutex<State>
    /// The TLS contexts in use and the file bytes they came from (rebuilt only on change).
    private let tlsCache: TLSContextCache
    /// Where each listener is bound (resolves port 0), by listener name.
    public let boundListeners: [(name: String, address: String)]
    /// Where the admin listener is bound.
    public let adminAddress: String

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
        let snapshot = SnapshotBuilder.snapshot(from: config, tls: tls, down: [], version: 1)
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
        var handles: [WorkerHandle] = []
        for w in 0..<proxy.workers {
            do {
                handles.append(try WorkerHandle.start(index: w, snapshot: snapshot, listeners: fdsByWorker[w],
                                                      descriptorBudget: OpenFileLimit.downstreamBudget(limit: openFileLimit, workers: proxy.workers),
                                                      logSink: logSink))
            } catch {
                for h in handles { h.stop(); h.join() }
                cleanup()
                throw StartupError("cannot start worker \(w): \(error)")
            }
        }
        let admin: AdminServer
        do {
            admin = try AdminServer.start(address: proxy.admin, cluster: proxy.cluster, workers: handles, config: config)
        } catch {
            for h in handles { h.stop(); h.join() }
            throw error
        }
        admin.update(certificates: initialTLS.expiries)
        let server = ProxyServer(workers: handles, admin: admin, logSink: logSink, config: config, tls: tls, tlsCache: tlsCache, bound: bound)
        server.startProber(config: config, tls: tls)
        return server
    }

    private init(workers: [WorkerHandle], admin: AdminServer, logSink: LogSink, config: LoadedConfig, tls: MeshTLS?,
                 tlsCache: TLSContextCache, bound: [(String, String)]) {
        self.workers = workers
        self.tlsCache = tlsCache
        self.logSink = logSink
        self.admin = admin
        self.state = Mutex(State(config: config, tls: tls, version: 1))
        self.boundListeners = bound.map { (name: $0.0, address: $0.1) }
        self.adminAddress = admin.boundAddress
    }

    /// Starts probing the gateways of `config`'s links (replacing any earlier prober).
    private func startProber(config: LoadedConfig, tls: MeshTLS?) {
        let old = state.withLock { s -> LinkProber? in
            let p = s.prober
            s.prober = nil
            s.down = []
            return p
        }
        old?.stop()
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
            }, log: { line in
                var text = "causeway: \(line)\n"
                text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
            })
            state.withLock { $0.prober = prober }
        } catch {
            var text = "causeway: cannot start the link prober: \(error)\n"
            text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
        }
    }

    /// The prober found the set of unreachable gateways changed: install a snapshot without them.
    private func gatewaysChanged(_ down: Set<EndpointAddress>) {
        let snapshot = state.withLock { s -> RoutingSnapshot in
            s.down = down
            s.version += 1
            return SnapshotBuilder.snapshot(from: s.config, tls: s.tls, down: down, version: s.version)
        }
        for w in workers { w.install(snapshot) }
        admin.update(services: snapshot.services)
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
        let (old, snapshot) = state.withLock { s -> (LoadedConfig, RoutingSnapshot) in
            let previous = s.config
            s.config = config
            s.tls = tls
            s.down = []
            s.version += 1
            return (previous, SnapshotBuilder.snapshot(from: config, tls: tls, down: [], version: s.version))
        }
        var notes: [String] = []
        let a = old.proxy, b = config.proxy
        if a.listeners.map({ "\($0.name) \($0.role) \($0.address) \($0.accessLog)" }) != b.listeners.map({ "\($0.name) \($0.role) \($0.address) \($0.accessLog)" }) {
            notes.append("listener changes take effect after a restart")
        }
        if a.admin != b.admin { notes.append("admin address changes take effect after a restart") }
        if a.workers != b.workers { notes.append("worker count changes take effect after a restart") }
        for w in workers { w.install(snapshot) }
        admin.update(config: config)
        notes += tlsRotated(nextTLS)
        startProber(config: config, tls: tls)
        return notes
    }

    // MARK: TLS files and reload reports (issue 9)

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
        state.withLock { $0.config.proxy.timeouts.drainNanos }
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
        let prober = state.withLock { s -> LinkProber? in
            let p = s.prober
            s.prober = nil
            return p
        }
        prober?.stop()
        admin.stop()
        for w in workers { w.stop() }
        for w in workers { w.join() }
        logSink.shutdown(timeoutNanos: 1_000_000_000)
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
