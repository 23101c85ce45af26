#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayMesh
import CausewayTLS

/// One event-loop thread's share of the proxy: its listeners, connection registries, the
/// once-a-second sweep, drain and shutdown. The request path lives in its stages
/// (`Acceptor`, `Route`, `Forwarder`, `Relay`); nothing here is shared with another worker,
/// so the request path takes no lock; other threads talk to it through `WorkerHandle`,
/// which posts messages to its loop.
public final class Worker {
    let loop: EventLoop
    let index: Int
    private(set) var snapshot: RoutingSnapshot
    var settings: ProxySettings { snapshot.settings }
    let metrics = WorkerMetrics()
    /// The loop and the buffers its connections share.
    let context: LoopContext
    /// route → balance → forward, and the upstream pools.
    private(set) var forwarder: Forwarder!
    private var downstreams: [ObjectIdentifier: DownstreamConnection] = [:]
    /// Every open upstream connection, pooled or draining, for shutdown.
    private var upstreams: [ObjectIdentifier: UpstreamConnection] = [:]
    private var acceptors: [Acceptor] = []
    private var drainDone: (() -> Void)?

    /// Downstream connections the process's descriptor limit leaves this worker.
    private let descriptorBudget: Int

    init(loop: EventLoop, index: Int, snapshot: RoutingSnapshot, descriptorBudget: Int = .max) {
        self.loop = loop
        self.descriptorBudget = descriptorBudget
        self.index = index
        self.snapshot = snapshot
        context = LoopContext(loop: loop)
        forwarder = Forwarder(worker: self)
        install(snapshot)
        scheduleSweep()
    }

    /// Switches to a new snapshot. Streams in flight keep the pools they hold.
    func install(_ new: RoutingSnapshot) {
        snapshot = new
        forwarder.install(new)
    }

    // MARK: Timeouts

    /// Once a second, every connection checks its timeouts (`DownstreamConnection.sweep`).
    /// One timer per worker instead of one per connection or stream keeps the request path
    /// free of timer work; a timeout fires up to a second late.
    private func scheduleSweep() {
        loop.schedule(after: 1_000_000_000) { [self] in
            sweep()
            scheduleSweep()
        }
    }

    private func sweep() {
        let now = loop.now
        for (_, c) in downstreams { c.sweep(now: now) }
        for (_, c) in upstreams where c.activeStreams == 0 { c.trimIdleMemory() }
    }

    // MARK: Connections

    /// Downstream connections open on this worker.
    var downstreamCount: Int { downstreams.count }

    /// Most downstream connections this worker serves at once: the configured limit, or
    /// less if the descriptor limit requires.
    var connectionLimit: Int { min(settings.limits.maxDownstreamConnectionsPerWorker, descriptorBudget) }

    /// Starts accepting on a listening socket opened by the control thread.
    func addListener(_ listener: ListenerSpec) throws(SystemError) {
        let acceptor = Acceptor(worker: self, listener: listener)
        try loop.register(listener.fd, handler: acceptor, interest: .read)
        acceptors.append(acceptor)
    }

    /// A connection the acceptor took: it lives on this worker until it closes.
    func accepted(fd: Int32, role: TrafficRole) {
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
            try connection.register()
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

    // MARK: Drain and shutdown

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

    private func finishDrain() {
        guard let done = drainDone else { return }
        drainDone = nil
        done()
    }

    private func closeListeners() {
        for a in acceptors { a.close() }
        acceptors.removeAll()
    }

    /// Closes listeners and every connection (process exit).
    func shutdown() {
        closeListeners()
        for (_, c) in downstreams { c.close(reason: "shutdown") }
        for (_, c) in upstreams { c.close(reason: "shutdown") }
    }

    // MARK: Utilities

    /// Writes a diagnostic line to stderr.
    func log(_ message: String) {
        let line = "causeway[worker \(index)]: \(message)\n"
        var text = line
        text.withUTF8 { _ = Syscall.write(2, UnsafeRawBufferPointer($0)) }
    }
}
