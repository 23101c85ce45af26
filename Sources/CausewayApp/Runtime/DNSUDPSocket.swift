import CausewayLoop

/// The DNS server's UDP socket: reads datagrams (a bounded number per readiness event, so
/// a flood cannot starve TCP clients and the forwarder) and hands each to `DNSState`.
/// Datagrams larger than the read buffer are dropped as malformed.
///
/// Loop-bound.
final class DNSUDPSocket: LoopHandler {
    private unowned let server: DNSState
    let fd: Int32
    private var isOpen = true

    init(server: DNSState, fd: Int32) {
        self.server = server
        self.fd = fd
    }

    func start() throws(SystemError) {
        try server.loop.register(fd, handler: self, interest: .read)
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        let buffer = server.context.readBuffer
        for _ in 0..<64 {
            guard isOpen, let received = Datagrams.receive(fd, into: buffer) else { return }
            guard let from = received.from else { continue }
            guard !received.truncated else {
                server.stats.count(.malformed)
                continue
            }
            server.process(UnsafeRawBufferPointer(rebasing: buffer[0..<received.count]), from: .udp(from))
        }
    }

    func loopFlush() {}

    func close() {
        guard isOpen else { return }
        isOpen = false
        server.loop.deregister(fd)
        Syscall.close(fd)
    }
}
