import CausewayBytes
import CausewayLoop
import CausewayTLS

/// Why a connection does not read. Reads resume only when the set is empty, so one
/// reason going away never re-enables reads another still needs stopped.
public struct ReadPause: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// The peer half-closed: nothing more will come, and level-triggered readiness for it
    /// would be reported on every loop pass.
    public static let peerFinished = ReadPause(rawValue: 1 << 0)
    /// We owe the peer more output than the high-water mark: take no new work from it
    /// until it reads.
    public static let outputBacklog = ReadPause(rawValue: 1 << 1)
    /// The TCP connect has not completed.
    public static let connecting = ReadPause(rawValue: 1 << 2)
    /// The protocol expects nothing more from the peer for now (the admin server's one
    /// request per connection has arrived).
    public static let nothingExpected = ReadPause(rawValue: 1 << 3)
    /// What this peer sent waits for the other side of the relay to take it, and the
    /// protocol has no window to close (HTTP/1.1: TCP is the backpressure).
    public static let relayBacklog = ReadPause(rawValue: 1 << 4)
}

/// transport: one socket on one loop, optionally with TLS over it (memory BIOs): reads,
/// decryption, the handshake, encryption into full records, gathering writes, and the
/// epoll interest derived from read-pause reasons and write demand. It knows no HTTP: the
/// codec driver (`H2Connection`) hands it plaintext to send and takes plaintext it reads.
///
/// Loop-bound; not thread-safe.
public final class Transport {
    /// Where the socket is in its life.
    public enum Phase: Equatable {
        /// Non-blocking connect in progress (upstream).
        case connecting
        /// TCP is up; the TLS handshake is in progress.
        case handshaking
        /// Plaintext may flow.
        case established
        /// The socket is closed.
        case closed
    }

    /// What a read pass ended with.
    public enum ReadOutcome {
        /// Nothing more to read now; `flush` when TLS owes the peer handshake bytes.
        case idle(flush: Bool)
        /// The owner's `deliver` returned false (it closed or stopped).
        case stopped
        /// The peer finished sending (EOF, after any plaintext it carried was delivered).
        case endOfStream
        /// TLS close_notify or a TLS error after the handshake; close with this reason.
        case failed(String)
        /// The handshake failed (or the peer refused ours): send the alert, then close.
        case refused(TLSError)
    }

    public let loop: EventLoop
    /// The socket; -1 once closed.
    public private(set) var fd: Int32
    /// TLS over the socket, or nil for plaintext.
    public let tls: TLSConnection?
    public private(set) var phase: Phase
    /// Ciphertext waiting for the socket (TLS only).
    private var wire = OutputQueue()
    private var pauses: ReadPause
    private var wantsWrite: Bool
    private var interest: Interest = []
    /// True once any application data was decrypted.
    private var receivedPlaintext = false

    /// - Parameter connecting: true for a socket whose non-blocking connect is in progress.
    public init(loop: EventLoop, fd: Int32, tls: TLSConnection?, connecting: Bool) {
        self.loop = loop
        self.fd = fd
        self.tls = tls
        phase = connecting ? .connecting : (tls == nil ? .established : .handshaking)
        pauses = connecting ? .connecting : []
        wantsWrite = connecting
    }

    public var isClosed: Bool { phase == .closed }
    /// True once plaintext may flow (TLS handshake done, or no TLS).
    public var isEstablished: Bool { phase == .established }
    /// True once the socket may be written (the connect completed).
    public var isConnected: Bool { phase == .handshaking || phase == .established }
    /// True once the peer finished sending.
    public var peerFinished: Bool { pauses.contains(.peerFinished) }
    /// Ciphertext not yet written.
    public var pendingCiphertext: Int { wire.pendingBytes }

    /// Starts watching the socket for `handler`.
    public func register(_ handler: LoopHandler) throws(SystemError) {
        interest = computedInterest
        try loop.register(fd, handler: handler, interest: interest)
    }

    public func pauseReads(_ reason: ReadPause) { pauses.insert(reason); updateInterest() }
    public func resumeReads(_ reason: ReadPause) { pauses.remove(reason); updateInterest() }

    /// Whether to be told when the socket becomes writable (only after a short write).
    public func setWantsWrite(_ wants: Bool) {
        wantsWrite = wants
        updateInterest()
    }

    private var computedInterest: Interest {
        var i: Interest = pauses.isEmpty ? .read : []
        if wantsWrite { i.insert(.write) }
        return i
    }

    private func updateInterest() {
        guard phase != .closed else { return }
        let new = computedInterest
        guard new != interest else { return }
        interest = new
        loop.modify(fd, interest: new)
    }

    // MARK: Connecting

