#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop

/// accept: takes connections off one worker's `SO_REUSEPORT` listener and hands them to
/// the worker, refusing them at once when the worker is at its connection limit (so a
/// flood of clients cannot use the descriptors upstream connections and probes need).
final class Acceptor: LoopHandler {
    unowned(unsafe) let worker: Worker
    let listener: ListenerSpec
    /// False once the listener was closed (a pending re-arm timer must not touch the fd,
    /// which may by then belong to another socket).
    private(set) var isOpen = true

    var fd: Int32 { listener.fd }

    init(worker: Worker, listener: ListenerSpec) {
        self.worker = worker
        self.listener = listener
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        // Bounded so a connection storm cannot starve established connections.
        for _ in 0..<64 {
            switch Sockets.accept(fd) {
            case .none: return
            case .success(let client)?:
                if worker.downstreamCount >= worker.connectionLimit {
                    worker.metrics.increment(.downstreamConnectionsRejected)
                    Syscall.close(client)
                    continue
                }
                worker.accepted(fd: client, listener: listener)
            case .failure(let error)?:
                worker.log("accept on \(listener.name): \(error)", limitedBy: "accept")
                if error.code == EMFILE || error.code == ENFILE {
                    // Out of descriptors: the listener stays readable, so stop watching it
                    // for a moment instead of spinning (and logging) every pass.
                    worker.loop.modify(fd, interest: [])
                    worker.loop.schedule(after: 100_000_000) { [self] in
                        if isOpen { worker.loop.modify(fd, interest: .read) }
                    }
                }
                return
            }
        }
    }

    func loopFlush() {}

    /// Stops watching and closes the listening socket.
    func close() {
        guard isOpen else { return }
        isOpen = false
        worker.loop.deregister(fd)
        Syscall.close(fd)
    }
}
