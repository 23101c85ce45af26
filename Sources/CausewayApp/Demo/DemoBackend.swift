#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayProxy

/// A small h2c responder for the demo: answers every request with 200 and a text body
/// naming the backend, the request, and the caller identity the gateway forwarded in
/// `x-forwarded-client-cert`. Request bodies are read and discarded.
final class DemoBackend: Sendable {
    private let mailbox: Mailbox
    private let join: @Sendable () -> Void
    /// Where it listens.
    let address: String

    /// Starts the responder on `host:port` (port 0 picks one) on a thread of its own.
    static func start(host: String, port: UInt16, name: String) throws(StartupError) -> DemoBackend {
        guard let socketAddress = SocketAddress(ip: host, port: port) else { throw StartupError("\(host) is not an IP address") }
        do {
            let thread = try LoopThread.listening(on: socketAddress, name: "causeway-demo") { loop, fd in
                let server = DemoServer(loop: loop, name: name)
                loop.context = server
                do { try server.listen(fd: fd) } catch { Syscall.close(fd) }
            }
            return DemoBackend(mailbox: thread.mailbox, join: thread.join, address: thread.address.description)
        } catch {
            throw StartupError("demo backend on \(host):\(port): \(error)")
        }
    }

    private init(mailbox: Mailbox, join: @escaping @Sendable () -> Void, address: String) {
        self.mailbox = mailbox
        self.join = join
        self.address = address
    }

    func stop() {
        mailbox.post { $0.stop() }
        join()
    }
}

/// The demo responder's loop: the shared `Acceptor` hands it connections.
private final class DemoServer: AcceptTarget {
    let loop: EventLoop
    let context: LoopContext
    let name: String
    var connections: [ObjectIdentifier: DemoConnection] = [:]
    private var acceptor: Acceptor?

    init(loop: EventLoop, name: String) {
        self.loop = loop
        self.context = LoopContext(loop: loop)
        self.name = name
    }

    func listen(fd: Int32) throws(SystemError) {
        let acceptor = Acceptor(target: self, fd: fd, name: "demo")
        try acceptor.start()
        self.acceptor = acceptor
    }

    var acceptLoop: EventLoop { loop }
    var openConnections: Int { connections.count }
    var connectionLimit: Int { 1024 }

    func accepted(fd: Int32, from acceptor: Acceptor) {
        let c = DemoConnection(server: self, fd: fd)
        do {
            try c.transport.register(c)
            connections[ObjectIdentifier(c)] = c
        } catch {
            Syscall.close(fd)
        }
    }

    func rejectedAtLimit(_ acceptor: Acceptor) {}
    func acceptFailed(_ error: SystemError, acceptor: Acceptor) {}
}

/// One h2c connection to the demo responder, its socket a `Transport`.
private final class DemoConnection: LoopHandler {
    unowned let server: DemoServer
    let transport: Transport
    let session = H2Session(role: .server, settings: H2Settings())
    var requests: [Int32: HeaderBlock] = [:]

    init(server: DemoServer, fd: Int32) {
        self.server = server
        self.transport = Transport(loop: server.loop, fd: fd, tls: nil, connecting: false)
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if readable || hangup {
            let outcome = transport.readAvailable(
                into: server.context.readBuffer, plaintext: server.context.plaintextBuffer, countReceived: { _ in },
                handshakeCompleted: { true },
                deliver: { bytes in
                    do { try session.receive(bytes) } catch { close(); return false }
                    handleEvents()
                    return true
                })
            switch outcome {
            case .idle, .stopped: break
            case .endOfStream, .failed, .refused: close()
            }
        }
        flush()
    }

    func loopFlush() { flush() }

    private func handleEvents() {
        for event in session.events {
            switch event {
            case .headers(let id, let block, let endStream):
                requests[id] = block
                if endStream { respond(id) }
            case .data(let id, let bytes):
                session.consume(streamID: id, count: bytes.count)
            case .endStream(let id):
                respond(id)
            case .streamClosed(let id, _):
                requests[id] = nil
            default:
                break
            }
        }
        session.events.removeAll()
    }

    private func respond(_ id: Int32) {
        guard let request = requests[id] else { return }
        let text = """
        hello from \(server.name)
        request: \(request.value(of: ":method") ?? "?") \(request.value(of: ":authority") ?? "?")\(request.value(of: ":path") ?? "?")
        caller: \(request.value(of: "x-forwarded-client-cert") ?? "(no x-forwarded-client-cert)")

        """
        let body = H2OutboundBody()
        var t = text
        t.withUTF8 { session.send(UnsafeRawBufferPointer($0), on: body) }
        session.finish(body)
        session.submitResponse(streamID: id, HeaderBlock([
            (":status", "200"), ("content-type", "text/plain; charset=utf-8"),
            ("content-length", String(body.bufferedBytes)), ("x-demo-backend", server.name),
        ]), body: body)
    }

    private func flush() {
        guard !transport.isClosed else { return }
        do { try session.produceOutput(limit: 1 << 20) } catch { close(); return }
        session.events.removeAll()
        switch transport.write(&session.output).0 {
        case .drained: transport.setWantsWrite(false)
        case .blocked: transport.setWantsWrite(true)
        case .failed: close()
        }
        if !session.isAlive { close() }
    }

    private func close() {
        guard !transport.isClosed else { return }
        transport.close()
        server.connections[ObjectIdentifier(self)] = nil
    }
}
