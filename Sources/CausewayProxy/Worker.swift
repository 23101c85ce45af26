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
    /// The export stream this worker serves to linked clusters (gateway listeners).
    private(set) var publisher: ExportPublisher!
    /// Export streams this worker keeps open to linked gateways; nil on all workers but one.
    private var subscriptions: MirrorSubscriptions?
    private var downstreams: [ObjectIdentifier: DownstreamConnection] = [:]
    /// HTTP/1.1 clients of sidecar listeners.
    private var http1Downstreams: [ObjectIdentifier: HTTP1DownstreamConnection] = [:]
    /// Sidecar connections whose first bytes have not said yet what they speak.
    private var sniffers: [ObjectIdentifier: ProtocolSniffer] = [:]
    /// Every open upstream connection, pooled or draining, for shutdown.
    private var upstreams: [ObjectIdentifier: UpstreamConnection] = [:]
    /// The same for HTTP/1.1 upstream connections (local `appProtocol: http` endpoints).
    private var http1Upstreams: [ObjectIdentifier: HTTP1UpstreamConnection] = [:]
    /// Captured connections relayed unchanged to their original destination.
    private var passthroughs: [ObjectIdentifier: PassthroughRelay] = [:]
    private var acceptors: [Acceptor] = []
    /// What each acceptor's listener serves, by `Acceptor.tag`.
    private var listeners: [ListenerSpec] = []
    private var drainDone: (() -> Void)?

    /// Downstream connections the process's descriptor limit leaves this worker.
    private let descriptorBudget: Int

    /// Diagnostic and access log lines, written off this thread; nil: straight to stderr
    /// (tests that run a worker without a sink).
    private let logger: LogProducer?

    init(loop: EventLoop, index: Int, snapshot: RoutingSnapshot, descriptorBudget: Int = .max, logSink: LogSink? = nil,
         mirrorSink: (any MirrorEventSink)? = nil) {
        self.loop = loop
        self.logger = logSink?.producer(name: "worker \(index)")
        self.descriptorBudget = descriptorBudget
        self.index = index
        self.snapshot = snapshot
        context = LoopContext(loop: loop)
        forwarder = Forwarder(worker: self)
        publisher = ExportPublisher(worker: self, table: snapshot.exports)
        if let mirrorSink { subscriptions = MirrorSubscriptions(worker: self, sink: mirrorSink) }
        install(snapshot)
        scheduleSweep()
    }

    /// Switches to a new snapshot. Streams in flight keep the pools they hold. A snapshot
    /// older than the installed one is ignored: the control and link prober threads post
    /// snapshots independently, and a late older one must not undo a newer (its TLS
    /// contexts above all, which would flap a rotation back).
    func install(_ new: RoutingSnapshot) {
        guard new.version >= snapshot.version else { return }
        let previous = snapshot
        snapshot = new
        forwarder.install(new)
        if let old = previous.tls, !old.hasSameContexts(as: new.tls) { tlsRotated(to: new.tls) }
        publisher.install(new.exports)
        subscriptions?.install(new.links)
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
        drainRotatedClients(now: now)
        for (_, c) in downstreams { c.sweep(now: now) }
        for (_, c) in http1Downstreams { c.sweep(now: now) }
        for (_, c) in sniffers { _ = c.sweep(now: now) }
        for (_, p) in passthroughs { p.sweep(now: now, idleNanos: settings.capture.passthroughIdleNanos) }
        publisher.sweep(now: now)
        forwarder.sweepEjections(now: now)
        for (_, c) in upstreams {
            // A remote peer's glitches decay as a client's do, so a long-lived pooled
            // connection is not ended by a lifetime's worth of harmless frames.
            c.session.forgiveGlitches(33)
            if c.activeStreams == 0 { c.trimIdleMemory() }
        }
        for (_, c) in http1Upstreams where c.activeStreams == 0 { c.trimIdleMemory() }
    }

    // MARK: Connections


    /// Starts accepting on a listening socket opened by the control thread.
    func addListener(_ listener: ListenerSpec) throws(SystemError) {
        let acceptor = Acceptor(target: self, fd: listener.fd, name: listener.name, tag: listeners.count)
        try acceptor.start()
        listeners.append(listener)
        acceptors.append(acceptor)
    }

    /// A connection the acceptor took: it lives on this worker until it closes.
    public func accepted(fd: Int32, from acceptor: Acceptor) {
        accepted(fd: fd, listener: listeners[acceptor.tag])
    }

    /// Gateway listeners speak mTLS HTTP/2 only; a sidecar listener's connection is
    /// sniffed first (`ProtocolSniffer`): h2c with prior knowledge or HTTP/1.1.
    private func accepted(fd: Int32, listener: ListenerSpec) {
        guard listener.role == .gateway else {
            // Traffic capture first: a redirected connection to an address outside the mesh
            // is relayed unchanged at once; one to a mesh address is sniffed with a deadline.
            guard case .sniff(let captured) = acceptCaptured(fd: fd) else { return }
            let sniffer = ProtocolSniffer(worker: self, fd: fd, listener: listener, captured: captured)
            do {
                try sniffer.start()
            } catch {
                log("sidecar connection: \(error)", limitedBy: "accept")
                Syscall.close(fd)
                return
            }
            sniffers[ObjectIdentifier(sniffer)] = sniffer
            return
        }
        guard let context = snapshot.tls?.server else {
            log("gateway listener without TLS configuration; connection closed")
            Syscall.close(fd)
            return
        }
        let connection = DownstreamConnection(worker: self, fd: fd, listener: listener, tls: TLSConnection(context: context))
        do {
            try connection.register()
        } catch {
            connection.close(reason: error.description)
            return
        }
        downstreams[ObjectIdentifier(connection)] = connection
    }

    /// A sniffer decided what its connection speaks; it no longer owns the socket.
    func sniffed(_ sniffer: ProtocolSniffer, fd: Int32, proto: SniffedProtocol, initial: [UInt8]) {
        sniffers[ObjectIdentifier(sniffer)] = nil
        startDownstream(fd: fd, listener: sniffer.listener, proto: proto, initial: initial, originalDestination: sniffer.captured?.address)
    }

    /// A sniffer closed its connection before deciding.
    func snifferClosed(_ sniffer: ProtocolSniffer) {
        sniffers[ObjectIdentifier(sniffer)] = nil
        if allDownstreamsClosed { finishDrain() }
    }

    /// Starts serving `fd` as `proto`; `initial` holds the bytes the sniffer already read,
    /// fed to the connection before anything else. `.http2` and `.unknown` are HTTP/2
    /// connections (the latter gets GOAWAY); `.http1` an HTTP/1.1 one.
    /// `originalDestination`: where a captured connection was headed (nil when not captured).
    func startDownstream(fd: Int32, listener: ListenerSpec, proto: SniffedProtocol, initial: [UInt8],
                         originalDestination: SocketAddress?) {
        switch proto {
        case .http1:
            let connection = HTTP1DownstreamConnection(worker: self, fd: fd, listener: listener, originalDestination: originalDestination)
            do {
                try connection.register()
            } catch {
                connection.close(reason: error.description)
                return
            }
            http1Downstreams[ObjectIdentifier(connection)] = connection
            connection.start(initial: initial)
        case .http2, .unknown:
            let connection = DownstreamConnection(worker: self, fd: fd, listener: listener, tls: nil, originalDestination: originalDestination)
            do {
                try connection.register()
            } catch {
                connection.close(reason: error.description)
                return
            }
            downstreams[ObjectIdentifier(connection)] = connection
            connection.start(initial: initial)
        }
    }

    func upstreamOpened(_ connection: UpstreamConnection) {
        upstreams[ObjectIdentifier(connection)] = connection
    }

    func upstreamClosed(_ connection: UpstreamConnection) {
        upstreams[ObjectIdentifier(connection)] = nil
    }

    func upstreamOpened(_ connection: HTTP1UpstreamConnection) {
        http1Upstreams[ObjectIdentifier(connection)] = connection
    }

    func upstreamClosed(_ connection: HTTP1UpstreamConnection) {
        http1Upstreams[ObjectIdentifier(connection)] = nil
    }

    func downstreamClosed(_ connection: DownstreamConnection) {
        downstreams[ObjectIdentifier(connection)] = nil
        if allDownstreamsClosed { finishDrain() }
    }

    func downstreamClosed(_ connection: HTTP1DownstreamConnection) {
        http1Downstreams[ObjectIdentifier(connection)] = nil
        if allDownstreamsClosed { finishDrain() }
    }

    /// Relays a captured connection unchanged to `destination`, `initial` (bytes already
    /// read from it) first.
    func startPassthrough(fd: Int32, to destination: SocketAddress, initial: UnsafeRawBufferPointer) {
        let relay = PassthroughRelay(worker: self, clientFD: fd, destination: destination, initial: initial)
        passthroughs[ObjectIdentifier(relay)] = relay
        relay.start(connectTimeoutNanos: settings.connectTimeoutNanos)
    }

    func passthroughClosed(_ relay: PassthroughRelay) {
        passthroughs[ObjectIdentifier(relay)] = nil
        if allDownstreamsClosed { finishDrain() }
    }

    /// True when no client connection of any kind is open. Passthrough relays count: they
    /// have no way to ask their peers to finish, so a drain waits for them (or its deadline).
    private var allDownstreamsClosed: Bool {
        downstreams.isEmpty && http1Downstreams.isEmpty && sniffers.isEmpty && passthroughs.isEmpty
    }

    // MARK: TLS rotation

    /// Gateway clients accepted with replaced TLS contexts, sent GOAWAY a share per sweep.
    private var rotationDrain = SpreadDrain<DownstreamConnection>()
    /// Those whose turn came while their handshake was still running: a GOAWAY then would
    /// close them before the client could send anything, failing its waiting requests.
    private var rotationDeferred: [DownstreamConnection] = []

    /// The TLS contexts were replaced (new certificate files): new handshakes already use
    /// the new ones (`snapshot.tls`). What the old ones made drains without failing a
    /// request: pooled upstream connections take no new streams and close when their
    /// streams finish; gateway clients get GOAWAY spread over the rotation grace period
    /// (each closed hard `timeouts.drain` after its GOAWAY, like any drain). Cached client
    /// sessions belong to the old context and are dropped.
    private func tlsRotated(to tls: MeshTLS?) {
        forwarder.tlsSessionCache.removeAll()
        var upstreamCount = 0
        for (_, c) in upstreams {
            guard let context = c.tls?.context, context !== tls?.client, c.state != .draining, c.state != .closed else { continue }
            c.stopAcceptingStreams()
            upstreamCount += 1
        }
        metrics.increment(.tlsRotationUpstreamDrains, by: Int64(upstreamCount))
        // Connections already draining (GOAWAY sent) need nothing more.
        let stale = downstreams.values.filter { c in
            guard let context = c.tls?.context, c.lifecycle == .open else { return false }
            return context !== tls?.server
        }
        let grace = tls?.rotationGracePeriodNanos ?? 0
        rotationDeferred.removeAll()
        rotationDrain.start(stale, now: loop.now, periodNanos: grace)
        drainRotatedClients(now: loop.now)
        log("tls contexts replaced: \(upstreamCount) upstream connection(s) drain now, \(stale.count) gateway client(s) over \(grace / 1_000_000) ms")
    }

    /// Sends GOAWAY to the gateway clients whose turn has come (and whose handshake is done).
    private func drainRotatedClients(now: UInt64) {
        guard rotationDrain.pending > 0 || !rotationDeferred.isEmpty else { return }
        let due = rotationDeferred + rotationDrain.takeDue(now: now)
        rotationDeferred.removeAll()
        for c in due where !c.isClosed && c.lifecycle == .open {
            guard c.secured else {
                rotationDeferred.append(c)
                continue
            }
            metrics.increment(.tlsRotationDrains)
            c.drain()
        }
    }

    // MARK: Drain and shutdown

    /// Stops accepting and asks every client to go away once its streams finish.
    /// `done` runs on this loop when the last downstream connection has closed, or at
    /// `deadline` (monotonic ns), whichever comes first.
    func drain(deadline: UInt64, done: @escaping () -> Void) {
        closeListeners()
        drainDone = done
        publisher.finishAll()
        for (_, c) in downstreams { c.drain() }
        for (_, c) in http1Downstreams { c.drain() }
        // Nothing was asked of a connection still being sniffed.
        for (_, c) in sniffers { c.close(reason: "draining") }
        // Strong capture: the worker lives as long as its loop (and a weak reference would
        // put every retain of it on the runtime's slow path).
        loop.schedule(at: deadline) { [self] in finishDrain() }
        if allDownstreamsClosed { finishDrain() }
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
        subscriptions?.stopAll()
        closeListeners()
        for (_, c) in sniffers { c.close(reason: "shutdown") }
        for (_, c) in downstreams { c.close(reason: "shutdown") }
        for (_, c) in http1Downstreams { c.close(reason: "shutdown") }
        for (_, p) in passthroughs { p.close(reason: "shutdown") }
        for (_, c) in upstreams { c.close(reason: "shutdown") }
        for (_, c) in http1Upstreams { c.close(reason: "shutdown") }
    }

    /// Reopens `cluster`'s export stream (the control thread could not apply a message).
    func resyncMirror(cluster: String, attempt: Int) {
        subscriptions?.resync(cluster: cluster, attempt: attempt)
    }

    // MARK: Utilities

    /// Logs a diagnostic line without blocking this thread (escaped, dropped and counted if
    /// the log writer falls behind). Lines a peer can cause name a `key`: at most 10 a
    /// second per key get through, and the next one says how many were suppressed.
    func log(_ message: @autoclosure () -> String, limitedBy key: LogKey = "worker") {
        guard let logger else {
            var text = "causeway[worker \(index)]: \(message())\n"
            text.withUTF8 { _ = Syscall.write(2, UnsafeRawBufferPointer($0)) }
            return
        }
        logger.emit(message(), limitedBy: key, now: loop.now)
    }

    /// A copy of this worker's counters, with its log producer's.
    func metricsSnapshot() -> MetricsSnapshot {
        var s = metrics.snapshot()
        s.counters[.outlierEjectionsActive] = Int64(forwarder.ejectedEndpoints)
        if let logger {
            s.counters[.logLinesDropped] = Int64(clamping: logger.droppedLines)
            s.counters[.logLinesSuppressed] = Int64(clamping: logger.suppressedLines)
        }
        return s
    }

    /// Writes one access log line (JSON).
    func logAccess(_ record: AccessLogRecord) {
        logger?.emitAccess(record)
    }
}

extension Worker: AcceptTarget {
    public var acceptLoop: EventLoop { loop }

    /// Downstream connections open on this worker.
    public var openConnections: Int { downstreams.count + http1Downstreams.count + sniffers.count + passthroughs.count }

    /// Most downstream connections this worker serves at once: the configured limit, or
    /// less if the descriptor limit requires.
    public var connectionLimit: Int { min(settings.limits.maxDownstreamConnectionsPerWorker, descriptorBudget) }

    public func rejectedAtLimit(_ acceptor: Acceptor) {
        metrics.increment(.downstreamConnectionsRejected)
    }

    public func acceptFailed(_ error: SystemError, acceptor: Acceptor) {
        log("accept on \(acceptor.name): \(error)", limitedBy: "accept")
    }
}
