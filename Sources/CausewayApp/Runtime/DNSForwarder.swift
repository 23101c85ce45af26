import CausewayDNS
import CausewayLoop
import CausewayProxy

/// Forwards questions that are not about mesh names to the upstream resolver, and relays
/// its answers.
///
/// - **UDP** questions go out on one UDP socket connected to the upstream (the kernel
///   drops datagrams from any other address), each with a fresh random id; a reply must
///   carry a waiting id and the same question, else it is dropped and counted. An answer
///   with TC set is asked again over TCP, and the full answer relayed if it fits the
///   client's size, else the client gets the header and question with TC (it asks us over
///   TCP next). An answer larger than the client's size is cut the same way: never more
///   than the client's limit goes back over UDP.
/// - **TCP** questions go to the upstream over a TCP connection of their own.
/// - At most `maxPending` questions wait at once (a question beyond gets SERVFAIL at
///   once); each waits at most the configured timeout, then gets SERVFAIL.
///
/// Loop-bound: runs on the DNS server's loop only.
final class DNSForwarder: LoopHandler {
    /// Questions waiting for the upstream at once, at most.
    static let maxPending = 1024

    /// One forwarded question.
    private final class Pending {
        /// The client's own id, restored on the answer.
        let clientID: UInt16
        let client: DNSClient
        /// The client's query, decoded and as bytes (with the client's id).
        let query: DNSQuery
        let message: [UInt8]
        /// Distinguishes this question from a later one that reuses its upstream id.
        let serial: UInt64
        /// Where the question is.
        var phase: Phase = .udp
        var timer: TimerID?

        enum Phase {
            /// Sent over UDP, waiting for the datagram.
            case udp
            /// Asked over TCP (the client came over TCP, or the UDP answer was truncated).
            case tcp(DNSUpstreamExchange)
        }

        init(clientID: UInt16, client: DNSClient, query: DNSQuery, message: [UInt8], serial: UInt64) {
            self.clientID = clientID
            self.client = client
            self.query = query
            self.message = message
            self.serial = serial
        }
    }

    private unowned let server: DNSState
    private var upstream: SocketAddress
    private var timeoutNanos: UInt64
    /// The connected UDP socket; -1 when it could not be opened (questions then fail).
    private var udpFD: Int32 = -1
    private var pending: [UInt16: Pending] = [:]
    private var serial: UInt64 = 0
    private var random = SystemRandomNumberGenerator()

    init(server: DNSState, upstream: SocketAddress, timeoutNanos: UInt64) {
        self.server = server
        self.upstream = upstream
        self.timeoutNanos = timeoutNanos
        openSocket()
    }

    private var loop: EventLoop { server.loop }

    private func openSocket() {
        do {
            let fd = try Datagrams.connect(to: upstream)
            try loop.register(fd, handler: self, interest: .read)
            udpFD = fd
        } catch {
            udpFD = -1
            server.log("dns: cannot open a UDP socket to the upstream resolver \(upstream): \(error)")
        }
    }

    /// Points forwarding at another resolver (a reload changed it): questions waiting for
    /// the old one get SERVFAIL now.
    func retarget(upstream: SocketAddress, timeoutNanos: UInt64) {
        self.timeoutNanos = timeoutNanos
        guard upstream.description != self.upstream.description else { return }
        for id in Array(pending.keys) { fail(id, .upstreamFailure) }
        closeSocket()
        self.upstream = upstream
        openSocket()
    }

    /// Forwards `query` (its bytes `message`) from `client`. Exactly one answer goes back
    /// to the client through `DNSState.send(_:to:forwarded:)` with `forwarded: true`: the
    /// upstream's, or SERVFAIL.
    func forward(_ query: DNSQuery, message: UnsafeRawBufferPointer, from client: DNSClient) {
        guard pending.count < Self.maxPending else {
            server.fail(query, message: message, to: client, outcome: .overload, forwarded: true)
            return
        }
        var id = UInt16.random(in: .min ... .max, using: &random)
        while pending[id] != nil { id = UInt16.random(in: .min ... .max, using: &random) }
        serial &+= 1
        var bytes = Array(message)
        DNSUpstreamReply.setID(id, in: &bytes)
        let entry = Pending(clientID: query.header.id, client: client, query: query, message: Array(message), serial: serial)
        pending[id] = entry
        let serial = self.serial
        entry.timer = loop.schedule(after: timeoutNanos) { [weak self] in
            guard let self, let p = self.pending[id], p.serial == serial else { return }
            p.timer = nil
            self.fail(id, .upstreamTimeout)
        }
        server.stats.set(.pendingForwards, UInt64(pending.count))
        if client.isUDP {
            let sent = udpFD >= 0 ? bytes.withUnsafeBytes { Datagrams.send(udpFD, $0, to: nil) } : .failed(0)
            if case .bytes = sent { return }
            fail(id, .upstreamFailure)
        } else {
            askOverTCP(id, entry, bytes: bytes)
        }
    }

