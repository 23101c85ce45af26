import CausewayDNS
import CausewayLoop
import CausewayProxy

/// Forwards questions that are not about mesh names to the upstream resolver, and relays
/// its answers.
///
/// - **UDP** questions go out on UDP sockets connected to the upstream (the kernel drops
///   datagrams from any other address), each with a fresh random id, on one of
///   `activeSockets` sockets picked at random. Each socket has a source port the kernel
///   picked at random and carries at most `questionsPerSocket` questions, then a fresh one
///   takes its place (it closes once its last question is done), so a forged reply must
///   guess the port as well as the id (RFC 5452 §9.2); at most `maxSockets` are open at
///   once. A reply must come on the socket its question left by and carry a waiting id and
///   the same question, else it is dropped and counted. An answer
///   with TC set is asked again over TCP, and the full answer relayed if it fits the
///   client's size, else the client gets the header and question with TC (it asks us over
///   TCP next). An answer larger than the client's size is cut the same way: never more
///   than the client's limit goes back over UDP.
/// - **TCP** questions go to the upstream over a TCP connection of their own.
/// - At most `maxPending` questions wait at once (a question beyond gets SERVFAIL at
///   once); each waits at most the configured timeout, then gets SERVFAIL.
///
/// Loop-bound: runs on the DNS server's loop only.
final class DNSForwarder {
    /// Questions waiting for the upstream at once, at most.
    static let maxPending = 1024
    /// UDP sockets questions are spread over (each one picked at random).
    static let activeSockets = 4
    /// Questions one UDP socket (one source port) carries before a fresh one replaces it.
    static let questionsPerSocket = 16
    /// UDP sockets open at once at most, those still waiting for the replies to their last
    /// questions included; at this bound a socket is used past `questionsPerSocket` until
    /// one closes.
    static let maxSockets = 64

    /// One UDP socket connected to the upstream, from a random source port.
    final class UpstreamSocket: LoopHandler {
        private unowned let forwarder: DNSForwarder
        let fd: Int32
        /// Its local (source) port.
        let localPort: UInt16
        /// Questions sent on it so far.
        var sent = 0
        /// Its questions still waiting for a UDP reply.
        var waiting = 0
        /// Replaced: takes no more questions, closes when `waiting` is 0.
        var retired = false
        private(set) var isOpen = true

        init(forwarder: DNSForwarder, fd: Int32) {
            self.forwarder = forwarder
            self.fd = fd
            localPort = SocketAddress.local(of: fd)?.port ?? 0
        }

        func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
            forwarder.readReplies(on: self)
        }

        func loopFlush() {}

