#if canImport(Glibc)
import Glibc
#endif
import CCausewayShims

/// Starts an `EventLoop` on a thread of its own.
public enum LoopThread {
    /// Spawns a thread that creates a loop, runs `setup` on it, then runs it until stopped.
    ///
    /// - Returns: the loop's mailbox (usable from any thread) and a join function.
    public static func start(
        name: String,
        setup: @escaping @Sendable (EventLoop) -> Void
    ) throws(SystemError) -> (mailbox: Mailbox, join: @Sendable () -> Void) {
        let mailbox = try Mailbox()
        let box = Unmanaged.passRetained(ThreadStart(name: name, mailbox: mailbox, setup: setup))
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
            start.name.withCString { causeway_set_thread_name($0) }
            do {
                let loop = try EventLoop(mailbox: start.mailbox)
                start.setup(loop)
                loop.run()
                loop.context = nil
            } catch {
                let message = "causeway: cannot start loop \(start.name): \(error)\n"
                _ = message.withCString { Glibc.write(2, $0, strlen($0)) }
            }
            return nil
        }, box.toOpaque())
        if rc != 0 {
            box.release()
            throw SystemError("pthread_create", code: rc)
        }
        let joined = JoinHandle(thread: thread)
        return (mailbox, { joined.join() })
    }
}

extension LoopThread {
    /// A loop thread serving one listening socket: the socket is bound before the thread
    /// starts (so a busy port is the caller's error) and handed to `setup` on the loop.
    public struct Listening: Sendable {
        public let mailbox: Mailbox
        public let join: @Sendable () -> Void
        /// The bound address (port 0 resolved).
        public let address: SocketAddress
    }

    /// Listens on `address`, then starts a loop thread and calls `setup` with the loop and
    /// the listening descriptor, which `setup` owns from then on.
    public static func listening(
        on address: SocketAddress, name: String, backlog: Int32 = 1024,
        setup: @escaping @Sendable (EventLoop, Int32) -> Void
    ) throws(SystemError) -> Listening {
        let fd = try Sockets.listen(on: address, reusePort: false, backlog: backlog)
        let bound = SocketAddress.local(of: fd) ?? address
        do {
            let (mailbox, join) = try start(name: name) { loop in setup(loop, fd) }
            return Listening(mailbox: mailbox, join: join, address: bound)
        } catch {
            Syscall.close(fd)
            throw error
        }
    }
}

private final class ThreadStart {
    let name: String
    let mailbox: Mailbox
    let setup: @Sendable (EventLoop) -> Void
    init(name: String, mailbox: Mailbox, setup: @escaping @Sendable (EventLoop) -> Void) {
        self.name = String(name.prefix(15))  // Linux thread names are at most 15 bytes.
        self.mailbox = mailbox
        self.setup = setup
    }
}

/// `pthread_t` is a plain integer on Linux; joining from one other thread is safe.
private final class JoinHandle: @unchecked Sendable {
    let thread: pthread_t
    init(thread: pthread_t) { self.thread = thread }
    func join() { pthread_join(thread, nil) }
}