    private func askOverTCP(_ id: UInt16, _ entry: Pending, bytes: [UInt8]) {
        do {
            let exchange = try DNSUpstreamExchange(forwarder: self, id: id, upstream: upstream, query: bytes, context: server.context)
            entry.phase = .tcp(exchange)
        } catch {
            fail(id, .upstreamFailure)
        }
    }

    // MARK: UDP replies

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        let buffer = server.context.readBuffer
        for _ in 0..<64 {
            guard udpFD >= 0, let received = Datagrams.receive(udpFD, into: buffer) else { return }
            guard received.count > 0 else { continue }
            let reply = UnsafeRawBufferPointer(rebasing: buffer[0..<received.count])
            guard !received.truncated, let id = DNSUpstreamReply.id(of: reply), let entry = pending[id], case .udp = entry.phase else {
                server.stats.count(.upstreamRepliesDropped)
                continue
            }
            let header: DNSHeader
            do {
                header = try DNSUpstreamReply.inspect(reply, answering: entry.query.question).header
            } catch {
                // A forged or stray reply: keep waiting for the real one.
                server.stats.count(.upstreamRepliesDropped)
                continue
            }
            if header.isTruncated {
                var bytes = entry.message
                DNSUpstreamReply.setID(id, in: &bytes)
                askOverTCP(id, entry, bytes: bytes)
                continue
            }
            deliver(id, entry, reply: reply, flags: header.flags)
        }
    }

    func loopFlush() {}

    // MARK: TCP replies

    /// The TCP exchange for `id` got its answer.
    func exchangeAnswered(_ id: UInt16, _ exchange: DNSUpstreamExchange, reply: UnsafeRawBufferPointer) {
        guard let entry = pending[id], case .tcp(let current) = entry.phase, current === exchange else { return }
        guard let header = try? DNSUpstreamReply.inspect(reply, answering: entry.query.question).header,
              DNSUpstreamReply.id(of: reply) == id
        else {
            server.stats.count(.upstreamRepliesDropped)
            fail(id, .upstreamFailure)
            return
        }
        deliver(id, entry, reply: reply, flags: header.flags)
    }

    /// The TCP exchange for `id` failed (connect refused, closed early, too slow to connect).
    func exchangeFailed(_ id: UInt16, _ exchange: DNSUpstreamExchange) {
        guard let entry = pending[id], case .tcp(let current) = entry.phase, current === exchange else { return }
        fail(id, .upstreamFailure)
    }

    // MARK: Completion

    private func deliver(_ id: UInt16, _ entry: Pending, reply: UnsafeRawBufferPointer, flags: UInt16) {
        // Copied first: `reply` may live in the TCP exchange that `finish` closes.
        var out = Array(reply)
        finish(id, entry)
        DNSUpstreamReply.setID(entry.clientID, in: &out)
        if out.count > entry.client.sizeLimit(for: entry.query) {
            entry.message.withUnsafeBytes { DNSResponseWriter.truncated(upstreamFlags: flags, to: entry.query, message: $0, into: &out) }
            server.stats.count(.truncated)
        }
        server.stats.count(.forwarded)
        server.send(out, to: entry.client, forwarded: true)
    }

    private func fail(_ id: UInt16, _ outcome: DNSMetric) {
        guard let entry = pending[id] else { return }
        finish(id, entry)
        entry.message.withUnsafeBytes { server.fail(entry.query, message: $0, to: entry.client, outcome: outcome, forwarded: true) }
    }

    private func finish(_ id: UInt16, _ entry: Pending) {
        pending[id] = nil
        if let timer = entry.timer { loop.cancel(timer) }
        entry.timer = nil
        if case .tcp(let exchange) = entry.phase { exchange.close() }
        server.stats.set(.pendingForwards, UInt64(pending.count))
    }

    private func closeSocket() {
        guard udpFD >= 0 else { return }
        loop.deregister(udpFD)
        Syscall.close(udpFD)
        udpFD = -1
    }

    /// Fails every waiting question and closes the sockets (the server stops).
    func close() {
        for id in Array(pending.keys) { fail(id, .upstreamFailure) }
        closeSocket()
    }
}