        func close(loop: EventLoop) {
            guard isOpen else { return }
            isOpen = false
            loop.deregister(fd)
            Syscall.close(fd)
        }
    }

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
        var phase: Phase = .unsent
        var timer: TimerID?

        enum Phase {
            /// Not sent yet.
            case unsent
            /// Sent over UDP on this socket, waiting for the datagram.
            case udp(UpstreamSocket)
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
    /// The UDP sockets new questions go out on (opened as questions need them).
    private var active: [UpstreamSocket] = []
    /// Replaced sockets still waiting for replies, by identity.
    private var retiring: [ObjectIdentifier: UpstreamSocket] = [:]
    /// Local ports of the open upstream sockets (with how many sockets hold each: v4 and v6
    /// may share a number).
    private var ownPorts: [UInt16: Int] = [:]

    /// True when `port` is the source port of one of our own upstream sockets: a question
    /// from there is one we forwarded, redirected back to us (capture without the mark).
    func isOwnSourcePort(_ port: UInt16) -> Bool { port != 0 && ownPorts[port] != nil }

    private func closeSocket(_ socket: UpstreamSocket) {
        guard socket.isOpen else { return }
        socket.close(loop: loop)
        if let n = ownPorts[socket.localPort] { ownPorts[socket.localPort] = n > 1 ? n - 1 : nil }
    }
    /// A failure to open a socket was logged (once until one opens again).
    private var loggedOpenFailure = false
    private var pending: [UInt16: Pending] = [:]
    private var serial: UInt64 = 0
    private var random = SystemRandomNumberGenerator()

    init(server: DNSState, upstream: SocketAddress, timeoutNanos: UInt64) {
        self.server = server
        self.upstream = upstream
        self.timeoutNanos = timeoutNanos
    }

    private var loop: EventLoop { server.loop }

    /// UDP sockets open now (active and retiring).
    var openSockets: Int { active.count + retiring.count }

    /// A socket for the next UDP question: a random one of the active set, filled up to
    /// `activeSockets` first. Nil when none can be opened.
    private func socketForQuestion() -> UpstreamSocket? {
        while active.count < Self.activeSockets, openSockets < Self.maxSockets, let socket = openSocket() {
            active.append(socket)
        }
        return active.randomElement(using: &random)
    }

    private func openSocket() -> UpstreamSocket? {
        do {
            let fd = try Datagrams.connect(to: upstream)
            let socket = UpstreamSocket(forwarder: self, fd: fd)
            do {
                try loop.register(fd, handler: socket, interest: .read)
            } catch {
                Syscall.close(fd)
                throw error
            }
            ownPorts[socket.localPort, default: 0] += 1
            loggedOpenFailure = false
            return socket
        } catch {
            if !loggedOpenFailure {
                loggedOpenFailure = true
                server.log("dns: cannot open a UDP socket to the upstream resolver \(upstream): \(error)")
            }
            return nil
        }
    }

    /// `socket` carried one more question: past `questionsPerSocket`, a fresh one takes its
    /// place (unless `maxSockets` are open).
    private func sentOne(on socket: UpstreamSocket) {
        socket.sent += 1
        guard !socket.retired, socket.sent >= Self.questionsPerSocket, openSockets < Self.maxSockets else { return }
        socket.retired = true
        active.removeAll { $0 === socket }
        if socket.waiting == 0 {
            closeSocket(socket)
        } else {
            retiring[ObjectIdentifier(socket)] = socket
        }
    }

    /// A question of `socket` is done with UDP (answered, failed, or moved to TCP).
    private func release(_ socket: UpstreamSocket) {
        socket.waiting -= 1
        if socket.retired, socket.waiting == 0 {
            retiring[ObjectIdentifier(socket)] = nil
            closeSocket(socket)
        }
    }

    /// Points forwarding at another resolver (a reload changed it): questions waiting for
    /// the old one get SERVFAIL now.
    func retarget(upstream: SocketAddress, timeoutNanos: UInt64) {
        self.timeoutNanos = timeoutNanos
        guard upstream.description != self.upstream.description else { return }
        for id in Array(pending.keys) { fail(id, .upstreamFailure) }
        closeSockets()
        self.upstream = upstream
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
            guard let socket = socketForQuestion() else { return fail(id, .upstreamFailure) }
            entry.phase = .udp(socket)
            socket.waiting += 1
            let sent = bytes.withUnsafeBytes { Datagrams.send(socket.fd, $0, to: nil) }
            sentOne(on: socket)
            if case .bytes = sent { return }
            fail(id, .upstreamFailure)
        } else {
            askOverTCP(id, entry, bytes: bytes)
        }
    }

    private func askOverTCP(_ id: UInt16, _ entry: Pending, bytes: [UInt8]) {
        if case .udp(let socket) = entry.phase {
            entry.phase = .unsent
            release(socket)
        }
        do {
            let exchange = try DNSUpstreamExchange(forwarder: self, id: id, upstream: upstream, query: bytes, context: server.context)
            entry.phase = .tcp(exchange)
        } catch {
            fail(id, .upstreamFailure)
        }
    }

    // MARK: UDP replies

    /// Reads the datagrams waiting on `socket` (64 at most per readiness event).
    func readReplies(on socket: UpstreamSocket) {
        let buffer = server.context.readBuffer
        for _ in 0..<64 {
            guard socket.isOpen, let received = Datagrams.receive(socket.fd, into: buffer) else { return }
            guard received.count > 0 else { continue }
            let reply = UnsafeRawBufferPointer(rebasing: buffer[0..<received.count])
            // The reply must come on the socket (the source port) its question left by.
            guard !received.truncated, let id = DNSUpstreamReply.id(of: reply), let entry = pending[id],
                  case .udp(let sentOn) = entry.phase, sentOn === socket
            else {
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
        switch entry.phase {
        case .tcp(let exchange): exchange.close()
        case .udp(let socket): release(socket)
        case .unsent: break
        }
        entry.phase = .unsent
        server.stats.set(.pendingForwards, UInt64(pending.count))
    }

    /// Closes every UDP socket (no question waits on them any more).
    private func closeSockets() {
        for socket in active + Array(retiring.values) { closeSocket(socket) }
        active.removeAll()
        retiring.removeAll()
    }

    /// Fails every waiting question and closes the sockets (the server stops).
    func close() {
        for id in Array(pending.keys) { fail(id, .upstreamFailure) }
        closeSockets()
    }
}
