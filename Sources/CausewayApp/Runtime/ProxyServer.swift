#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop
import CausewayProxy
import Synchronization

/// A running proxy: worker threads with their listeners, and the admin listener.
///
/// Created and driven by the control (main) thread. Listeners are opened here, before any
/// worker starts, so that a port already in use is reported as a startup error.
public final class ProxyServer: Sendable {
    private let workers: [WorkerHandle]
    private let admin: AdminServer
    private let state: Mutex<(config: LoadedConfig, version: Int)>
    /// Where each listener is bound (resolves port 0), by listener name.
    public let boundListeners: [(name: String, address: String)]
    /// Where the admin listener is bound.
    public let adminAddress: String

    /// Opens every listener and starts the workers and the admin server.
    public static func start(_ config: LoadedConfig) throws(StartupError) -> ProxyServer {
        let proxy = config.proxy
        let snapshot = try SnapshotBuilder.snapshot(from: config, version: 1)
        var fdsByWorker = Array(repeating: [(fd: Int32, role: TrafficRole)](), count: proxy.workers)
        var bound: [(String, String)] = []
        var opened: [Int32] = []
        func cleanup() { for fd in opened { Syscall.close(fd) } }
        for listener in proxy.listeners {
            let role: TrafficRole = listener.role == .gateway ? .gateway : .sidecar
            guard var address = SocketAddress(ip: listener.address.host, port: listener.address.port) else {
                cleanup()
                throw StartupError("listener \(listener.name): \(listener.address) is not an IP address")
            }
            for w in 0..<proxy.workers {
                do {
                    let fd = try Sockets.listen(on: address, reusePort: true)
                    opened.append(fd)
                    fdsByWorker[w].append((fd, role))
                    // Port 0: the first socket picks a port; the other workers share it.
                    if w == 0, address.port == 0, let actual = SocketAddress.local(of: fd) { address = actual }
                } catch {
                    cleanup()
                    throw StartupError("listener \(listener.name) on \(listener.address): \(error)")
                }
            }
            bound.append((listener.name, address.description))
        }
        var handles: [WorkerHandle] = []
        for w in 0..<proxy.workers {
            do {
                handles.append(try WorkerHandle.start(index: w, snapshot: snapshot, listeners: fdsByWorker[w]))
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
        return ProxyServer(workers: handles, admin: admin, config: config, bound: bound)
    }

    private init(workers: [WorkerHandle], admin: AdminServer, config: LoadedConfig, bound: [(String, String)]) {
        self.workers = workers
        self.admin = admin
        self.state = Mutex((config, 1))
        self.boundListeners = bound.map { (name: $0.0, address: $0.1) }
        self.adminAddress = admin.boundAddress
    }

    /// Installs a newly loaded configuration's services and settings on every worker.
    /// Listener, admin and worker-count changes need a restart; they are reported in the
    /// returned notes and otherwise ignored.
    /// - Throws: `StartupError` when the new TLS files cannot be used; nothing changes then.
    public func reload(_ config: LoadedConfig) throws(StartupError) -> [String] {
        let version = state.withLock { $0.version + 1 }
        // Build first: a bad certificate leaves the running snapshot in place.
        let snapshot = try SnapshotBuilder.snapshot(from: config, version: version)
        let old = state.withLock { s -> LoadedConfig in
            let previous = s.config
            s = (config, version)
            return previous
        }
        var notes: [String] = []
        let a = old.proxy, b = config.proxy
        if a.listeners.map({ "\($0.name) \($0.role) \($0.address)" }) != b.listeners.map({ "\($0.name) \($0.role) \($0.address)" }) {
            notes.append("listener changes take effect after a restart")
        }
        if a.admin != b.admin { notes.append("admin address changes take effect after a restart") }
        if a.workers != b.workers { notes.append("worker count changes take effect after a restart") }
        for w in workers { w.install(snapshot) }
        admin.update(config: config)
        return notes
    }

    /// Drains: stops accepting, sends GOAWAY to every client and waits until their
    /// in-flight requests finish or `timeoutSeconds` pass. Then call `stop()`.
    public func drain(timeoutSeconds: Double) {
        let remaining = Mutex(workers.count)
        for w in workers {
            w.drain(timeoutNanos: UInt64(timeoutSeconds * 1e9)) {
                remaining.withLock { $0 -= 1 }
            }
        }
        // The control thread has nothing else to do meanwhile; poll coarsely.
        var waited = 0.0
        while remaining.withLock({ $0 }) > 0 && waited < timeoutSeconds + 1 {
            usleep(10_000)
            waited += 0.01
        }
    }

    /// Stops accepting, closes connections and joins every thread.
    public func stop() {
        admin.stop()
        for w in workers { w.stop() }
        for w in workers { w.join() }
    }
}

/// The proxy could not start (bind failure, unsupported listener).
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
