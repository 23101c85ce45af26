#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayLoop

/// One HTTP/1.1 admin request: read the request head, answer, close.
///
/// The admin port serves operators and scrapers, not traffic: one request per connection
/// keeps this simple and is what curl and Prometheus handle fine.
final class AdminConnection: LoopHandler {
    private unowned let state: AdminState
    private var fd: Int32
    private var request: [UInt8] = []
    private var output = OutputQueue()
    private var answered = false
    /// Largest request head accepted.
    static let maxRequest = 8192

    init(state: AdminState, fd: Int32) {
        self.state = state
        self.fd = fd
    }

    func loopEvent(readable: Bool, writable: Bool, hangup: Bool) {
        if hangup {
            // The peer is gone; epoll would keep reporting it while we wait for workers.
            close()
            return
        }
        if writable { flush() }
        if readable && fd >= 0 {
            if answered {
                // One request per connection: ignore anything more (and stop being woken
                // for it) until the response is out.
                state.loop.modify(fd, interest: output.isEmpty ? [] : .write)
            } else {
                read()
            }
        }
    }

    func loopFlush() {}

    private func read() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let result = buffer.withUnsafeMutableBytes { Syscall.read(fd, into: $0) }
        switch result {
        case .bytes(0), .failed:
            close()
        case .bytes(let n):
            request.append(contentsOf: buffer[0..<n])
            if let end = headEnd() {
                parse(head: Array(request[0..<end]))
            } else if request.count > Self.maxRequest {
                send(AdminResponse(status: 431, contentType: "text/plain", body: "request head too large\n"))
            }
        case .wouldBlock:
            break
        }
    }

    private func headEnd() -> Int? {
        guard request.count >= 4 else { return nil }
        for i in 0...(request.count - 4) where request[i] == 13 && request[i + 1] == 10 && request[i + 2] == 13 && request[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func parse(head: [UInt8]) {
        answered = true
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

    private func send(_ response: AdminResponse, contentLength: Int? = nil) {
        answered = true
        guard fd >= 0 else { return }
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
        guard fd >= 0 else { return }
        switch OutputWriter.flush(&output, to: fd) {
        case .drained:
            if answered { close() }
        case .blocked:
            state.loop.modify(fd, interest: .write)
        case .failed:
            close()
        }
    }

    private func close() {
        guard fd >= 0 else { return }
        state.loop.deregister(fd)
        Syscall.close(fd)
        fd = -1
    }
}
