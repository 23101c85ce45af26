import CausewayBytes
import CausewayHTTP
import CausewayLoop

/// What a connection's socket I/O has in common on either side of the proxy: reads fed to
/// the HTTP/2 session, events handed to the subclass, output batched into one gathering
/// write per loop pass, `EPOLLOUT` armed only after the socket filled up.
///
/// Subclasses implement `handle(_:)` and `didClose()`. Loop-bound; not thread-safe.
class H2Connection: LoopHandler {
    /// Output beyond which the session stops producing frames and reads pause.
    static let outputHighWater = 256 * 1024

    /// The worker that owns this connection for its whole life.
    unowned let worker: Worker
    /// The connected socket; -1 once closed.
    private(set) var fd: Int32
    /// Protocol state.
    let session: H2Session
    private var flushScheduled = false
    private var interest: Interest = .read
    /// True once `close()` ran.
    private(set) var isClosed = false

    init(worker: Worker, fd: Int32, session: H2Session) {
        self.worker = worker
        self.fd = fd
        self.session = session
    }

    /// Starts watching the socket with `interest`.
    func register(interest: Interest) throws(SystemError) {
        self.interest = interest
        try worker.loop.register(fd, handler: self, interest: interest)
    }

    // MARK: Subclass hooks

    /// Handles the session's events. Called after every `receive` and after output is
    /// produced (the data provider reports `bodySent`).
    func handle(_ events: [H2Event]) {}

    /// Called once when the connection is closed, to fail or release its streams.
    func didClose(reason: String) {}

    /// Counts bytes for metrics.
    func countReceived(_ n: Int) {}
    func countSent(_ n: Int) {}

    /// Called when the socket becomes writable before anything else (upstream connect).
    func socketWritable() -> Bool { true }

    // MARK: LoopHandler

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if writable {
            guard socketWritable() else { return }
            if !isClosed { loopFlush() }
        }
        if (readable || hangup) && !isClosed { readAvailable() }
    }

    func loopFlush() {
        flushScheduled = false
        guard !isClosed else { return }
        var rounds = 0
        while true {
            do {
                try session.produceOutput(limit: Self.outputHighWater)
            } catch {
                close(reason: "http2 error: \(error)")
                return
            }
            dispatchEvents()
            if isClosed { return }
            guard writeEnabled else { return }
            let before = session.output.pendingBytes
            let result = OutputWriter.flush(&session.output, to: fd)
            countSent(before - session.output.pendingBytes)
            switch result {
            case .drained:
                rounds += 1
                if session.wantsWrite && rounds < 8 { continue }
                if session.wantsWrite { scheduleFlush() }
                setInterest(.read)
                if !session.isAlive { close(reason: "session finished") }
                return
            case .blocked:
                // Stop reading until the peer drains what we owe it.
                setInterest(session.output.pendingBytes >= Self.outputHighWater ? .write : [.read, .write])
                return
            case .failed(let code):
                close(reason: SystemError("writev", code: code).description)
                return
            }
        }
    }

    /// False while the socket is not ready for writing at all (connect in progress).
    var writeEnabled: Bool { true }

    // MARK: Reading

    private func readAvailable() {
        let buffer = worker.readBuffer
        // Bounded so one busy connection cannot starve the others on this loop.
        for _ in 0..<8 {
            switch Syscall.read(fd, into: buffer) {
            case .bytes(0):
                close(reason: "peer closed the connection")
                return
            case .bytes(let n):
                countReceived(n)
                if !received(UnsafeRawBufferPointer(rebasing: buffer[0..<n])) { return }
                if isClosed { return }
                if n < buffer.count { return }
            case .wouldBlock:
                return
            case .failed(let code):
                close(reason: SystemError("read", code: code).description)
                return
            }
        }
    }

    /// Feeds bytes to the session and handles the events. Returns false if the connection
    /// was closed. Subclasses may intercept the first bytes (protocol detection).
    func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            try session.receive(bytes)
        } catch {
            dispatchEvents()
            // nghttp2 queued a GOAWAY; try to send it, then close.
            try? session.produceOutput(limit: Self.outputHighWater)
            _ = OutputWriter.flush(&session.output, to: fd)
            close(reason: "http2 error: \(error)")
            return false
        }
        dispatchEvents()
        scheduleFlush()
        return !isClosed
    }

    /// Hands recorded events to the subclass, reusing the array's storage.
    final func dispatchEvents() {
        guard !session.events.isEmpty else { return }
        // Events may be appended while handling (nested produceOutput), so swap them out.
        var batch = session.events
        session.events = worker.takeSpareEventArray()
        handle(batch)
        batch.removeAll(keepingCapacity: true)
        worker.returnSpareEventArray(batch)
    }

    // MARK: Output and lifecycle

    /// Asks for one flush at the end of this loop pass.
    final func scheduleFlush() {
        guard !flushScheduled && !isClosed else { return }
        flushScheduled = true
        worker.loop.scheduleFlush(self)
    }

    final func setInterest(_ new: Interest) {
        guard new != interest, !isClosed else { return }
        interest = new
        worker.loop.modify(fd, interest: new)
    }

    /// Closes the socket and tells the subclass. Idempotent.
    func close(reason: String) {
        guard !isClosed else { return }
        isClosed = true
        worker.loop.deregister(fd)
        Syscall.close(fd)
        fd = -1
        didClose(reason: reason)
    }
}
