import CausewayBytes
import CausewayLoop
import CausewayMesh
import CausewayTLS

/// Probes the gateways of linked clusters and reports which are unreachable, so the
/// mirrored services behind a lost link fail fast (`503 no-healthy-upstream`) instead of
/// every request waiting for a connect timeout.
///
/// A probe is a TCP connect, a full mTLS handshake that must present the link's identity,
/// and the HTTP/2 preface answered by the gateway's SETTINGS, within the probe timeout
/// (in TLS 1.3 a server refuses a client certificate only after the client's handshake
/// completed, so the handshake alone does not prove the gateway accepts us). After `failureThreshold` consecutive failures a
/// gateway counts as down; one success brings it back. Runs on a loop thread of its own,
/// never on a worker.
public final class LinkProber: Sendable {
    /// One gateway to probe.
    public struct Target: Sendable {
        public var cluster: String
        public var endpoint: EndpointAddress
        public var identity: String
        public var periodNanos: UInt64
        public var timeoutNanos: UInt64
        public var failureThreshold: Int

        public init(cluster: String, endpoint: EndpointAddress, identity: String,
                    periodNanos: UInt64, timeoutNanos: UInt64, failureThreshold: Int) {
            self.cluster = cluster
            self.endpoint = endpoint
            self.identity = identity
            self.periodNanos = periodNanos
            self.timeoutNanos = timeoutNanos
            self.failureThreshold = failureThreshold
        }
    }

    private let mailbox: Mailbox
    private let join: @Sendable () -> Void

    /// One probe's outcome: how long it took, and whether the gateway answered as expected.
    public struct Outcome: Sendable {
        public let cluster: String
        public let endpoint: EndpointAddress
        public let durationNanos: UInt64
        public let succeeded: Bool
    }

    /// Starts probing. `onChange` runs on the prober's thread with the full set of gateways
    /// currently down, each time that set changes; `onProbe` after every probe; `log`
    /// receives one line per transition.
    public static func start(
        targets: [Target], tls: TLSContext,
        onChange: @escaping @Sendable (Set<EndpointAddress>) -> Void,
        onProbe: @escaping @Sendable (Outcome) -> Void = { _ in },
        log: @escaping @Sendable (String) -> Void
    ) throws(SystemError) -> LinkProber {
        let (mailbox, join) = try LoopThread.start(name: "causeway-probe") { loop in
            let state = ProberState(loop: loop, tls: tls, onChange: onChange, onProbe: onProbe, log: log)
            loop.context = state
            for target in targets { state.add(target) }
        }
        return LinkProber(mailbox: mailbox, join: join)
    }

    private init(mailbox: Mailbox, join: @escaping @Sendable () -> Void) {
        self.mailbox = mailbox
        self.join = join
    }

    /// Stops probing and joins the thread.
    public func stop() {
        mailbox.post { loop in
            (loop.context as? ProberState)?.stopAll()
            loop.stop()
        }
        join()
    }
}

/// The prober loop's state: one schedule per gateway.
private final class ProberState {
    let loop: EventLoop
    /// Buffers shared by the attempts on this loop (the same context worker connections use).
    let context: LoopContext
    let tls: TLSContext
    let onChange: @Sendable (Set<EndpointAddress>) -> Void
    let onProbe: @Sendable (LinkProber.Outcome) -> Void
    let log: @Sendable (String) -> Void
    private var gateways: [GatewayHealth] = []
    private var down: Set<EndpointAddress> = []

    init(loop: EventLoop, tls: TLSContext, onChange: @escaping @Sendable (Set<EndpointAddress>) -> Void,
         onProbe: @escaping @Sendable (LinkProber.Outcome) -> Void, log: @escaping @Sendable (String) -> Void) {
        self.loop = loop
        self.context = LoopContext(loop: loop)
        self.tls = tls
        self.onChange = onChange
        self.onProbe = onProbe
        self.log = log
    }

    func add(_ target: LinkProber.Target) {
        guard let address = SocketAddress(ip: target.endpoint.host, port: target.endpoint.port),
              let identity = try? SPIFFEID(parsing: target.identity) else {
            log("link \(target.cluster): gateway \(target.endpoint) cannot be probed (bad address or identity)")
            return
        }
        let health = GatewayHealth(target: target, address: address, identity: identity)
        gateways.append(health)
        probe(health)
    }

    func stopAll() {
        let all = gateways
        gateways.removeAll()
        for g in all { g.attempt?.cancel() }
    }

    private func probe(_ health: GatewayHealth) {
        let attempt = ProbeAttempt(state: self, health: health)
        health.attempt = attempt
        attempt.start()
    }

