#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayHTTP
import CausewayLoop

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
                let acceptor = DemoAcceptor(loop: loop, fd: fd, name: name)
                loop.context = acceptor
                do { try loop.register(fd, handler: acceptor, interest: .read) } catch { Syscall.close(fd) }
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

private final class DemoAcceptor: LoopHandler {
    let loop: EventLoop
    let fd: Int32
    let name: String
    var connections: [ObjectIdentifier: DemoConnection] = [:]

    init(loop: EventLoop, fd: Int32, name: String) {
        self.loop = loop
        self.fd = fd
        self.name = name
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        while case .success(let client)? = Sockets.accept(fd) {
            let c = DemoConnection(acceptor: self, fd: client)
            do {
                try loop.register(client, handler: c, interest: .read)
                connections[ObjectIdentifier(c)] = c
            } catch {
                Syscall.close(client)
            }
        }
    }

    func loopFlush() {}
}

private final class DemoConnection: LoopHandler {
    unowned let acceptor: DemoAcceptor
    var fd: Int32
    let session = H2Session(role: .server, settings: H2Settings())
    var requests: [Int32: HeaderBlock] = [:]

    init(acceptor: DemoAcceptor, fd: Int32) {
        self.acceptor = acceptor
        self.fd = fd
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while fd >= 0 {
            let r = buffer.withUnsafeMutableBytes { Syscall.read(fd, into: $0) }
            guard case .bytes(let n) = r, n > 0 else {
                if r != .wouldBlock { close() }
                break
            }
            do {
                try buffer.withUnsafeBytes { try session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            } catch {
                close()
                return
            }
            handleEvents()
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
        hello from \(acceptor.name)
        request: \(request.value(of: ":method") ?? "?") \(request.value(of: ":authority") ?? "?")\(request.value(of: ":path") ?? "?")
        caller: \(request.value(of: "x-forwarded-client-cert") ?? "(no x-forwarded-client-cert)")

        """
        let body = H2OutboundBody()
        var t = text
        t.withUTF8 { session.send(UnsafeRawBufferPointer($0), on: body) }
        session.finish(body)
        session.submitResponse(streamID: id, HeaderBlock([
            (":status", "200"), ("content-type", "text/plain; charset=utf-8"),
            ("content-length", String(body.bufferedBytes)), ("x-demo-backend", acceptor.name),
        ]), body: body)
    }

    private func flush() {
        guard fd >= 0 else { return }
        do { try session.produceOutput(limit: 1 << 20) } catch { close(); return }
        session.events.removeAll()
        switch OutputWriter.flush(&session.output, to: fd) {
        case .drained: acceptor.loop.modify(fd, interest: .read)
        case .blocked: acceptor.loop.modify(fd, interest: [.read, .write])
        case .failed: close()
        }
        if !session.isAlive { close() }
    }

    private func close() {
        guard fd >= 0 else { return }
        acceptor.loop.deregister(fd)
        Syscall.close(fd)
        fd = -1
        acceptor.connections[ObjectIdentifier(self)] = nil
    }
}
