import CausewayBytes
import CausewayHTTP
import CausewayLoop
import CausewayTLS

/// The HTTP/2 codec bound to a transport: bytes the `Transport` reads go to the
/// `H2Session`, its events to the subclass, its frames back to the transport in one
/// gathering write per loop pass; the session stops producing at the output high-water
/// mark and reads pause until the peer catches up.
///
/// Subclasses implement `handle(_:)` and `didClose(reason:)`. Loop-bound; not thread-safe.
class H2Connection: LoopHandler {
    /// Output beyond which the session stops producing frames and reads pause.
    static let outputHighWater = 256 * 1024

    /// The loop and buffers this connection lives on (and that outlive it).
    /// unowned(unsafe) because safe `unowned` costs an atomic on every access.
    unowned(unsafe) let context: LoopContext
    /// The socket and its TLS.
    let transport: Transport
    /// Protocol state.
    let session: H2Session
    private var flushScheduled = false
    /// Close as soon as everything queued has been written.
    private var closeWhenDrained = false
    /// When the socket last took bytes, or had nothing waiting (monotonic ns): a peer that
    /// takes nothing for long is closed by its owner's sweep, since nothing else — not even
    /// a RST_STREAM, queued behind the output — reaches it.
    private(set) var lastWriteProgress: UInt64
    /// The socket's unacknowledged bytes at the last `noteKernelProgress` (-1: unknown).
    private var lastUnacknowledged = -1

    /// - Parameter connecting: true for an upstream socket whose connect is in progress.
    init(context: LoopContext, fd: Int32, session: H2Session, tls: TLSConnection?, connecting: Bool) {
        self.context = context
        self.transport = Transport(loop: context.loop, fd: fd, tls: tls, connecting: connecting)
        self.session = session
        self.lastWriteProgress = context.loop.now
    }

    /// TLS over the socket, or nil for h2c.
    final var tls: TLSConnection? { transport.tls }
    /// The socket (-1 once closed).
    final var fd: Int32 { transport.fd }
    /// True once the TLS handshake completed (always true for h2c once connected).
    final var secured: Bool { transport.isEstablished }
    /// True once `close()` ran.
    final var isClosed: Bool { transport.isClosed }

    /// Starts watching the socket.
    final func register() throws(SystemError) {
        try transport.register(self)
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

    /// The TCP connect completed (h2c: the connection is ready; TLS: the handshake starts).
    func connected() {}

    /// The TCP connect failed with `code` (errno); the connection is then closed.
    func connectFailed(code: Int32) {
        close(reason: SystemError("connect", code: code).description)
    }

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

    /// Close as soon as everything queued has been written.
    final func closeAfterFlushing() {
        closeWhenDrained = true
        scheduleFlush()
    }

    // MARK: LoopHandler

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if writable {
            if transport.phase == .connecting && !finishConnect() { return }
            if !isClosed { loopFlush() }
        }
        guard (readable || hangup) && !isClosed else { return }
        if transport.peerFinished {
            // Both directions are gone: nothing queued can be delivered any more.
            if hangup { close(reason: "peer hung up") }
            return
        }
        readAvailable()
    }

    /// The connect completed or failed; returns false if the connection is not usable.
    private func finishConnect() -> Bool {
        let error = transport.finishConnect()
        guard error == 0 else {
            connectFailed(code: error)
            return false
        }
        connected()
        if tls != nil {
            startHandshake()
            return false
        }
        return true
    }

    func loopFlush() {
        flushScheduled = false
        guard !isClosed else { return }
        var rounds = 0
        while true {
            do {
                // Ciphertext already waiting counts against the limit: TLS drains the
                // session's plaintext, so only this keeps a blocked TLS socket bounded.
                try session.produceOutput(limit: Self.outputHighWater - transport.pendingCiphertext)
            } catch {
                close(reason: "http2 error: \(error)")
                return
            }
            dispatchEvents()
            if isClosed { return }
            guard transport.isConnected else { return }
            let (result, sent) = transport.write(&session.output)
            countSent(sent)
            if sent > 0 { lastWriteProgress = context.loop.now }
            switch result {
            case .drained:
                rounds += 1
                if session.wantsWrite && secured && rounds < 8 { continue }
                if session.wantsWrite && secured { scheduleFlush() }
                lastWriteProgress = context.loop.now
                transport.setWantsWrite(false)
                transport.resumeReads(.outputBacklog)
                if closeWhenDrained { close(reason: "peer closed the connection") } else if !session.isAlive { close(reason: "session finished") }
                return
            case .blocked:
                // Stop reading until the peer drains what we owe it.
                transport.setWantsWrite(true)
                if pendingOutput >= Self.outputHighWater { transport.pauseReads(.outputBacklog) } else { transport.resumeReads(.outputBacklog) }
                return
            case .failed(let code):
                close(reason: SystemError("writev", code: code).description)
                return
            }
        }
    }

    /// Counts the peer acknowledging bytes the kernel holds as write progress: a slow reader
    /// drains the socket buffer long before the socket reports writable again (Linux waits
    /// for a third of the buffer), so the last `writev` alone would understate it.
    /// Returns true when the peer took bytes since the last call.
    @discardableResult
    final func noteKernelProgress(now: UInt64) -> Bool {
        guard let unacknowledged = Sockets.unacknowledgedBytes(fd) else { return false }
        defer { lastUnacknowledged = unacknowledged }
        guard lastUnacknowledged >= 0 && unacknowledged < lastUnacknowledged else { return false }
        lastWriteProgress = now
        return true
    }

    /// Bytes produced and not yet written (plaintext and ciphertext).
    final var pendingOutput: Int { session.output.pendingBytes + transport.pendingCiphertext }

    // MARK: Reading

    private func readAvailable() {
        let outcome = transport.readAvailable(
            into: context.readBuffer, plaintext: context.plaintextBuffer,
            countReceived: { countReceived($0) }, handshakeCompleted: { handshakeCompleted() },
            deliver: { received($0) })
        switch outcome {
        case .idle(let flush):
            if flush { scheduleFlush() }
        case .stopped:
            break
        case .endOfStream:
            if !isClosed { peerFinishedSending() }
        case .failed(let reason):
            close(reason: reason)
        case .refused(let error):
            refuse(error)
        }
    }

    /// Sends whatever alert TLS produced, then closes.
    private func refuse(_ error: TLSError) {
        handshakeFailed(error)
        transport.flushAlert()
        close(reason: "tls handshake: \(error)")
    }

    /// Starts a client handshake (upstream, once the TCP connect completed).
    final func startHandshake() {
        if let error = transport.startHandshake() {
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
            _ = transport.write(&session.output)
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
        session.events = context.takeSpareEventArray()
        handle(batch)
        batch.removeAll(keepingCapacity: true)
        context.returnSpareEventArray(batch)
    }

    // MARK: Output and lifecycle

    /// Asks for one flush at the end of this loop pass.
    final func scheduleFlush() {
        guard !flushScheduled && !isClosed else { return }
        flushScheduled = true
        context.loop.scheduleFlush(self)
    }

    /// Frees buffers kept for reuse; called by the worker for connections with no stream.
    final func trimIdleMemory() {
        session.output.releaseSpare()
        transport.trimIdleMemory()
    }

    /// Closes the socket and tells the subclass. Idempotent.
    func close(reason: String) {
        guard !isClosed else { return }
        transport.close()
        didClose(reason: reason)
    }
}
