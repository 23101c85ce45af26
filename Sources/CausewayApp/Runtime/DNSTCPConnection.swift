import CausewayBytes
import CausewayLoop
import CausewayProxy

/// A client's TCP connection to the DNS server (RFC 7766): length-prefixed queries in,
/// length-prefixed answers out, several in flight (answers may come back in any order;
/// the id pairs them).
///
/// Bounded: at most `maxInFlight` forwarded questions per connection and at most
/// `maxQueuedOutput` bytes of answers the client has not read; past either, the connection
/// stops reading until it drains. `DNSState` closes a connection once `isExpired`: idle for
/// `idleTimeoutNanos` since its last whole message or answer (bytes of an unfinished
/// message do not count), with a message begun that long ago and still unfinished, or with
/// answers the client has not read any of for that long, so a client trickling a byte now
/// and then, or never reading, cannot hold one of the server's few connections.
///
/// Loop-bound.
final class DNSTCPConnection: LoopHandler {
    /// Where the connection is.
    enum Lifecycle {
        case open
        /// The client finished sending; close once every answer is written.
        case finishing
        case closed
    }

    static let maxInFlight = 16
    static let maxQueuedOutput = 128 * 1024
    /// RFC 7766 §6.2.3 suggests seconds, not minutes.
    static let idleTimeoutNanos: UInt64 = 10_000_000_000

    private unowned let server: DNSState
    private let transport: Transport
    private var lifecycle = Lifecycle.open
    /// Bytes of an unfinished message (at most one length prefix + 65,535).
    private var input: [UInt8] = []
    private var output = OutputQueue()
    /// Forwarded questions of this connection not answered yet.
    private(set) var inFlight = 0
    /// Last time a whole message came in or an answer went out (monotonic ns). Bytes of an
    /// unfinished message do not count.
    private(set) var lastActivity: UInt64
    /// When the first byte of the unfinished message at the end of `input` came (monotonic
    /// ns), or when reading resumed after a pause if later (the client could not finish it
    /// while we did not read); nil when there is none (`input` empty, or a whole message
    /// waiting for room).
    private(set) var partialSince: UInt64?
    /// Reading is paused (too busy, or a whole message waits).
    private var readsPaused = false
    /// Last time answers began to wait in `output` or some of them were written (monotonic
    /// ns): a client that reads nothing for `idleTimeoutNanos` while answers wait is closed.
    private var lastWritten: UInt64 = 0

    init(server: DNSState, fd: Int32) {
        self.server = server
        transport = Transport(loop: server.loop, fd: fd, tls: nil, connecting: false)
        lastActivity = server.loop.now
    }

    func start() throws(SystemError) {
        try transport.register(self)
    }

    var isClosed: Bool { transport.isClosed }

    /// To be closed: a message begun more than `idleTimeoutNanos` ago is still unfinished
    /// (time while reading was paused, when the client could not finish it, not counted),
    /// answers have waited that long without the client reading any, or the connection is
    /// idle (nothing in flight, nothing to write, and no whole message
    /// or answer for `idleTimeoutNanos`, whatever bytes of an unfinished one came since).
    func isExpired(now: UInt64) -> Bool {
        if let partialSince, !readsPaused, now &- partialSince > Self.idleTimeoutNanos { return true }
        if !output.isEmpty, now &- lastWritten > Self.idleTimeoutNanos { return true }
        return inFlight == 0 && output.isEmpty && now &- lastActivity > Self.idleTimeoutNanos
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if writable { flush() }
        guard !transport.isClosed, readable || hangup else { return }
        let outcome = transport.readAvailable(
            into: server.context.readBuffer, plaintext: server.context.plaintextBuffer, countReceived: { _ in },
            handshakeCompleted: { true }, deliver: { received($0) })
        switch outcome {
        case .idle, .stopped:
            break
        case .endOfStream:
            lifecycle = .finishing
            closeIfDone()
        case .failed, .refused:
            close()
        }
    }

