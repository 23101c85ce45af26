#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop
import CausewayMesh

/// The DNS server for mesh names (`spec.dns`, `docs/dns.md`): UDP and TCP on one address,
/// on a thread and event loop of its own, never a worker's. It answers from the same
/// service table the workers route with: `ProxyServer` hands it every new table (reloads,
/// mirror updates, link health) through `update(table:)`, so names that mirroring adds at
/// run time resolve as soon as they route.
///
/// Both sockets are bound here, on the caller's thread, so a busy port is a startup error.
final class DNSServer: Sendable {
    private let mailbox: Mailbox
    private let join: @Sendable () -> Void
    /// Where it listens (port 0 resolved), UDP and TCP.
    let boundAddress: String
    /// Its counters, for `/metrics`.
    let stats: DNSStats

    static func start(config: DNSConfig, table: ServiceTable, stats: DNSStats) throws(StartupError) -> DNSServer {
        guard let address = SocketAddress(ip: config.address.host, port: config.address.port) else {
            throw StartupError("dns address \(config.address) is not an IP address")
        }
        let (udpFD, tcpFD, bound) = try bind(address)
        do {
            let (mailbox, join) = try LoopThread.start(name: "causeway-dns") { loop in
                let state = DNSState(loop: loop, config: config, table: table, stats: stats)
                loop.context = state
                state.serve(udpFD: udpFD, tcpFD: tcpFD)
            }
            return DNSServer(mailbox: mailbox, join: join, boundAddress: bound.description, stats: stats)
        } catch {
            Syscall.close(udpFD)
            Syscall.close(tcpFD)
            throw StartupError("cannot start the DNS server: \(error)")
        }
    }

    /// Binds TCP and UDP on the same port. For port 0, the port TCP got is tried for UDP,
    /// a few times over in case another process takes it in between.
    private static func bind(_ address: SocketAddress) throws(StartupError) -> (udp: Int32, tcp: Int32, bound: SocketAddress) {
        var lastError: SystemError?
        for _ in 0..<(address.port == 0 ? 8 : 1) {
            let tcp: Int32
            do {
                tcp = try Sockets.listen(on: address, reusePort: false, backlog: 64)
            } catch {
                throw StartupError("dns on \(address) (tcp): \(error)")
            }
            let bound = SocketAddress.local(of: tcp) ?? address
            do {
                let udp = try Datagrams.bind(bound)
                return (udp, tcp, bound)
            } catch {
                Syscall.close(tcp)
                lastError = error
            }
        }
        throw StartupError("dns on \(address) (udp): \(lastError.map { "\($0)" } ?? "bind failed")")
    }

    private init(mailbox: Mailbox, join: @escaping @Sendable () -> Void, boundAddress: String, stats: DNSStats) {
        self.mailbox = mailbox
        self.join = join
        self.boundAddress = boundAddress
        self.stats = stats
    }

    /// Answers from `table` from now on.
    func update(table: ServiceTable) {
        mailbox.post { loop in (loop.context as? DNSState)?.install(table: table) }
    }

    /// New settings from a reload (not the address).
    func update(config: DNSConfig) {
        mailbox.post { loop in (loop.context as? DNSState)?.install(config: config) }
    }

    /// Closes the sockets and joins the thread.
    func stop() {
        mailbox.post { loop in
            (loop.context as? DNSState)?.close()
            loop.stop()
        }
        join()
    }
}