    /// The connecting socket became writable: returns the connect's error (0 when
    /// connected) and, when connected, moves on to the handshake or to established.
    public func finishConnect() -> Int32 {
        let error = Sockets.pendingError(fd)
        guard error == 0 else { return error }
        phase = tls == nil ? .established : .handshaking
        wantsWrite = false
        pauses.remove(.connecting)
        updateInterest()
        return 0
    }

    /// Starts a client handshake; returns the error if it failed at once.
    public func startHandshake() -> TLSError? {
        guard let tls, phase == .handshaking else { return nil }
        if case .failed(let error) = tls.handshake() { return error }
        return nil
    }

    // MARK: Reading

    /// Reads what the socket has (a bounded number of reads, so one busy connection cannot
    /// starve the others), drives the TLS handshake, and hands every plaintext byte to
    /// `deliver` (false: stop). `handshakeCompleted` runs once, when TLS is established,
    /// and may refuse the peer by returning false.
    public func readAvailable(into buffer: UnsafeMutableRawBufferPointer, plaintext: UnsafeMutableRawBufferPointer,
                       countReceived: (Int) -> Void, handshakeCompleted: () -> Bool,
                       deliver: (UnsafeRawBufferPointer) -> Bool) -> ReadOutcome {
        var flush = false
        for _ in 0..<8 {
            switch Syscall.read(fd, into: buffer) {
            case .bytes(0):
                pauses.insert(.peerFinished)
                updateInterest()
                if let tls {
                    tls.receivedEndOfStream()
                    let outcome = decrypt(tls, plaintext: plaintext, handshakeCompleted: handshakeCompleted, deliver: deliver)
                    if case .idle = outcome {} else { return outcome }
                }
                return .endOfStream
            case .bytes(let n):
                countReceived(n)
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<n])
                if let tls {
                    tls.feed(bytes)
                    let outcome = decrypt(tls, plaintext: plaintext, handshakeCompleted: handshakeCompleted, deliver: deliver)
                    guard case .idle(let f) = outcome else { return outcome }
                    flush = flush || f
                } else if !deliver(bytes) {
                    return .stopped
                }
                if n < buffer.count { return .idle(flush: flush) }
            case .wouldBlock:
                return .idle(flush: flush)
            case .failed(let code):
                return .failed(SystemError("read", code: code).description)
            }
        }
        return .idle(flush: flush)
    }

    private func decrypt(_ tls: TLSConnection, plaintext: UnsafeMutableRawBufferPointer, handshakeCompleted: () -> Bool,
                         deliver: (UnsafeRawBufferPointer) -> Bool) -> ReadOutcome {
        var flush = false
        if phase == .handshaking {
            switch tls.handshake() {
            case .needsIO:
                return .idle(flush: true)
            case .failed(let error):
                return .refused(error)
            case .complete:
                phase = .established
                guard handshakeCompleted() else { return .failed("peer refused after the handshake") }
                flush = true
            }
        }
        while true {
            switch tls.readPlaintext(into: plaintext) {
            case .bytes(let n):
                receivedPlaintext = true
                if !deliver(UnsafeRawBufferPointer(rebasing: plaintext[0..<n])) { return .stopped }
            case .wantMore:
                // OpenSSL may owe the peer something even when no plaintext came out.
                return .idle(flush: flush || tls.pendingCiphertext > 0)
            case .closed:
                return .failed("peer sent close_notify")
            case .failed(let error):
                // In TLS 1.3 a server refusing our certificate does so after our handshake
                // completed: that is still a handshake failure.
                if !receivedPlaintext || error.reason == .peerRejectedCertificate { return .refused(error) }
                return .failed("tls: \(error)")
            }
        }
    }

    // MARK: Writing

    /// Writes `plain` to the socket: directly, or as TLS records once established.
    /// Returns the result and the number of bytes that reached the socket.
    public func write(_ plain: inout OutputQueue) -> (FlushResult, sent: Int) {
        if let tls {
            if phase == .established { _ = tls.writePlaintext(draining: &plain) }
            tls.takeCiphertext(into: &wire)
            let before = wire.pendingBytes
            let result = OutputWriter.flush(&wire, to: fd)
            return (result, before - wire.pendingBytes)
        }
        let before = plain.pendingBytes
        let result = OutputWriter.flush(&plain, to: fd)
        return (result, before - plain.pendingBytes)
    }

    /// Writes whatever TLS produced (an alert) without waiting; used just before closing.
    public func flushAlert() {
        guard let tls, phase != .closed else { return }
        tls.takeCiphertext(into: &wire)
        _ = OutputWriter.flush(&wire, to: fd)
    }

    /// Frees buffers kept for reuse.
    public func trimIdleMemory() {
        wire.releaseSpare()
        if wire.isEmpty { tls?.releaseIdleBuffers() }
    }

    /// Stops watching and closes the socket. Idempotent.
    public func close() {
        guard phase != .closed else { return }
        phase = .closed
        loop.deregister(fd)
        Syscall.close(fd)
        fd = -1
    }
}
