import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayTLS

/// What a connection's socket I/O has in common on either side of the proxy: reads fed to
/// the HTTP/2 session (through TLS when the connection has it), events handed to the
/// subclass, output batched into one gathering write per loop pass, `EPOLLOUT` armed only
/// after the socket filled up.
///
/// Subclasses implement `handle(_:)` and `didClose(reason:)`. Loop-bound; not thread-safe.
class H2Connection: LoopHandler {
    /// Output beyond which the session stops producing frames and reads pause.
    static let outputHighWater = 256 * 1024

    /// The worker that owns this connection for its whole life (and outlives it: the
    /// worker is the loop's context until the thread ends). unowned(unsafe) because safe
    /// `unowned` costs an atomic on every access.
    unowned(unsafe) let worker: Worker
    /// The connected socket; -1 once closed.
    private(set) var fd: Int32
    /// Protocol state.
    let session: H2Session
    /// TLS over the socket, or nil for h2c.
    let tls: TLSConnection?
    /// Ciphertext waiting for the socket (TLS connections only).
    private var wire = OutputQueue()
    /// True once the TLS handshake completed (always true for h2c).
    private(set) var secured: Bool
    /// True once any application data was decrypted (TLS connections).
    private var receivedPlaintext = false
    private var flushScheduled = false
    private var interest: Interest = .read
    /// True once `close()` ran.
    private(set) var isClosed = false

    init(worker: Worker, fd: Int32, session: H2Session, tls: TLSConnection?) {
        self.worker = worker
        self.fd = fd
        self.session = session
        self.tls = tls
        self.secured = tls == nil
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

    /// The TLS handshake completed; return false to refuse the peer (the connection closes).
    func handshakeCompleted() -> Bool { true }

    /// The TLS handshake failed; called before the connection closes.
    func handshakeFailed(_ error: TLSError) {}

    /// The session ended with a connection error (before the socket closes).
    func sessionFailed(_ error: H2SessionError) {}

    /// Counts bytes for metrics.
    func countReceived(_ n: Int) {}
    func countSent(_ n: Int) {}

    /// The peer half-closed its side (read EOF). By default the connection closes; a
    /// subclass may keep writing the responses it still owes.
    func peerFinishedSending() {
        close(reason: "peer closed the connection")
    }

    /// Stops watching for reads for good (the peer has nothing more to send).
    final func stopReading() {
        readClosed = true
        setInterest(session.output.isEmpty && wire.isEmpty ? [] : .write)
    }

    /// Close as soon as everything queued has been written.
    final func closeAfterFlushing() {
        closeWhenDrained = true
        scheduleFlush()
    }

    private var closeWhenDrained = false

    /// True after `stopReading()`: interest changes never re-enable reads.
    private(set) var readClosed = false

    /// Called when the socket becomes writable before anything else (upstream connect).
    func socketWritable() -> Bool { true }

    /// False while the socket is not ready for writing at all (connect in progress).
    var writeEnabled: Bool { true }

    // MARK: LoopHandler

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if writable {
            guard socketWritable() else { return }
            if !isClosed { loopFlush() }
        }
        guard (readable || hangup) && !isClosed else { return }
        if !readClosed {
            readAvailable()
        } else if hangup {
            // Both directions are gone: nothing queued can be delivered any more.
            close(reason: "peer hung up")
        }
    }

    func loopFlush() {
        flushScheduled = false
        guard !isClosed else { return }
        var rounds = 0
        while true {
            do {
                // Ciphertext already waiting counts against the limit: TLS drains the
                // session's plaintext, so only this keeps a blocked TLS socket bounded.
                try session.produceOutput(limit: Self.outputHighWater - wire.pendingBytes)
            } catch {
                close(reason: "http2 error: \(error)")
                return
            }
            dispatchEvents()
            if isClosed { return }
            guard writeEnabled else { return }
            let result = writeToSocket()
            switch result {
            case .drained:
                rounds += 1
                if session.wantsWrite && secured && rounds < 8 { continue }
                if session.wantsWrite && secured { scheduleFlush() }
                setInterest(.read)
                if closeWhenDrained { close(reason: "peer closed the connection") } else if !session.isAlive { close(reason: "session finished") }
                return
            case .blocked:
                // Stop reading until the peer drains what we owe it.
                setInterest(pendingOutput >= Self.outputHighWater ? .write : [.read, .write])
                return
            case .failed(let code):
                close(reason: SystemError("writev", code: code).description)
                return
            }
        }
    }

