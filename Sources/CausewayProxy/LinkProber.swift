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

    /// Starts probing. `onChange` runs on the prober's thread with the full set of gateways
    /// currently down, each time that set changes; `log` receives one line per transition.
    public static func start(
        targets: [Target], tls: TLSContext,
        onChange: @escaping @Sendable (Set<EndpointAddress>) -> Void,
        log: @escaping @Sendable (String) -> Void
    ) throws(SystemError) -> LinkProber {
        let (mailbox, join) = try LoopThread.start(name: "causeway-probe") { loop in
            let state = ProberState(loop: loop, tls: tls, onChange: onChange, log: log)
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
    let tls: TLSContext
    let onChange: @Sendable (Set<EndpointAddress>) -> Void
    let log: @Sendable (String) -> Void
    private var gateways: [GatewayHealth] = []
    private var down: Set<EndpointAddress> = []

    init(loop: EventLoop, tls: TLSContext, onChange: @escaping @Sendable (Set<EndpointAddress>) -> Void, log: @escaping @Sendable (String) -> Void) {
        self.loop = loop
        self.tls = tls
        self.onChange = onChange
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
    func finished(_ health: GatewayHealth, error: String?) {
        health.attempt = nil
        let target = health.target
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

/// One connect + mTLS handshake, bounded by the probe timeout.
private final class ProbeAttempt: LoopHandler {
    unowned let state: ProberState
    let health: GatewayHealth
    private var fd: Int32 = -1
    private var tls: TLSConnection?
    private var output = OutputQueue()
    private var timer: TimerID?
    private var connected = false
    private var secured = false
    private var done = false

    init(state: ProberState, health: GatewayHealth) {
        self.state = state
        self.health = health
    }

    func start() {
        do {
            fd = try Sockets.connect(to: health.address)
            try state.loop.register(fd, handler: self, interest: .write)
        } catch {
            finish("connect: \(error)")
            return
        }
        tls = TLSConnection(context: state.tls, expectedPeer: health.identity)
        timer = state.loop.schedule(after: health.target.timeoutNanos) { [self] in finish("timed out") }
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        guard !done, let tls else { return }
        if writable && !connected {
            let error = Sockets.pendingError(fd)
            if error != 0 { return finish(SystemError("connect", code: error).description) }
            connected = true
            state.loop.modify(fd, interest: .read)
            step(tls)
            return
        }
        if readable || hangup {
            var buffer = [UInt8](repeating: 0, count: 16384)
            switch buffer.withUnsafeMutableBytes({ Syscall.read(fd, into: $0) }) {
            case .bytes(0):
                tls.receivedEndOfStream()
            case .bytes(let n):
                buffer.withUnsafeBytes { tls.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            case .wouldBlock:
                return
            case .failed(let code):
                return finish(SystemError("read", code: code).description)
            }
            step(tls)
        }
    }

    func loopFlush() {}

    /// The client connection preface and an empty SETTINGS frame.
    private static let preface: [UInt8] = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]

    private func step(_ tls: TLSConnection) {
        if !secured {
            switch tls.handshake() {
            case .needsIO:
                break
            case .failed(let error):
                return finish("tls: \(error.reason.rawValue)")
            case .complete:
                secured = true
                _ = Self.preface.withUnsafeBytes { tls.writePlaintext($0) }
            }
        }
        if secured {
            // Any application data (the gateway's SETTINGS) means it accepted us.
            var plain = [UInt8](repeating: 0, count: 4096)
            switch plain.withUnsafeMutableBytes({ tls.readPlaintext(into: $0) }) {
            case .bytes: return finish(nil)
            case .wantMore: break
            case .closed: return finish("gateway closed the connection")
            case .failed(let error): return finish("tls: \(error.reason.rawValue)")
            }
        }
        tls.takeCiphertext(into: &output)
        if case .failed(let code) = OutputWriter.flush(&output, to: fd) {
            finish(SystemError("write", code: code).description)
        }
    }

    /// Ends the attempt and reports it; nil `error` means the gateway answered as expected.
    func finish(_ error: String?) {
        guard !done else { return }
        release()
        state.finished(health, error: error)
    }

    /// Ends the attempt without reporting (the prober is stopping).
    func cancel() {
        guard !done else { return }
        release()
    }

    private func release() {
        done = true
        if let timer { state.loop.cancel(timer) }
        if fd >= 0 {
            state.loop.deregister(fd)
            Syscall.close(fd)
            fd = -1
        }
    }
}
