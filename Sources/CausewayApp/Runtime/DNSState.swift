#if canImport(Glibc)
import Glibc
#endif
import CausewayDNS
import CausewayLoop
import CausewayMesh
import CausewayProxy

/// The DNS server's loop state (the loop's `context`): the sockets, the answerer built
/// from the latest service table, the forwarder, and the one place every query goes
/// through (`process`).
///
/// Loop-bound: created and used on the DNS thread only.
final class DNSState: AcceptTarget {
    let loop: EventLoop
    /// The loop's shared read buffers.
    let context: LoopContext
    let stats: DNSStats
    private(set) var config: DNSConfig
    private var table: ServiceTable
    private var answerer: MeshNameAnswerer
    private(set) var forwarder: DNSForwarder!
    private var udp: DNSUDPSocket?
    private var acceptor: Acceptor?
    private var connections: [ObjectIdentifier: DNSTCPConnection] = [:]
    /// Collision and range notes already logged (each is logged once).
    private var logged: Set<String> = []
    /// Answers are built here (its storage is reused).
    private var scratch: [UInt8] = []
    /// Who is answered (everyone on loopback, else this host's addresses only).
    private var sources: DNSSourceFilter

    /// TCP connections served at once.
    static let maxConnections = 64

    init(loop: EventLoop, config: DNSConfig, table: ServiceTable, stats: DNSStats) {
        self.loop = loop
        self.context = LoopContext(loop: loop)
        self.config = config
        self.table = table
        self.stats = stats
        sources = DNSSourceFilter(listeningOn: config.address, now: loop.now)
        answerer = Self.answerer(table: table, config: config)
        let upstream = SocketAddress(ip: config.upstream.address.host, port: config.upstream.address.port)!
        forwarder = DNSForwarder(server: self, upstream: upstream, timeoutNanos: config.upstreamTimeoutNanos)
        logAllocationNotes()
    }

    /// Starts serving the bound sockets (they belong to this state from now on).
    func serve(udpFD: Int32, tcpFD: Int32) {
        do {
            let udp = DNSUDPSocket(server: self, fd: udpFD)
            try udp.start()
            self.udp = udp
        } catch {
            log("dns: cannot watch the UDP socket: \(error)")
            Syscall.close(udpFD)
        }
        let acceptor = Acceptor(target: self, fd: tcpFD, name: "dns")
        do {
            try acceptor.start()
            self.acceptor = acceptor
        } catch {
            log("dns: cannot watch the TCP socket: \(error)")
            Syscall.close(tcpFD)
        }
        scheduleSweep()
    }

    // MARK: Table and settings

    /// Answers from `table` from now on (a reload, a mirror change, link health).
    func install(table: ServiceTable) {
        let names = MeshNameAnswerer.names(of: table)
        self.table = table
        if names == MeshNameAnswerer.names(of: answerer.table) {
            // Same names: same addresses; only the indexes may have moved.
            answerer = MeshNameAnswerer(table: table, ipv4: answerer.ipv4, ipv6: answerer.ipv6)
        } else {
            answerer = Self.answerer(table: table, config: config)
            logAllocationNotes()
        }
    }

    /// New settings from a reload (the address stays: it changes with a restart).
    func install(config: DNSConfig) {
        let rangesChanged = config.virtualIPs != self.config.virtualIPs || config.virtualIPv6s != self.config.virtualIPv6s
        self.config = config
        if rangesChanged {
            answerer = Self.answerer(table: table, config: config)
            logAllocationNotes()
        }
        let upstream = SocketAddress(ip: config.upstream.address.host, port: config.upstream.address.port)!
        forwarder.retarget(upstream: upstream, timeoutNanos: config.upstreamTimeoutNanos)
    }

    private static func answerer(table: ServiceTable, config: DNSConfig) -> MeshNameAnswerer {
        let names = MeshNameAnswerer.names(of: table)
        return MeshNameAnswerer(table: table, ipv4: VirtualIPAllocation(names: names, range: config.virtualIPs),
                                ipv6: config.virtualIPv6s.map { VirtualIPAllocation(names: names, range: $0) })
    }

    /// Logs collisions and names left without an address, each once per process.
    private func logAllocationNotes() {
        for allocation in [answerer.ipv4] + (answerer.ipv6.map { [$0] } ?? []) {
            for c in allocation.collisions {
                note("dns: virtual IP \(c.address) of \(allocation.range) is wanted by \(c.takenBy) and \(c.name); \(c.name) gets \(allocation.address(of: c.name).map(VirtualIPRange.text(of:)) ?? "none") (the name that sorts first keeps it)")
            }
            if !allocation.unallocated.isEmpty {
                note("dns: \(allocation.range) holds \(allocation.range.capacity) virtual IPs, too few for \(allocation.count + allocation.unallocated.count) services; without one (SERVFAIL): \(allocation.unallocated.prefix(10).joined(separator: ", "))\(allocation.unallocated.count > 10 ? " and \(allocation.unallocated.count - 10) more" : "")")
            }
        }
    }

    private func note(_ text: String) {
        if logged.insert(text).inserted { log(text) }
    }

    // MARK: Queries