    func loopFlush() {}

    /// Keeps the bytes read and answers the complete messages among them; false stops
    /// reading (the connection is busy or closed: what was read waits in `input`).
    private func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard case .open = lifecycle else { return false }
        input.append(contentsOf: bytes)
        processBuffered()
        return !transport.isClosed && !isBusy
    }

    /// Too many forwarded questions in flight, or too many answers unread: take no more.
    private var isBusy: Bool {
        inFlight >= Self.maxInFlight || output.pendingBytes >= Self.maxQueuedOutput
    }

    /// True while `processBuffered` runs (an answer sent from inside it must not start it again).
    private var processing = false

    /// Hands each complete message in `input` to the server while the connection is not busy.
    private func processBuffered() {
        guard !processing else { return }
        processing = true
        var start = 0
        while !isBusy, !transport.isClosed, input.count - start >= 2 {
            let length = Int(input[start]) << 8 | Int(input[start + 1])
            guard input.count - start - 2 >= length else { break }
            let message = Array(input[(start + 2)..<(start + 2 + length)])
            start += 2 + length
            lastActivity = server.loop.now
            message.withUnsafeBytes { server.process($0, from: .tcp(self)) }
        }
        if start > 0 { input.removeFirst(start) }
        if input.isEmpty || hasBufferedMessage {
            partialSince = nil
        } else if partialSince == nil || start > 0 {
            // The unfinished message began with this read (or right after the one just taken).
            partialSince = server.loop.now
        }
        processing = false
        updateReading()
        closeIfDone()
    }

    /// True when `input` holds a whole message.
    private var hasBufferedMessage: Bool {
        input.count >= 2 && input.count - 2 >= Int(input[0]) << 8 | Int(input[1])
    }

    /// A question of this connection was forwarded (its answer comes later).
    func forwarded() {
        inFlight += 1
        updateReading()
    }

    /// Queues one answer, length-prefixed. `wasForwarded`: it answers a forwarded question.
    func send(_ message: [UInt8], wasForwarded: Bool) {
        if wasForwarded { inFlight -= 1 }
        guard !transport.isClosed else { return }
        if output.isEmpty { lastWritten = server.loop.now }
        let prefix = [UInt8(message.count >> 8), UInt8(truncatingIfNeeded: message.count)]
        prefix.withUnsafeBytes { output.append($0) }
        message.withUnsafeBytes { output.append($0) }
        lastActivity = server.loop.now
        // Room again: `flush` answers messages that waited in `input`.
        flush()
    }

    private func flush() {
        guard !transport.isClosed else { return }
        if !output.isEmpty {
            let (result, sent) = transport.write(&output)
            if sent > 0 { lastWritten = server.loop.now }
            switch result {
            case .drained: transport.setWantsWrite(false)
            case .blocked: transport.setWantsWrite(true)
            case .failed: return close()
            }
        }
        updateReading()
        closeIfDone()
        if hasBufferedMessage { processBuffered() }
    }

    /// Reads only while few questions are in flight, the client takes its answers, and no
    /// whole message waits in `input`.
    private func updateReading() {
        guard !transport.isClosed else { return }
        if isBusy || hasBufferedMessage {
            transport.pauseReads(.outputBacklog)
            readsPaused = true
        } else {
            transport.resumeReads(.outputBacklog)
            if readsPaused, partialSince != nil { partialSince = server.loop.now }
            readsPaused = false
        }
    }

    /// After the client finished sending: close once everything it asked is answered.
    private func closeIfDone() {
        if case .finishing = lifecycle, !processing, inFlight == 0, output.isEmpty, !hasBufferedMessage { close() }
    }

    /// Closes the socket. Idempotent.
    func close() {
        guard !transport.isClosed else { return }
        lifecycle = .closed
        transport.close()
        server.connectionClosed(self)
    }
}
