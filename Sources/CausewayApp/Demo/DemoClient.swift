#if canImport(Glibc)
import Glibc
#endif
import CausewayBytes
import CausewayHTTP
import CausewayLoop

/// A blocking h2c client for the demo's sample requests: one connection, one request at a
/// time, with a deadline.
final class DemoClient {
    struct Response {
        var status: Int?
        var headers: HeaderBlock?
        var body: [UInt8] = []
        var error: String?
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    private let fd: Int32
    private let session = H2Session(role: .client, settings: H2Settings())

    init(host: String, port: UInt16) throws(StartupError) {
        guard let address = SocketAddress(ip: host, port: port) else { throw StartupError("bad address \(host)") }
        fd = socket(address.family, Int32(SOCK_STREAM.rawValue), 0)
        let rc = address.withSockAddr { connect(fd, $0, $1) }
        if rc != 0 {
            close(fd)
            throw StartupError("cannot connect to \(address)")
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends a GET for `authority` + `path` and waits up to `seconds` for the whole response.
    func get(authority: String, path: String, seconds: Double = 5) -> Response {
        var response = Response()
        let id = session.submitRequest(HeaderBlock([(":method", "GET"), (":scheme", "http"), (":authority", authority), (":path", path)]), body: nil)
        guard id > 0 else { response.error = "request refused locally"; return response }
        let deadline = Self.now() + UInt64(seconds * 1e9)
        var buffer = [UInt8](repeating: 0, count: 65536)
        var done = false
        while !done && Self.now() < deadline {
            if let error = flush() { response.error = error; return response }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { response.error = "connection closed"; return response }
            if n < 0 { continue }
            do {
                try buffer.withUnsafeBytes { try session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            } catch {
                response.error = "\(error)"
                return response
            }
            for event in session.events {
                switch event {
                case .headers(id, let block, let end):
                    if let status = block.status, status >= 200 { response.status = status; response.headers = block }
                    if end { done = true }
                case .data(id, let bytes):
                    response.body += bytes
                    session.consume(streamID: id, count: bytes.count)
                case .endStream(id):
                    done = true
                case .streamClosed(id, let code):
                    if code != 0 { response.error = "stream reset (error \(code))" }
                    done = true
                default:
                    break
                }
            }
            session.events.removeAll()
        }
        if !done && response.error == nil { response.error = "timed out" }
        return response
    }

    private func flush() -> String? {
        do { try session.produceOutput(limit: 1 << 20) } catch { return "\(error)" }
        session.events.removeAll { if case .bodySent = $0 { return true } else { return false } }
        while !session.output.isEmpty {
            let sent = session.output.withSegments(maxSegments: 64) { segments -> Int in
                guard let first = segments.first else { return 0 }
                return send(fd, first.0, first.1, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return "send failed" }
            session.output.consume(sent)
        }
        return nil
    }

    static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
