import CausewayBytes
import CausewayLoop
import CausewayProxy

/// One question asked of the upstream resolver over TCP (RFC 7766): connect, send the
/// length-prefixed query, read one length-prefixed answer, close. The forwarder's timeout
/// covers all of it.
///
/// Loop-bound.
final class DNSUpstreamExchange: LoopHandler {
    /// Where the exchange is.
    enum Phase {
        /// The TCP connect has not completed.
        case connecting
        /// The query is written; reading the answer.
        case awaitingAnswer
        /// Answered, failed or abandoned.
        case closed
    }

    private unowned let forwarder: DNSForwarder
    private let id: UInt16
    private let transport: Transport
    private let context: LoopContext
    private var phase = Phase.connecting
    private var output = OutputQueue()
    /// The answer so far, length prefix included (at most 2 + 65,535 bytes).
    private var input: [UInt8] = []

    /// Starts connecting to `upstream`; `query` (our id in it) is sent once connected.
    init(forwarder: DNSForwarder, id: UInt16, upstream: SocketAddress, query: [UInt8], context: LoopContext) throws(SystemError) {
        self.forwarder = forwarder
        self.id = id
        self.context = context
        let fd = try Sockets.connect(to: upstream)
        transport = Transport(loop: context.loop, fd: fd, tls: nil, connecting: true)
        var frame = [UInt8(query.count >> 8), UInt8(truncatingIfNeeded: query.count)]
        frame += query
        frame.withUnsafeBytes { output.append($0) }
        do {
            try transport.register(self)
        } catch {
            transport.close()
            throw error
        }
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if case .connecting = phase {
            guard writable || hangup else { return }
            guard transport.finishConnect() == 0 else { return failed() }
            phase = .awaitingAnswer
        }
        guard case .awaitingAnswer = phase else { return }
        if !output.isEmpty {
            switch transport.write(&output).0 {
            case .drained: transport.setWantsWrite(false)
            case .blocked: transport.setWantsWrite(true)
            case .failed: return failed()
            }
        }
        guard readable || hangup else { return }
        let outcome = transport.readAvailable(
            into: context.readBuffer, plaintext: context.plaintextBuffer, countReceived: { _ in },
            handshakeCompleted: { true }, deliver: { received($0) })
        switch outcome {
        case .idle, .stopped: break
        case .endOfStream, .failed, .refused: if case .awaitingAnswer = phase { failed() }
        }
    }

    func loopFlush() {}

    /// Collects the answer; returns false once it is complete.
    private func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard case .awaitingAnswer = phase else { return false }
        input.append(contentsOf: bytes)
        guard input.count >= 2 else { return true }
        let length = Int(input[0]) << 8 | Int(input[1])
        guard input.count >= 2 + length else { return true }
        phase = .closed
        let answer = input
        answer.withUnsafeBytes { raw in
            forwarder.exchangeAnswered(id, self, reply: UnsafeRawBufferPointer(rebasing: raw[2..<(2 + length)]))
        }
        close()
        return false
    }

    private func failed() {
        phase = .closed
        forwarder.exchangeFailed(id, self)
        close()
    }

    /// Closes the connection. Idempotent.
    func close() {
        phase = .closed
        transport.close()
    }
}
