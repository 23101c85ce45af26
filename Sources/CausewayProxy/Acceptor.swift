#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop

/// What an `Acceptor` hands connections to: a worker, or any other loop's server (admin).
/// Loop-bound.
public protocol AcceptTarget: AnyObject {
    /// The loop the listener and its connections live on.
    var acceptLoop: EventLoop { get }
    /// Connections open now.
    var openConnections: Int { get }
    /// Most connections served at once; more are closed at accept.
    var connectionLimit: Int { get }
    /// A new connection (non-blocking, `TCP_NODELAY`) from `acceptor`: the target owns `fd`.
    func accepted(fd: Int32, from acceptor: Acceptor)
    /// A connection was closed at accept because the target is at its limit.
    func rejectedAtLimit(_ acceptor: Acceptor)
    /// `accept` failed (not EAGAIN); reported once per failing pass.
    func acceptFailed(_ error: SystemError, acceptor: Acceptor)
}

/// accept: takes connections off a listening socket and hands them to its target, refusing
/// them at once when the target is at its connection limit (so a flood of clients cannot
/// use the descriptors upstream connections and probes need), and pausing for 100 ms when
/// the process is out of descriptors (instead of spinning on a listener that stays
/// readable). Used by workers and by the admin server.
public final class Acceptor: LoopHandler {
    unowned(unsafe) let target: AcceptTarget
    /// The listening socket (non-blocking), owned by the acceptor.
    public let fd: Int32
    /// The listener's name, for logs.
    public let name: String
    /// The target's own number for this listener (which listener a connection came from).
    public let tag: Int
    /// False once the listener was closed (a pending re-arm timer must not touch the fd,
    /// which may by then belong to another socket).
    public private(set) var isOpen = true

    private var loop: EventLoop { target.acceptLoop }

    /// - Parameter target: must outlive the acceptor (it owns it).
    public init(target: AcceptTarget, fd: Int32, name: String, tag: Int = 0) {
        self.target = target
        self.fd = fd
        self.name = name
        self.tag = tag
    }

    /// Starts watching the listening socket.
    public func start() throws(SystemError) {
        try loop.register(fd, handler: self, interest: .read)
    }

    public func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        // Bounded so a connection storm cannot starve established connections.
        for _ in 0..<64 {
            switch Sockets.accept(fd) {
            case .none: return
            case .success(let client)?:
                if target.openConnections >= target.connectionLimit {
                    target.rejectedAtLimit(self)
                    Syscall.close(client)
                    continue
                }
                target.accepted(fd: client, from: self)
            case .failure(let error)?:
                target.acceptFailed(error, acceptor: self)
                if error.code == EMFILE || error.code == ENFILE {
                    loop.modify(fd, interest: [])
                    loop.schedule(after: 100_000_000) { [self] in
                        if isOpen { loop.modify(fd, interest: .read) }
                    }
                }
                return
            }
        }
    }

    public func loopFlush() {}

    /// Stops watching and closes the listening socket.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        loop.deregister(fd)
        Syscall.close(fd)
    }
}