    /// Bytes produced and not yet written (plaintext and ciphertext).
    private var pendingOutput: Int { session.output.pendingBytes + wire.pendingBytes }

    /// Writes the session's output: directly for h2c, through TLS otherwise.
    private func writeToSocket() -> FlushResult {
        let before: Int
        let result: FlushResult
        if let tls {
            if secured { encrypt(into: tls) }
            tls.takeCiphertext(into: &wire)
            before = wire.pendingBytes
            result = OutputWriter.flush(&wire, to: fd)
            countSent(before - wire.pendingBytes)
        } else {
            before = session.output.pendingBytes
            result = OutputWriter.flush(&session.output, to: fd)
            countSent(before - session.output.pendingBytes)
        }
        return result
    }

    /// Moves the session's plaintext into TLS records, packing frames into full records
    /// (one record per 9-byte frame header would multiply TLS overhead).
    private func encrypt(into tls: TLSConnection) {
        _ = tls.writePlaintext(draining: &session.output)
    }

    // MARK: Reading

    private func readAvailable() {
        let buffer = worker.readBuffer
        // Bounded so one busy connection cannot starve the others on this loop.
        for _ in 0..<8 {
            switch Syscall.read(fd, into: buffer) {
            case .bytes(0):
                if let tls {
                    tls.receivedEndOfStream()
                    if !decrypt(tls) { return }
                }
                peerFinishedSending()
                return
            case .bytes(let n):
                countReceived(n)
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                if let tls {
                    tls.feed(bytes)
                    if !decrypt(tls) { return }
                } else if !received(bytes) {
                    return
                }
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

    /// Drives the handshake, then feeds every decrypted byte to the session. Returns false
    /// if the connection was closed.
    private func decrypt(_ tls: TLSConnection) -> Bool {
        if !secured {
            switch tls.handshake() {
            case .needsIO:
                scheduleFlush()
                return true
            case .failed(let error):
                refuse(error)
                return false
            case .complete:
                secured = true
                guard handshakeCompleted() else {
                    close(reason: "peer refused after the handshake")
                    return false
                }
                scheduleFlush()
            }
        }
        let plain = worker.plaintextBuffer
        while true {
            switch tls.readPlaintext(into: plain) {
            case .bytes(let n):
                receivedPlaintext = true
                if !received(UnsafeRawBufferPointer(rebasing: plain[0..<n])) { return false }
            case .wantMore:
                // OpenSSL may owe the peer something even when no plaintext came out.
                if tls.pendingCiphertext > 0 { scheduleFlush() }
                return true
            case .closed:
                close(reason: "peer sent close_notify")
                return false
            case .failed(let error):
                // In TLS 1.3 a server refusing our certificate does so after our handshake
                // completed: that is still a handshake failure.
                if !receivedPlaintext || error.reason == .peerRejectedCertificate {
                    refuse(error)
                } else {
                    close(reason: "tls: \(error)")
                }
                return false
            }
        }
    }

    /// Sends whatever alert TLS produced, then closes.
    private func refuse(_ error: TLSError) {
        handshakeFailed(error)
        if let tls {
            tls.takeCiphertext(into: &wire)
            _ = OutputWriter.flush(&wire, to: fd)
        }
        close(reason: "tls handshake: \(error)")
    }

    /// Starts a client handshake (upstream, once the TCP connect completed).
    final func startHandshake() {
        guard let tls, !secured else { return }
        if case .failed(let error) = tls.handshake() {
            refuse(error)
            return
        }
        scheduleFlush()
    }

    /// Feeds bytes to the session and handles the events. Returns false if the connection
    /// was closed. Subclasses may intercept the first bytes (protocol detection).
    func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            try session.receive(bytes)
        } catch {
            dispatchEvents()
            sessionFailed(error)
            // nghttp2 queued a GOAWAY; try to send it, then close.
            try? session.produceOutput(limit: Self.outputHighWater)
            _ = writeToSocket()
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

    final func setInterest(_ requested: Interest) {
        let new = readClosed ? requested.subtracting(.read) : requested
        guard new != interest, !isClosed else { return }
        interest = new
        worker.loop.modify(fd, interest: new)
    }

    /// Frees buffers kept for reuse; called by the worker for connections with no stream.
    final func trimIdleMemory() {
        session.output.releaseSpare()
        wire.releaseSpare()
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
