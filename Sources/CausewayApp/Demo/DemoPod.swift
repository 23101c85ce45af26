import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CausewayLoop

/// The demo's pod: an application that knows nothing of the mesh. It looks a name up with
/// a plain DNS question (answered by the sidecar's DNS with the Service's virtual IP) and
/// sends an ordinary HTTP/1.1 request, `Host` being the name it called.
///
/// On loopback there is no pod namespace to capture: the demo connects to the sidecar's
/// listener itself where `causeway capture --apply` would have redirected the connection to
/// the virtual IP (the network-namespace tests and `deploy/` do it for real).
enum DemoPod {
    /// What the HTTP/1.1 client got.
    struct Response {
        var statusLine = ""
        var headers: [(String, String)] = []
        var body = ""
        var error: String?

        func header(_ name: String) -> String? { headers.first { $0.0 == name }?.1 }
    }

    /// Asks the DNS server at 127.0.0.1:`port` for `name`'s A record over UDP; the first
    /// address, or nil.
    static func resolve(_ name: String, dnsPort port: UInt16) -> String? {
        var query: [UInt8] = [0x4b, 0x1d, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            query.append(UInt8(label.utf8.count))
            query += Array(label.utf8)
        }
        query += [0, 0, 1, 0, 1]
        guard let address = SocketAddress(ip: "127.0.0.1", port: port) else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let sent = address.withSockAddr { sockaddr, length in query.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sockaddr, length) } }
        guard sent == query.count else { return nil }
        var reply = [UInt8](repeating: 0, count: 512)
        let n = reply.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        // One question echoed, then the answer: its RDATA (4 bytes) ends the message.
        guard n >= query.count + 16, reply[0] == query[0], reply[1] == query[1], reply[3] & 0x0f == 0, reply[7] >= 1 else { return nil }
        return reply[(n - 4)..<n].map(String.init).joined(separator: ".")
    }

    /// `GET path` over HTTP/1.1 to 127.0.0.1:`port` with `Host: host`; reads until the
    /// server closes (the request says `connection: close`).
    static func get(port: UInt16, host: String, path: String) -> Response {
        var response = Response()
        guard let address = SocketAddress(ip: "127.0.0.1", port: port) else { response.error = "bad address"; return response }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard address.withSockAddr({ connect(fd, $0, $1) }) == 0 else { response.error = "cannot connect"; return response }
        let request = Array("GET \(path) HTTP/1.1\r\nhost: \(host)\r\nuser-agent: demo-pod\r\nconnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            response.error = "send failed"
            return response
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while received.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            received += buffer[0..<n]
        }
        let text = String(decoding: received, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            response.error = received.isEmpty ? "no response" : "incomplete response"
            return response
        }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        response.statusLine = lines.first ?? ""
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            response.headers.append((line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        response.body = String(text[split.upperBound...])
        return response
    }
}
