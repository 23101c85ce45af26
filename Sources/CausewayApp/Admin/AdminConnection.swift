#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayLoop
import CausewayProxy

/// One HTTP/1.1 admin request: read the request head, answer, close.
///
/// The admin port serves operators and scrapers, not traffic: one request per connection
/// keeps this simple and is what curl and Prometheus handle fine. The socket is a
/// `Transport` (as on worker connections); `AdminState` closes connections that have not
/// finished within `AdminState.requestTimeoutNanos`.
final class AdminConnection: LoopHandler {
    /// Where the exchange is.
    enum Phase {
        /// Reading the request head.
        case reading
        /// The head arrived; the answer is being prepared or written.
        case answering
    }

    private unowned let state: AdminState
    private let transport: Transport
    private var phase = Phase.reading
    private var request: [UInt8] = []
    private var output = OutputQueue()
    /// When it was accepted (monotonic ns).
    let openedAt: UInt64
    /// Largest request head accepted.
    static let maxRequest = 8192

    init(state: AdminState, fd: Int32) {
        self.state = state
        self.transport = Transport(loop: state.loop, fd: fd, tls: nil, connecting: false)
        self.openedAt = state.loop.now
    }

    func start() throws(SystemError) {
        try transport.register(self)
    }

    var isClosed: Bool { transport.isClosed }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if writable { flush() }
        guard !transport.isClosed, readable || hangup else { return }
        if hangup && transport.peerFinished {
            // The peer is gone; epoll would keep reporting it while we wait for workers.
            close()
            return
        }
        let outcome = transport.readAvailable(
            into: state.context.readBuffer, plaintext: state.context.plaintextBuffer, countReceived: { _ in },
            handshakeCompleted: { true }, deliver: { received($0) })
        switch outcome {
        case .idle, .stopped:
            break
        case .endOfStream:
            // A client may half-close after its request; before it, nothing will come.
            if phase == .reading { close() }
        case .failed, .refused:
            close()
        }
    }

    func loopFlush() {}

    /// Collects the head; returns false once it is complete (nothing more is read).
    private func received(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard phase == .reading else { return false }
        request.append(contentsOf: bytes)
        if let end = headEnd() {
            parse(head: Array(request[0..<end]))
        } else if request.count > Self.maxRequest {
            send(AdminResponse(status: 431, contentType: "text/plain", body: "request head too large\n"))
        }
        return phase == .reading
    }

    private func headEnd() -> Int? {
        guard request.count >= 4 else { return nil }
        for i in 0...(request.count - 4) where request[i] == 13 && request[i + 1] == 10 && request[i + 2] == 13 && request[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func parse(head: [UInt8]) {
        stopReading()
        let line = head.split(separator: 13, maxSplits: 1).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let parts = line.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else {
            send(AdminResponse(status: 400, contentType: "text/plain", body: "malformed request line\n"))
            return
        }
        guard parts[0] == "GET" || parts[0] == "HEAD" else {
            send(AdminResponse(status: 405, contentType: "text/plain", body: "admin endpoints accept GET only\n"))
            return
        }
        let isHead = parts[0] == "HEAD"
        state.handle(path: String(parts[1])) { [weak self] response in
            var r = response
            if isHead { r.body = "" }
            self?.send(r, contentLength: response.body.utf8.count)
        }
    }

    /// One request per connection: anything more is not read (and does not wake us).
    private func stopReading() {
        phase = .answering
        transport.pauseReads(.nothingExpected)
    }

    private func send(_ response: AdminResponse, contentLength: Int? = nil) {
        stopReading()
        guard !transport.isClosed else { return }
        let reasonText: String
        switch response.status {
        case 200: reasonText = "OK"
        case 400: reasonText = "Bad Request"
        case 404: reasonText = "Not Found"
        case 405: reasonText = "Method Not Allowed"
        case 431: reasonText = "Request Header Fields Too Large"
        default: reasonText = "Error"
        }
        var text = "HTTP/1.1 \(response.status) \(reasonText)\r\ncontent-type: \(response.contentType)\r\ncontent-length: \(contentLength ?? response.body.utf8.count)\r\nconnection: close\r\n\r\n\(response.body)"
        text.withUTF8 { output.append(UnsafeRawBufferPointer($0)) }
        flush()
    }

    private func flush() {
        guard !transport.isClosed, !output.isEmpty else { return }
        switch transport.write(&output).0 {
        case .drained:
            if phase == .answering { close() }
        case .blocked:
            transport.setWantsWrite(true)
        case .failed:
            close()
        }
    }

    /// Closes the socket. Idempotent.
    func close() {
        guard !transport.isClosed else { return }
        transport.close()
        state.connectionClosed(self)
    }
}
