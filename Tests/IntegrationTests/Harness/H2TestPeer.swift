import Foundation
import Glibc
import CausewayBytes
import CausewayHTTP

/// A blocking HTTP/2 peer over a real socket, built on our nghttp2 session, for the cases
/// stock tools cannot produce on demand: a client that sends RST_STREAM mid-response, and
/// a server that resets a stream after starting its response.
final class H2TestPeer {
    let fd: Int32
    let session: H2Session
    /// Everything seen so far.
    var events: [String] = []
    var receivedBody: [Int32: Int] = [:]
    var statuses: [Int32: Int] = [:]
    var closed: [Int32: UInt32] = [:]
    var requests: [Int32: HeaderBlock] = [:]
    /// Streams whose peer half has ended (END_STREAM seen).
    var ended = Set<Int32>()

    init(fd: Int32, role: H2Role, window: UInt32 = 65535) {
        self.fd = fd
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        session = H2Session(role: role, settings: H2Settings(maxConcurrentStreams: 100, initialStreamWindow: window, connectionWindow: window))
    }

    deinit { close(fd) }

    /// Connects to 127.0.0.1:`port` as a client.
    static func connect(port: UInt16, window: UInt32 = 65535) throws -> H2TestPeer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw HarnessError("connect to \(port) failed") }
        return H2TestPeer(fd: fd, role: .client, window: window)
    }

    /// False after `shutdownWrite()`: what the session produces is dropped.
    private(set) var canWrite = true

    /// Half-closes the connection (SHUT_WR), as a client that has sent everything may.
    func shutdownWrite() {
        canWrite = false
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Writes whatever the session has to send.
    func flush() throws {
        try session.produceOutput(limit: 1 << 24)
        if !canWrite {
            session.output.consume(session.output.pendingBytes)
            return
        }
        while !session.output.isEmpty {
            var bytes: [UInt8] = []
            session.output.withSegments(maxSegments: 1024) { segs in
                for s in segs { bytes += UnsafeRawBufferPointer(start: s.0, count: s.1) }
            }
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw HarnessError("send failed") }
            session.output.consume(n)
        }
    }

    /// Reads for up to `seconds`, recording events, until `until` holds. Consumes received
    /// DATA (returns window) only when `consume` is true.
    @discardableResult
    func pump(seconds: Double, consume: Bool = true, until: () -> Bool = { false }) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buf = [UInt8](repeating: 0, count: 65536)
        while Date() < deadline {
            try flush()
            if until() { return true }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return until() }
            if n < 0 { continue }
            try buf.withUnsafeBytes { try session.receive(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            for e in session.events {
                switch e {
                case .headers(let id, let block, let end):
                    if let s = block.status { statuses[id] = s } else if requests[id] == nil { requests[id] = block }
                    if end { ended.insert(id) }
                    events.append("headers \(id)")
                case .data(let id, let bytes):
                    receivedBody[id, default: 0] += bytes.count
                    if consume { session.consume(streamID: id, count: bytes.count) }
                case .streamClosed(let id, let code):
                    closed[id] = code
                    events.append("closed \(id) \(code)")
                case .endStream(let id):
                    ended.insert(id)
                    events.append("end \(id)")
                default:
                    break
                }
            }
            session.events.removeAll()
        }
        return until()
    }
}

/// A loopback HTTP/2 server whose behaviour is a script run on a thread of its own, for
/// upstream misbehaviour stock servers cannot produce on demand.
final class ScriptedUpstream: @unchecked Sendable {
    let port: UInt16
    private let listenFD: Int32
    private let thread: Thread

    /// Listens on a free loopback port and runs `script` with a function that accepts the
    /// next connection as a server-side `H2TestPeer` (nil once the listener is closed).
    init(_ script: @escaping @Sendable (_ accept: () -> H2TestPeer?) -> Void) throws {
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listenFD = listenFD
        var one: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listenFD, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &len) } }
        port = UInt16(bigEndian: addr.sin_port)
        guard Glibc.listen(listenFD, 16) == 0 else { throw HarnessError("listen failed") }
        thread = Thread {
            script {
                let fd = accept(listenFD, nil, nil)
                return fd >= 0 ? H2TestPeer(fd: fd, role: .server) : nil
            }
        }
        thread.start()
    }

    deinit { close(listenFD) }

    /// Answers `id` with 200 and `text`.
    private static func answer(_ peer: H2TestPeer, _ id: Int32, _ text: String) {
        let body = H2OutboundBody()
        Array(text.utf8).withUnsafeBytes { peer.session.send($0, on: body) }
        peer.session.finish(body)
        peer.session.submitResponse(streamID: id, HeaderBlock([(":status", "200")]), body: body)
    }

    /// Answers every request with headers and 1 KiB of body, then resets the stream with
    /// INTERNAL_ERROR.
    static func resetting() throws -> ScriptedUpstream {
        try ScriptedUpstream { accept in
            guard let peer = accept() else { return }
            var answered = Set<Int32>()
            _ = try? peer.pump(seconds: 10) {
                for (id, _) in peer.requests where !answered.contains(id) {
                    answered.insert(id)
                    let body = H2OutboundBody()
                    [UInt8](repeating: 0x61, count: 1024).withUnsafeBytes { peer.session.send($0, on: body) }
                    peer.session.submitResponse(streamID: id, HeaderBlock([(":status", "200")]), body: body)
                    try? peer.flush()
                    peer.session.reset(streamID: id, errorCode: H2ErrorCode.internalError)
                }
                return false
            }
        }
    }

    /// On the first connection: waits for `requests` requests, sends GOAWAY naming only the
    /// lowest as processed and answers it ("first"). The next connection answers everything
    /// ("second").
    static func goaway(after requests: Int) throws -> ScriptedUpstream {
        try ScriptedUpstream { accept in
            guard let peer = accept() else { return }
            _ = try? peer.pump(seconds: 10) { peer.requests.count >= requests }
            let lowest = peer.requests.keys.min() ?? 1
            peer.session.goaway(lastStreamID: lowest, errorCode: H2ErrorCode.noError)
            answer(peer, lowest, "first")
            try? peer.flush()
            guard let next = accept() else { return }
            var answered = Set<Int32>()
            _ = try? next.pump(seconds: 10) {
                for id in next.ended where !answered.contains(id) && next.requests[id] != nil {
                    answered.insert(id)
                    answer(next, id, "second")
                }
                return false
            }
            _ = try? peer.pump(seconds: 1)
        }
    }

    /// Accepts requests and never reads their bodies or answers: a stalled service.
    static func sink() throws -> ScriptedUpstream {
        try ScriptedUpstream { accept in
            guard let peer = accept() else { return }
            _ = try? peer.pump(seconds: 30, consume: false)
        }
    }
}