    /// Records an attempt's outcome (nil error: success) and schedules the next one.
    func finished(_ health: GatewayHealth, error: String?, startedAt: UInt64) {
        health.attempt = nil
        let target = health.target
        onProbe(LinkProber.Outcome(cluster: target.cluster, endpoint: target.endpoint, durationNanos: loop.now &- startedAt,
                                   succeeded: error == nil))
        if let error {
            health.failures += 1
            if health.failures == target.failureThreshold {
                down.insert(target.endpoint)
                log("link \(target.cluster): gateway \(target.endpoint) is down after \(health.failures) failed probes (\(error)); its mirrored services now fail fast")
                onChange(down)
            }
        } else {
            if health.failures >= target.failureThreshold {
                down.remove(target.endpoint)
                log("link \(target.cluster): gateway \(target.endpoint) is reachable again")
                onChange(down)
            }
            health.failures = 0
        }
        guard gateways.contains(where: { $0 === health }) else { return }
        loop.schedule(after: target.periodNanos) { [self] in
            if gateways.contains(where: { $0 === health }) { probe(health) }
        }
    }
}

/// Consecutive failures of one gateway.
private final class GatewayHealth {
    let target: LinkProber.Target
    let address: SocketAddress
    let identity: SPIFFEID
    var failures = 0
    var attempt: ProbeAttempt?

    init(target: LinkProber.Target, address: SocketAddress, identity: SPIFFEID) {
        self.target = target
        self.address = address
        self.identity = identity
    }
}

/// One connect + mTLS handshake + HTTP/2 preface, bounded by the probe timeout: the gateway
/// must present the link's identity, accept our certificate and answer with its SETTINGS.
/// The socket and TLS are a `Transport`, as on worker connections.
private final class ProbeAttempt: LoopHandler {
    unowned let state: ProberState
    let health: GatewayHealth
    private var transport: Transport?
    /// Plaintext waiting for the handshake to complete (our preface and SETTINGS).
    private var output = OutputQueue()
    private var timer: TimerID?
    private var done = false
    private var startedAt: UInt64 = 0

    init(state: ProberState, health: GatewayHealth) {
        self.state = state
        self.health = health
    }

    func start() {
        startedAt = state.loop.now
        do {
            let fd = try Sockets.connect(to: health.address)
            let transport = Transport(loop: state.loop, fd: fd, tls: TLSConnection(context: state.tls, expectedPeer: health.identity),
                                      connecting: true)
            self.transport = transport
            try transport.register(self)
        } catch {
            finish("connect: \(error)")
            return
        }
        timer = state.loop.schedule(after: health.target.timeoutNanos) { [self] in finish("timed out") }
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        guard !done, let transport else { return }
        if writable && transport.phase == .connecting {
            let error = transport.finishConnect()
            if error != 0 { return finish(SystemError("connect", code: error).description) }
            if let failure = transport.startHandshake() { return finish("tls: \(failure.reason.rawValue)") }
            return flush(transport)
        }
        guard readable || hangup else { return }
        let outcome = transport.readAvailable(
            into: state.context.readBuffer, plaintext: state.context.plaintextBuffer, countReceived: { _ in },
            handshakeCompleted: {
                HTTP2ClientPreface.withSettings.withUnsafeBytes { output.append($0) }
                return true
            },
            deliver: { _ in
                // Any application data (the gateway's SETTINGS) means it accepted us.
                finish(nil)
                return false
            })
        switch outcome {
        case .idle(let needsFlush): if needsFlush { flush(transport) }
        case .stopped: break
        case .endOfStream: finish("gateway closed the connection")
        case .failed(let reason): finish(reason)
        case .refused(let error): finish("tls: \(error.reason.rawValue)")
        }
    }

    func loopFlush() {}

    private func flush(_ transport: Transport) {
        guard !done else { return }
        if case .failed(let code) = transport.write(&output).0 {
            finish(SystemError("write", code: code).description)
        }
    }

    /// Ends the attempt and reports it; nil `error` means the gateway answered as expected.
    func finish(_ error: String?) {
        guard !done else { return }
        release()
        state.finished(health, error: error, startedAt: startedAt)
    }

    /// Ends the attempt without reporting (the prober is stopping).
    func cancel() {
        guard !done else { return }
        release()
    }

    private func release() {
        done = true
        if let timer { state.loop.cancel(timer) }
        transport?.close()
    }
}

/// The client connection preface followed by an empty SETTINGS frame.
enum HTTP2ClientPreface {
    static let withSettings: [UInt8] = HTTP2Preface.bytes + [0, 0, 0, 4, 0, 0, 0, 0, 0]
}