    /// Answers, forwards or drops one message from `client`.
    func process(_ message: UnsafeRawBufferPointer, from client: DNSClient) {
        // TCP clients were checked at accept; a datagram's source is checked here, before
        // any work on what it holds.
        if case .udp(let address) = client, !sources.admits(DNSSourceFilter.bytes(of: address), now: loop.now) {
            stats.count(.refusedSource)
            return
        }
        // Our own forwarded question, sent back to us by a redirect that did not skip the
        // proxy's traffic: forwarding it again would loop until the pending table filled.
        if case .udp(let address) = client, forwarder.isOwnSourcePort(address.port) {
            stats.count(.forwardingLoop)
            return
        }
        // Only a well-formed message gets any answer: garbage, whatever its opcode, is dropped.
        let query: DNSQuery
        do {
            query = try DNSQuery.decode(message)
        } catch {
            stats.count(.malformed)
            return
        }
        guard query.header.opcode == 0 else {
            DNSResponseWriter.headerOnly(id: query.header.id, queryFlags: query.header.flags, code: .notImplemented, into: &scratch)
            stats.count(.unsupported)
            send(scratch, to: client, forwarded: false)
            return
        }
        if let edns = query.edns, edns.version != 0 {
            respond(query, message, code: .badVersion, authoritative: false, answers: [], to: client, outcome: .unsupported)
            return
        }
        switch answerer.answer(query.question) {
        case .addresses(_, let records):
            respond(query, message, code: .noError, authoritative: true, answers: records, to: client, outcome: .mesh)
        case .noData:
            respond(query, message, code: .noError, authoritative: true, answers: [], to: client, outcome: .mesh)
        case .nameError:
            respond(query, message, code: .nameError, authoritative: true, answers: [], to: client, outcome: .nameError)
        case .noAddress:
            fail(query, message: message, to: client, outcome: .noVirtualIP, forwarded: false)
        case .forward:
            if case .tcp(let connection) = client { connection.forwarded() }
            forwarder.forward(query, message: message, from: client)
        }
    }

    private func respond(_ query: DNSQuery, _ message: UnsafeRawBufferPointer, code: DNSResponseCode, authoritative: Bool,
                         answers: [DNSAnswerRecord], to client: DNSClient, outcome: DNSMetric) {
        let limit = client.sizeLimit(for: query)
        DNSResponseWriter.respond(to: query, message: message, code: code, authoritative: authoritative, answers: answers,
                                  limit: limit, into: &scratch)
        // TC is bit 1 of the third byte (0x0200 of the flags).
        if scratch[2] & 0x02 != 0 { stats.count(.truncated) }
        stats.count(outcome)
        send(scratch, to: client, forwarded: false)
    }

    /// Answers SERVFAIL (or another failure code) with the question, counting `outcome`.
    func fail(_ query: DNSQuery, message: UnsafeRawBufferPointer, to client: DNSClient, outcome: DNSMetric, forwarded: Bool) {
        var out: [UInt8] = []
        DNSResponseWriter.failure(to: query, message: message, code: .serverFailure, into: &out)
        stats.count(outcome)
        send(out, to: client, forwarded: forwarded)
    }

    /// Sends one answer to `client`. `forwarded`: it answers a forwarded question.
    func send(_ message: [UInt8], to client: DNSClient, forwarded: Bool) {
        switch client {
        case .udp(let address):
            // A full socket buffer drops the answer, as the network could: the client asks again.
            if let udp { _ = message.withUnsafeBytes { Datagrams.send(udp.fd, $0, to: address) } }
        case .tcp(let connection):
            connection.send(message, wasForwarded: forwarded)
        }
    }

    // MARK: TCP connections

    var acceptLoop: EventLoop { loop }
    var openConnections: Int { connections.count }
    var connectionLimit: Int { Self.maxConnections }

    func accepted(fd: Int32, from acceptor: Acceptor) {
        if sources.restricted {
            guard let peer = DNSSourceFilter.peer(of: fd), sources.admits(peer, now: loop.now) else {
                stats.count(.refusedSource)
                Syscall.close(fd)
                return
            }
        }
        let connection = DNSTCPConnection(server: self, fd: fd)
        do {
            try connection.start()
            connections[ObjectIdentifier(connection)] = connection
        } catch {
            Syscall.close(fd)
        }
    }

    func rejectedAtLimit(_ acceptor: Acceptor) {
        stats.count(.tcpConnectionsRejected)
    }

    func acceptFailed(_ error: SystemError, acceptor: Acceptor) {}

    func connectionClosed(_ connection: DNSTCPConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    /// Once a second: close idle TCP connections, and those with a message unfinished for
    /// too long (`DNSTCPConnection.isExpired`).
    private func scheduleSweep() {
        loop.schedule(after: 1_000_000_000) { [weak self] in
            guard let self, self.acceptor != nil else { return }
            let now = self.loop.now
            for (_, c) in self.connections where c.isExpired(now: now) { c.close() }
            self.scheduleSweep()
        }
    }

    // MARK: Lifecycle

    /// Closes every socket and fails waiting questions.
    func close() {
        forwarder.close()
        udp?.close()
        udp = nil
        acceptor?.close()
        acceptor = nil
        for (_, c) in connections { c.close() }
    }

    func log(_ line: String) {
        var text = "causeway: \(line)\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
